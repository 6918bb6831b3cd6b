"""The trimmed views of tasks and pods the operator keeps: only what decisions read, so its
memory does not grow with managedFields and the like."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from containertask.api import GROUP, KIND
from containertask.api.spec import plain

TASK_FIELDS: Final = {
    "metadata": (
        "name",
        "namespace",
        "uid",
        "generation",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
    ),
}
POD_FIELDS: Final = {
    "metadata": (
        "name",
        "namespace",
        "uid",
        "labels",
        "ownerReferences",
        "finalizers",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ),
    "status": (
        "phase",
        "reason",
        "message",
        "conditions",
        "containerStatuses",
        "initContainerStatuses",
    ),
}


def slim(body: Mapping[str, Any], fields: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Plain copies of ``fields`` (part -> keys) of ``body``."""
    return {
        part: {k: plain(body[part][k]) for k in keys if k in (body.get(part) or {})}
        for part, keys in fields.items()
    }


def owner_uid(body: Mapping[str, Any]) -> str | None:
    """The uid of the ContainerTask controlling ``body``, if one does."""
    for ref in (body.get("metadata") or {}).get("ownerReferences") or ():
        if (
            ref.get("controller")
            and ref.get("kind") == KIND
            and ref.get("apiVersion", "").startswith(GROUP)
        ):
            return str(ref["uid"])
    return None
