"""The ContainerTask status: phase, attempts, outputs and conditions, as the operator writes them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    PENDING = "Pending"
    INITIALIZING = "Initializing"  # the downloader is writing the inputs
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED)


@dataclass(frozen=True)
class Attempt:
    """One pod run of the task (``number`` counts from 1). A ``disrupted`` attempt was ended by
    the cluster (eviction, preemption, deletion, a lost node), not by the task: it does not count
    against ``retries.limit``."""

    number: int
    pod: str
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    reason: str | None = None
    message: str | None = None
    disrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        keys = {"started_at": "startedAt", "finished_at": "finishedAt", "exit_code": "exitCode"}
        return {
            keys.get(k, k): v for k, v in asdict(self).items() if v is not None and v is not False
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Attempt:
        return cls(
            number=int(data["number"]),
            pod=str(data["pod"]),
            started_at=data.get("startedAt"),
            finished_at=data.get("finishedAt"),
            exit_code=data.get("exitCode"),
            reason=data.get("reason"),
            message=data.get("message"),
            disrupted=bool(data.get("disrupted")),
        )


@dataclass(frozen=True)
class TaskStatus:
    """What the SDK reads back: ``outputs`` holds the values small enough for the status;
    ``storedOutputs`` names those only in ``outputsUri`` (an outputs.pb LiteralMap)."""

    phase: Phase = Phase.PENDING
    reason: str | None = None
    message: str | None = None
    attempts: tuple[Attempt, ...] = ()
    outputs: Mapping[str, Any] | None = None
    stored_outputs: tuple[str, ...] = ()
    outputs_uri: str | None = None
    conditions: tuple[Mapping[str, Any], ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The resource's ``status``, camelCase, with unset optional fields left out."""
        out: dict[str, Any] = {"phase": str(self.phase)}
        optional = {
            "reason": self.reason,
            "message": self.message,
            "attempts": [a.to_dict() for a in self.attempts] or None,
            "outputs": dict(self.outputs) if self.outputs is not None else None,
            "storedOutputs": list(self.stored_outputs) or None,
            "outputsUri": self.outputs_uri,
            "conditions": [dict(c) for c in self.conditions] or None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> TaskStatus:
        data = data or {}
        return cls(
            phase=Phase(data.get("phase", Phase.PENDING)),
            reason=data.get("reason"),
            message=data.get("message"),
            attempts=tuple(Attempt.from_dict(a) for a in data.get("attempts") or ()),
            outputs=data.get("outputs"),
            stored_outputs=tuple(data.get("storedOutputs") or ()),
            outputs_uri=data.get("outputsUri"),
            conditions=tuple(data.get("conditions") or ()),
        )
