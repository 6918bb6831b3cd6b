"""Pod -> the outcome of its attempt. Pure: reads the pod's status, never its phase alone.

A task's attempt succeeds only when the main container exited 0 *and* the uploader confirmed every
declared output in its termination message (an :class:`~containertask.api.UploadResult`). The
pod's own phase says little: a native sidecar's exit code does not change it.

A failed attempt is classified in this order:

1. disruption: the pod was evicted, preempted, deleted by someone else or lost with its node before
   its main container finished (``DisruptionTarget``, a deletion, reason ``Evicted``). Whatever the
   containers did after that is not the task's doing: a new attempt, not a spent retry;
2. the main container's exit: non-zero, OOMKilled, a signal. Its reason is the attempt's reason,
   retried; only the program's own ``_ERROR`` file (uploader error kind ``user``) after a plain
   non-zero exit is a user error;
3. the uploader's report: a missing or invalid output (kind ``output``) is a user error, which is
   only possible after exit 0; a failed upload (kind ``system``) is retried.
"""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from containertask.api import UploadResult
from containertask.api.constants import DOWNLOADER_CONTAINER, MAIN_CONTAINER, UPLOADER_CONTAINER
from containertask.controller.clock import parse_time
from containertask.controller.podwarnings import PodWarning

# Waiting reasons that are a normal step, not a problem worth showing.
ROUTINE_WAITING: Final = frozenset({"ContainerCreating", "PodInitializing"})
# Waiting reasons that no wait will cure: the attempt fails at once and is not retried.
HOPELESS_WAITING: Final = frozenset({"InvalidImageName"})
SIGNAL_NAMES: Final = {s.value: s.name for s in signal.Signals}
DISRUPTION_TARGET: Final = "DisruptionTarget"
# Pod status reasons the kubelet and node controller give a pod they stopped (node-pressure
# eviction, preemption by a critical pod, node shutdown, a lost node).
DISRUPTED_POD_REASONS: Final = frozenset(
    {"Evicted", "Preempting", "Terminated", "Shutdown", "NodeShutdown", "NodeLost"}
)


class State(StrEnum):
    PENDING = "Pending"
    INITIALIZING = "Initializing"
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
    disrupted: bool = False


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


def _condition(status: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    return next((c for c in status.get("conditions") or () if c.get("type") == kind), None)


def _disruption(pod: Mapping[str, Any], main: Mapping[str, Any]) -> Observation | None:
    """The attempt's end if the cluster, not the task, ended it: evicted, preempted, deleted by
    someone else (the operator records an attempt's end before it deletes a pod) or lost with its
    node. A main container that had already finished before that keeps its result."""
    meta = pod.get("metadata") or {}
    status = pod.get("status") or {}
    target = _condition(status, DISRUPTION_TARGET)
    if target is not None and target.get("status") != "True":
        target = None
    deleting = meta.get("deletionTimestamp")
    evicted = status.get("reason") in DISRUPTED_POD_REASONS
    if target is None and not deleting and not evicted:
        return None
    ended = _terminated(main)
    since = _disrupted_since(meta, target)
    finished = parse_time(ended.get("finishedAt")) if ended else None
    if finished is not None and since is not None and finished < since:
        return None  # it had finished: judge the result as usual
    name = meta.get("name", "the pod")
    if target is not None:
        reason = str(target.get("reason") or DISRUPTION_TARGET)
        message = target.get("message") or f"pod {name} was disrupted"
    elif evicted:
        reason = str(status["reason"])
        message = status.get("message") or f"pod {name} was stopped by its node"
    else:
        reason, message = "PodDeleted", f"pod {name} was deleted before it finished"
    return Observation(State.FAILED, reason, message, disrupted=True)


def _disrupted_since(meta: Mapping[str, Any], target: Mapping[str, Any] | None) -> datetime | None:
    """When the disruption began: the DisruptionTarget condition, or the deletion request
    (deletionTimestamp less the grace period it was given)."""
    moments = []
    if target is not None:
        moments.append(parse_time(target.get("lastTransitionTime")))
    deleting = parse_time(meta.get("deletionTimestamp"))
    if deleting is not None:
        grace = int(meta.get("deletionGracePeriodSeconds") or 0)
        moments.append(deleting - timedelta(seconds=grace))
    known = [m for m in moments if m is not None]
    return min(known) if known else None


def download_seconds(pod: Mapping[str, Any], now: datetime) -> float:
    """How long the downloader has run (so far): time the pending deadline does not count."""
    status = pod.get("status") or {}
    state = _status_of(status.get("initContainerStatuses"), DOWNLOADER_CONTAINER).get("state")
    timing = (state or {}).get("running") or (state or {}).get("terminated") or {}
    start = parse_time(timing.get("startedAt"))
    if start is None:
        return 0.0
    end = parse_time(timing.get("finishedAt")) or now
    return max((end - start).total_seconds(), 0.0)


def _problem_waiting(status: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The first container waiting for a reason that is not routine (ErrImagePull, ...)."""
    for key in ("initContainerStatuses", "containerStatuses"):
        for container in status.get(key) or ():
            waiting = (container.get("state") or {}).get("waiting") or {}
            if waiting.get("reason") and waiting["reason"] not in ROUTINE_WAITING:
                return {**waiting, "container": container.get("name")}
    return None


def _still_waiting(status: Mapping[str, Any], container: str | None) -> bool:
    """Whether ``container`` (None: the pod as a whole) has not started yet: a warning about
    one that has run since no longer explains anything."""
    statuses = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    if container is None:
        return not any("waiting" not in (s.get("state") or {"waiting": {}}) for s in statuses)
    state = _status_of(statuses, container).get("state") or {"waiting": {}}
    return "waiting" in state


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


def observe(
    pod: Mapping[str, Any],
    *,
    has_uploader: bool,
    outputs: Sequence[str],
    warning: PodWarning | None = None,
    memory_limit: str | None = None,
) -> Observation:
    """What the pod says about its attempt; ``outputs`` are the declared output names,
    ``warning`` the latest Warning event that explains why the pod has not started (its status
    says so only seconds later, or never) and ``memory_limit`` the main container's limit as the
    task's spec sets it (:attr:`TaskSpec.memory_limit`; the operator's pod views keep no spec)."""
    status = pod.get("status") or {}
    scheduled = _scheduled(status)
    main = _status_of(status.get("containerStatuses"), MAIN_CONTAINER)
    disrupted = _disruption(pod, main)
    if disrupted is not None:
        return replace(disrupted, scheduled=scheduled)
    inits = status.get("initContainerStatuses")
    downloading = _status_of(inits, DOWNLOADER_CONTAINER)
    downloader = _terminated(downloading)
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
        return _finished(ended, uploaded, has_uploader, outputs, scheduled, memory_limit)
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
        hopeless = waiting["reason"] in HOPELESS_WAITING
        return Observation(
            State.FAILED if hopeless else State.PENDING,
            waiting["reason"],
            f"{waiting['container']}: {waiting.get('message') or waiting['reason']}",
            retryable=not hopeless,
            scheduled=scheduled,
        )
    if "running" in (downloading.get("state") or {}):
        return Observation(
            State.INITIALIZING,
            "Initializing",
            "the downloader is writing the inputs",
            scheduled=scheduled,
        )
    if "running" in (main.get("state") or {}):
        return Observation(State.RUNNING, "Running", None, scheduled=scheduled)
    if warning is not None and _still_waiting(status, warning.container):
        where = f"{warning.container}: " if warning.container else ""
        return Observation(
            State.PENDING, warning.reason, where + warning.message, scheduled=scheduled
        )
    if scheduled is not None and scheduled.status == "False":
        return Observation(
            State.PENDING,
            scheduled.reason or "Unschedulable",
            scheduled.message,
            scheduled=scheduled,
        )
    if "terminated" in (downloading.get("state") or {}):
        # Between the download and the program: the uploader and main are being started (and
        # main's image pulled), which the pending deadline counts again.
        return Observation(
            State.PENDING,
            "Starting",
            "the inputs are in place; the containers are starting",
            scheduled=scheduled,
        )
    return Observation(State.PENDING, "Pending", None, scheduled=scheduled)


def _finished(
    main: Mapping[str, Any],
    uploaded: Mapping[str, Any] | None,
    has_uploader: bool,
    outputs: Sequence[str],
    scheduled: Scheduled | None,
    memory_limit: str | None,
) -> Observation:
    code = int(main.get("exitCode", 0))
    finished_at = (uploaded or {}).get("finishedAt") or main.get("finishedAt")
    result = read_upload_result(uploaded) if has_uploader else None

    def fail(reason: str, message: str, *, retryable: bool = True) -> Observation:
        return Observation(
            State.FAILED, reason, message, code, finished_at, retryable, scheduled=scheduled
        )

    if code != 0:
        reason = str(main.get("reason") or "Error")
        killed = reason == "OOMKilled" or code > 128
        if isinstance(result, UploadResult) and result.error_kind == "user" and not killed:
            # The program's own _ERROR file, then a plain exit: its verdict, never retried.
            return fail("UserError", result.error or "the task reported an error", retryable=False)
        # Whatever the uploader found (outputs missing, most likely) follows from this exit.
        return fail(reason, _exit_message(main, code, reason, memory_limit))
    if result is None:
        return Observation(
            State.SUCCEEDED, "Succeeded", None, code, finished_at, scheduled=scheduled
        )
    if isinstance(result, str):
        return fail("UploadFailed", result)
    if result.error_kind in ("user", "output"):
        return fail("UserError", result.error or "the task reported an error", retryable=False)
    if not result.ok:
        return fail("UploadFailed", result.error or "the uploader failed")
    # With outputsUri every declared output is in outputs.pb; without, each must be inline.
    missing = [] if result.outputs_uri else [n for n in outputs if n not in result.outputs]
    if missing:
        return fail("UploadFailed", f"the uploader did not confirm outputs: {', '.join(missing)}")
    return Observation(
        State.SUCCEEDED, "Succeeded", None, code, finished_at, result=result, scheduled=scheduled
    )


def _exit_message(main: Mapping[str, Any], code: int, reason: str, memory_limit: str | None) -> str:
    """The container's own message (its termination log, else its log's last lines), else what
    its exit says. A SIGKILL under a memory limit that is not reported as OOMKilled says first
    that it was most likely the OOM killer: containerd 1.6 sometimes reports a container the
    kernel killed at once as ``Error`` (its OOM event can come after the exit, containerd#8180),
    and the operator has nothing else to tell the two apart."""
    own = main.get("message")
    if code == 128 + signal.SIGKILL and reason != "OOMKilled" and memory_limit:
        hint = (
            f"{_exit_text(code, reason)}; under its memory limit of {memory_limit} most likely "
            "the kernel's OOM killer, which the container runtime does not always report as "
            "OOMKilled"
        )
        return f"{hint}\n{own}" if own else hint
    return own or _exit_text(code, reason)


def _exit_text(code: int, reason: str) -> str:
    """``the main container exited with code 137 (SIGKILL)``; OOMKilled says so."""
    if reason == "OOMKilled":
        return f"the main container was OOMKilled (exit code {code})"
    text = f"the main container exited with code {code}"
    name = SIGNAL_NAMES.get(code - 128)
    return f"{text} ({name})" if name else text
