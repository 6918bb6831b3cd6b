"""metav1.Condition entries: set one, keeping lastTransitionTime unless its status changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from containertask.controller.clock import format_time

SUCCEEDED: Final = "Succeeded"
POD_SCHEDULED: Final = "PodScheduled"
POD_CREATED: Final = "PodCreated"
MAX_MESSAGE: Final = 1024

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Condition:
    type: str
    status: ConditionStatus
    reason: str
    message: str = ""


def clip(text: str | None, limit: int) -> str | None:
    """``text`` cut to ``limit`` characters, saying so; keeps the status small."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 14] + " [truncated]"


def set_condition(
    conditions: Sequence[Mapping[str, Any]], new: Condition, now: datetime, generation: int
) -> list[dict[str, Any]]:
    """``conditions`` with ``new`` in place of the entry of its type (appended if absent)."""
    old = next((c for c in conditions if c.get("type") == new.type), None)
    transition = (
        old["lastTransitionTime"]
        if old is not None and old.get("status") == new.status and old.get("lastTransitionTime")
        else format_time(now)
    )
    entry = {
        "type": new.type,
        "status": new.status,
        "observedGeneration": generation,
        "lastTransitionTime": transition,
        # metav1.Condition requires a CamelCase reason and a message (may be empty).
        "reason": new.reason,
        "message": clip(new.message, MAX_MESSAGE) or "",
    }
    out = [dict(c) for c in conditions if c.get("type") != new.type]
    index = next((i for i, c in enumerate(conditions) if c.get("type") == new.type), len(out))
    out.insert(index, entry)
    return out
