"""Pod -> the outcome of its attempt. Pure: reads the pod's status, never its phase alone.

A task's attempt succeeds only when the main container exited 0 *and* the uploader confirmed every
declared output in its termination message (an :class:`~containertask.api.UploadResult`). The
pod's own phase says little: a native sidecar's exit code does not change it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from containertask.api import UploadResult
from containertask.api.constants import DOWNLOADER_CONTAINER, MAIN_CONTAINER, UPLOADER_CONTAINER

# Waiting reasons that are a normal step, not a problem worth showing.
ROUTINE_WAITING: Final = frozenset({"ContainerCreating", "PodInitializing"})


class State(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"

    @property
    def is_final(self) -> bool:
        return self in (State.SUCCEEDED, State.FAILED)


@dataclass(frozen=True)
class Scheduled:
    """The pod's PodScheduled condition."""

    status: str
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Observation:
    state: State
    reason: str | None = None
    message: str | None = None
    exit_code: int | None = None
    finished_at: str | None = None
    retryable: bool = True
    result: UploadResult | None = None
    scheduled: Scheduled | None = None


def _status_of(statuses: Iterable[Mapping[str, Any]] | None, name: str) -> Mapping[str, Any]:
    return next((s for s in statuses or () if s.get("name") == name), {})


def _terminated(container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    state = container.get("state") or {}
    return state.get("terminated")


def _scheduled(status: Mapping[str, Any]) -> Scheduled | None:
    for c in status.get("conditions") or ():
        if c.get("type") == "PodScheduled":
            return Scheduled(str(c.get("status", "Unknown")), c.get("reason"), c.get("message"))
    return None


def _problem_waiting(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first container waiting for a reason that is not routine (ErrImagePull, ...)."""
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or ():
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") and waiting["reason"] not in ROUTINE_WAITING:
                return {**waiting, "container": container.get("name")}
    return None


def read_upload_result(terminated: Mapping[str, Any] | None) -> UploadResult | str:
    """The uploader's UploadResult, or why there is none."""
    if terminated is None:
        return "the uploader did not finish"
    message = (terminated.get("message") or "").strip()
    if not message:
        return f"the uploader reported no result (exit code {terminated.get('exitCode')})"
    try:
        return UploadResult.from_message(message)
    except (ValueError, KeyError, TypeError) as error:
        return f"the uploader's result is not valid: {error}"


def observe(pod: Mapping[str, Any], *, has_uploader: bool, outputs: Sequence[str]) -> Observation:
    """What the pod says about its attempt; ``outputs`` are the declared output names."""
    status = pod.get("status") or {}
    scheduled = _scheduled(status)
    main = _status_of(status.get("containerStatuses"), MAIN_CONTAINER)
    inits = status.get("initContainerStatuses")
    downloader = _terminated(_status_of(inits, DOWNLOADER_CONTAINER))
    pod_done = status.get("phase") in ("Succeeded", "Failed")

    if downloader is not None and downloader.get("exitCode", 0) != 0:
        return Observation(
            State.FAILED,
            "DownloadFailed",
            downloader.get("message")
            or f"the downloader exited with code {downloader.get('exitCode')}",
            finished_at=downloader.get("finishedAt"),
            scheduled=scheduled,
        )
    ended = _terminated(main)
    if ended is not None:
        uploaded = _terminated(_status_of(inits, UPLOADER_CONTAINER))
        if has_uploader and uploaded is None and not pod_done:
            return Observation(
                State.RUNNING,
                "Uploading",
                "the main container exited; waiting for the uploader",
                scheduled=scheduled,
            )
        return _finished(ended, uploaded, has_uploader, outputs, scheduled)
    if status.get("phase") == "Failed":
        return Observation(
            State.FAILED,
            status.get("reason") or "PodFailed",
            status.get("message"),
            scheduled=scheduled,
        )
    if status.get("phase") == "Succeeded":
        return Observation(
            State.FAILED,
            "MainContainerMissing",
            "the pod finished without a main container status",
            scheduled=scheduled,
        )
    waiting = _problem_waiting(status)
    if waiting is not None:
        return Observation(
            State.PENDING,
            waiting["reason"],
            f"{waiting['container']}: {waiting.get('message') or waiting['reason']}",
            scheduled=scheduled,
        )
    if "running" in (main.get("state") or {}):
        return Observation(State.RUNNING, "Running", None, scheduled=scheduled)
    if scheduled is not None and scheduled.status == "False":
        return Observation(
            State.PENDING,
            scheduled.reason or "Unschedulable",
            scheduled.message,
            scheduled=scheduled,
        )
    return Observation(State.PENDING, "Pending", None, scheduled=scheduled)


def _finished(
    main: Mapping[str, Any],
    uploaded: Mapping[str, Any] | None,
    has_uploader: bool,
    outputs: Sequence[str],
    scheduled: Scheduled | None,
) -> Observation:
    code = int(main.get("exitCode", 0))
    finished_at = (uploaded or {}).get("finishedAt") or main.get("finishedAt")
    result = read_upload_result(uploaded) if has_uploader else None

    def fail(reason: str, message: str, *, retryable: bool = True) -> Observation:
        return Observation(
            State.FAILED, reason, message, code, finished_at, retryable, scheduled=scheduled
        )

    if isinstance(result, UploadResult) and result.error_kind == "user":
        # The task's own _ERROR file: a user error, whatever the exit code; never retried.
        return fail("UserError", result.error or "the task reported an error", retryable=False)
    if code != 0:
        return fail(
            main.get("reason") or "Error",
            main.get("message") or f"the main container exited with code {code}",
        )
    if result is None:
        return Observation(
            State.SUCCEEDED, "Succeeded", None, code, finished_at, scheduled=scheduled
        )
    if isinstance(result, str):
        return fail("UploadFailed", result)
    if not result.ok:
        return fail("UploadFailed", result.error or "the uploader failed")
    # With outputsUri every declared output is in outputs.pb; without, each must be inline.
    missing = [] if result.outputs_uri else [n for n in outputs if n not in result.outputs]
    if missing:
        return fail("UploadFailed", f"the uploader did not confirm outputs: {', '.join(missing)}")
    return Observation(
        State.SUCCEEDED, "Succeeded", None, code, finished_at, result=result, scheduled=scheduled
    )
