"""Pods in the states the kubelet (or kwok) reports, for the controller's table tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from containertask.api import CopilotConfig, UploadResult
from containertask.copilot.upload import upload
from containertask.storage import Storage

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


def real_report(root: Path, outputs: dict[str, str], files: dict[str, str]) -> str:
    """The termination message the real uploader writes when the main container left ``files``
    (name -> text) in its output directory and ``outputs`` (name -> type) are declared."""
    out = root / "outputs"
    out.mkdir(parents=True)
    for name, text in files.items():
        (out / name).write_text(text)
    config = {
        "inputs": [],
        "outputs": [{"name": n, "type": t} for n, t in outputs.items()],
        "dataLoading": {"inputPath": str(root / "inputs"), "outputPath": str(out)},
        "outputPrefix": f"file://{root}/store/attempt-1",
    }
    return upload(CopilotConfig.from_json(json.dumps(config)), Storage()).to_message()


def pod(
    phase: str = "Pending",
    *,
    name: str = "area-1",
    main: dict[str, Any] | None = None,
    uploader: dict[str, Any] | None = None,
    downloader: dict[str, Any] | None = None,
    scheduled: tuple[str, str | None, str | None] | None = ("True", None, None),
    deleting: bool | str = False,
    grace: int = 0,
    reason: str | None = None,
    created: str = T0,
    conditions: list[dict[str, Any]] | None = None,
    finalizers: list[str] | None = None,
) -> dict[str, Any]:
    """A pod in ``phase``; ``deleting``: its deletionTimestamp (True: T1) with ``grace``;
    ``conditions``: more pod conditions (say DisruptionTarget)."""
    status: dict[str, Any] = {"phase": phase}
    if scheduled is not None:
        cond: dict[str, Any] = {"type": "PodScheduled", "status": scheduled[0]}
        if scheduled[1]:
            cond["reason"] = scheduled[1]
        if scheduled[2]:
            cond["message"] = scheduled[2]
        status["conditions"] = [cond]
    if conditions:
        status["conditions"] = [*status.get("conditions", []), *conditions]
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
        meta["deletionTimestamp"] = T1 if deleting is True else deleting
        meta["deletionGracePeriodSeconds"] = grace
    if finalizers is not None:
        meta["finalizers"] = finalizers
    return {"metadata": meta, "status": status}


def disruption(reason: str, at: str = T0, message: str = "") -> dict[str, Any]:
    """The DisruptionTarget condition the scheduler, taint manager or eviction API sets."""
    return {
        "type": "DisruptionTarget",
        "status": "True",
        "reason": reason,
        "message": message,
        "lastTransitionTime": at,
    }
