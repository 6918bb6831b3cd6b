"""Pods in the states the kubelet (or kwok) reports, for the controller's table tests."""

from __future__ import annotations

from typing import Any

from containertask.api import UploadResult

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:00:05Z"


def terminated(
    code: int = 0, reason: str | None = None, message: str | None = None, finished: str = T1
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "exitCode": code,
        "reason": reason or ("Completed" if code == 0 else "Error"),
        "startedAt": T0,
        "finishedAt": finished,
    }
    if message is not None:
        state["message"] = message
    return {"terminated": state}


def running() -> dict[str, Any]:
    return {"running": {"startedAt": T0}}


def waiting(reason: str, message: str | None = None) -> dict[str, Any]:
    return {"waiting": {"reason": reason, **({"message": message} if message else {})}}


def uploaded(finished: str = T1, **fields: Any) -> dict[str, Any]:
    """The uploader terminated with an UploadResult message."""
    return terminated(0, message=UploadResult(**fields).to_message(), finished=finished)


def pod(
    phase: str = "Pending",
    *,
    name: str = "area-1",
    main: dict[str, Any] | None = None,
    uploader: dict[str, Any] | None = None,
    downloader: dict[str, Any] | None = None,
    scheduled: tuple[str, str | None, str | None] | None = ("True", None, None),
    deleting: bool = False,
    reason: str | None = None,
    created: str = T0,
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if scheduled is not None:
        cond: dict[str, Any] = {"type": "PodScheduled", "status": scheduled[0]}
        if scheduled[1]:
            cond["reason"] = scheduled[1]
        if scheduled[2]:
            cond["message"] = scheduled[2]
        status["conditions"] = [cond]
    if main is not None:
        status["containerStatuses"] = [{"name": "main", "state": main}]
    inits = [
        {"name": n, "state": s}
        for n, s in (("uploader", uploader), ("downloader", downloader))
        if s is not None
    ]
    if inits:
        status["initContainerStatuses"] = inits
    if reason:
        status["reason"] = reason
    meta: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if deleting:
        meta["deletionTimestamp"] = T1
    return {"metadata": meta, "status": status}
