"""(task, its pods, now) -> what to do next. Pure: the whole reconcile policy, no API calls.

The order follows sample-controller's: read the task; find or create its pod; write status last.
One call of :func:`decide` handles one ContainerTask:

- a finished task (Succeeded, Failed, Cancelled) only makes sure none of its pods still runs;
- an invalid spec fails the task (reason InvalidSpec, the message names the field), with no pod;
- ``spec.cancel`` deletes the running pod with a short grace period and cancels the task;
- a cache hit (same cache key, Succeeded) succeeds the task at once, with no pod;
- otherwise the current attempt's pod is created, watched, and judged (:mod:`observe`); a failed
  attempt is retried after exponential backoff unless it was a user error or retries ran out;
  an attempt disrupted by the cluster (evicted, preempted, deleted, its node lost) is replaced at
  once without using a retry, up to the operator's disruption limit;
- an attempt fails when its pod waits for scheduling and image pulls past the pending deadline
  (downloading inputs does not count) or runs past ``timeoutSeconds`` (which counts everything);
  the task fails when it runs past ``activeDeadlineSeconds`` (across attempts and backoffs);
- a finished task with ``ttlSecondsAfterFinished`` is deleted that long after it finished.

Pods found but missing from the status (the operator stopped between creating a pod and writing
status) are taken into the status, so a restart never creates a second pod for an attempt. A pod
missing from the watch is read from the API before its attempt counts as deleted
(:attr:`Decision.confirm`). Each pod carries a tracking finalizer, released
(:attr:`Decision.release`) once its attempt's result is in the status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from containertask.api import Attempt, Phase, SpecError, TaskSpec, TaskStatus
from containertask.api.constants import TRACKING_FINALIZER
from containertask.api.contract import outside_prefix
from containertask.controller import conditions, naming, refusals
from containertask.controller.clock import format_time, parse_time
from containertask.controller.conditions import Condition, clip
from containertask.controller.observe import Observation, State, download_seconds, observe
from containertask.controller.pods import needs_uploader
from containertask.controller.podwarnings import PodWarning

ROUTINE_PENDING: Final = "Pending"  # observe's reason for a pod that is simply not running yet
# A just-created pod that is not running yet is not worth a status write of its own unless it
# stays so this long: usually it starts first, and one write says both.
ROUTINE_WRITE_DELAY: Final = 2.0
OUTPUTS_BUDGET: Final = 8 * 1024  # bytes of inline outputs in status; the rest go to storedOutputs
MAX_ATTEMPT_MESSAGE: Final = 512
MAX_STATUS_MESSAGE: Final = conditions.MAX_MESSAGE
# Reasons of a Pending task that deserve a Warning event (the pod will not start by itself).
PENDING_PROBLEMS: Final = frozenset(
    {
        "ErrImagePull",
        "ImagePullBackOff",
        "ErrImageNeverPull",
        "InvalidImageName",
        "FailedMount",
        "FailedAttachVolume",
        "FailedCreatePodSandBox",
        "CreateContainerConfigError",
        "CreateContainerError",
        "Unschedulable",
        refusals.QUOTA_EXCEEDED,
        refusals.CREATE_FAILED,
    }
)


@dataclass(frozen=True)
class Task:
    """One ContainerTask as observed: its spec (or why it is invalid) and its current status."""

    name: str
    namespace: str
    uid: str
    generation: int
    spec: TaskSpec | SpecError
    status: Mapping[str, Any]
    created: str | None = None  # metadata.creationTimestamp: where activeDeadlineSeconds starts


@dataclass(frozen=True)
class Policy:
    """Operator-wide defaults the spec may override."""

    pending_timeout_seconds: int = 300
    cancel_grace_seconds: int = 5
    # How long a just-created pod may be missing from the watch before it is looked up.
    visibility_grace_seconds: float = 30.0
    # Attempts the cluster may disrupt (evictions, preemptions, ...) before the task fails.
    disruption_limit: int = 5
    # Where outputs go when a task names no outputLocation (None: tasks must name one).
    output_location: str | None = None


@dataclass(frozen=True)
class CacheHit:
    """A Succeeded task with the same cache key, whose outputs a new task may reuse."""

    task: str
    status: TaskStatus


@dataclass(frozen=True)
class PodDeletion:
    name: str
    grace_seconds: int


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Decision:
    """What the reconciler does, in order: read the pod ``confirm`` from the API and decide again
    (it is missing from the watch); create the pod of ``create`` (an attempt number); write
    ``status`` (None: unchanged); delete ``delete``; take the tracking finalizer off the pods in
    ``release``; post ``events``; delete the task itself if ``delete_task``; and come back after
    ``requeue_after`` seconds (None: only when something changes). Nothing after the status
    happens unless it was written: a pod is let go only once its attempt's result is recorded."""

    status: dict[str, Any] | None = None
    create: int | None = None
    delete: tuple[PodDeletion, ...] = ()
    release: tuple[str, ...] = ()
    events: tuple[Event, ...] = ()
    requeue_after: float | None = None
    confirm: str | None = None
    delete_task: bool = False


@dataclass(frozen=True)
class _World:
    """What a decision reads besides the task: its pods by attempt, what a live read and Warning
    events added about them, the time and the policy."""

    pods: Mapping[int, Mapping[str, Any]]
    now: datetime
    policy: Policy
    cache_hit: CacheHit | None = None
    gone: frozenset[int] = frozenset()
    warnings: Mapping[int, PodWarning] = field(default_factory=dict)


@dataclass
class _Next:
    """The plan being built for one task."""

    status: TaskStatus
    create: int | None = None
    delete: list[PodDeletion] = field(default_factory=list)
    requeue: list[float] = field(default_factory=list)
    observation: Observation | None = None
    confirm: str | None = None
    # A pod creation the apiserver refused for now: the PodCreated condition says why.
    refusal: refusals.Refusal | None = None


def decide(
    task: Task,
    pods: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: Policy,
    cache_hit: CacheHit | None = None,
    gone: frozenset[int] = frozenset(),
    warnings: Mapping[int, PodWarning] | None = None,
) -> Decision:
    """The next step for ``task``; ``pods`` are the pods it controls, by attempt number; ``gone``
    the attempts whose pods a live read found deleted; ``warnings`` the latest Warning event
    that explains why a pod (by attempt) has not started."""
    old = TaskStatus.from_dict(task.status)
    world = _World(pods, now, policy, cache_hit, gone, warnings or {})
    return _conclude(task, old, _plan(task, old, world), pods, now)


def refused(
    task: Task,
    attempt: int,
    refusal: refusals.Refusal,
    pods: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: Policy,
) -> Decision:
    """The decision after the apiserver refused the pod of ``attempt`` (:mod:`refusals`): a
    final refusal fails the attempt and the task at once with the API's message; any other is
    shown (reason and PodCreated condition) and asked again by the caller with backoff, until
    the pending deadline fails the attempt."""
    old = TaskStatus.from_dict(task.status)
    assert isinstance(task.spec, TaskSpec)  # only a valid spec gets as far as creating a pod
    attempts = _with_found_pods(old.attempts, pods)
    pod = naming.pod_name(task.name, attempt)
    stamp = format_time(now)
    text = f"pod {pod} was refused: {refusal.message}"
    if refusal.final:
        failed = Attempt(
            attempt,
            pod,
            stamp,
            stamp,
            reason=refusal.reason,
            message=clip(refusal.message, MAX_ATTEMPT_MESSAGE),
        )
        plan = _Next(_finish(old, Phase.FAILED, refusal.reason, text, [*attempts, failed]))
        return _conclude(task, old, plan, pods, now)
    since = _refused_since(old, attempts, now)
    limit = task.spec.pending_timeout_seconds or policy.pending_timeout_seconds
    if (now - since).total_seconds() >= limit:
        failed = Attempt(
            attempt,
            pod,
            format_time(since),
            stamp,
            reason="PendingTimeout",
            message=clip(
                f"the pod could not be created for more than {limit}s: {refusal.reason}: "
                f"{refusal.message}",
                MAX_ATTEMPT_MESSAGE,
            ),
        )
        attempts.append(failed)
        # No pod was made for this pass: the next attempt starts from a later pass.
        plan = _retry_or_fail(task, task.spec, old, attempts, now, policy, start=False)
        plan.refusal = refusal
        return _conclude(task, old, plan, pods, now)
    waiting = replace(
        old,
        phase=Phase.PENDING,
        reason=refusal.reason,
        message=clip(text, MAX_STATUS_MESSAGE),
        attempts=tuple(attempts),
    )
    return _conclude(task, old, _Next(waiting, refusal=refusal), pods, now)


def _refused_since(old: TaskStatus, attempts: Sequence[Attempt], now: datetime) -> datetime:
    """Since when the current attempt's pod has been refused: the PodCreated=False condition,
    unless an earlier attempt ended after it turned False."""
    entry = next((c for c in old.conditions if c.get("type") == conditions.POD_CREATED), None)
    since = now
    if entry is not None and entry.get("status") == "False":
        since = parse_time(entry.get("lastTransitionTime")) or now
    ended = parse_time(attempts[-1].finished_at) if attempts else None
    return max(since, ended) if ended is not None else since


def _conclude(
    task: Task,
    old: TaskStatus,
    plan: _Next,
    pods: Mapping[int, Mapping[str, Any]],
    now: datetime,
) -> Decision:
    # A finished task's status is final; only its leftover pods (and its TTL) are acted on.
    new = (
        plan.status if old.phase.is_terminal else _with_conditions(plan, old, task.generation, now)
    )
    status = new.to_dict()
    hold = _routine_wait(old, new, now)
    if hold is not None and plan.create is None:
        plan.requeue.append(hold)  # when creating, the new pod's first event comes back sooner
    changed = hold is None and _without_routine(status) != _without_routine(task.status)
    requeue = None if new.phase.is_terminal or not plan.requeue else max(min(plan.requeue), 0.0)
    expired = False
    spec = task.spec
    if new.phase.is_terminal and isinstance(spec, TaskSpec):
        left = _ttl_left(spec, new, now)
        # Deleted only once the finished status is stored (a write would be lost with the task).
        expired = left is not None and left <= 0 and old.phase.is_terminal
        requeue = None if left is None or expired else max(left, 0.0)
    return Decision(
        status=status if changed else None,
        create=plan.create,
        delete=tuple(plan.delete),
        release=_releasable(new, pods),
        events=tuple(transition_events(old, new)) if changed else (),
        requeue_after=requeue,
        confirm=plan.confirm,
        delete_task=expired,
    )


def _ttl_left(spec: TaskSpec, status: TaskStatus, now: datetime) -> float | None:
    """Seconds until a finished task is deleted (None: kept)."""
    if spec.ttl_seconds_after_finished is None:
        return None
    done = next((c for c in status.conditions if c.get("type") == conditions.SUCCEEDED), None)
    finished = parse_time((done or {}).get("lastTransitionTime")) or now
    return spec.ttl_seconds_after_finished - (now - finished).total_seconds()


def _releasable(status: TaskStatus, pods: Mapping[int, Mapping[str, Any]]) -> tuple[str, ...]:
    """Pods still holding the tracking finalizer whose attempt's result is in ``status``."""
    finished = {a.number for a in status.attempts if a.finished_at}
    return tuple(
        pod["metadata"]["name"]
        for number, pod in sorted(pods.items())
        if TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ())
        and (status.phase.is_terminal or number in finished)
    )


def _routine_wait(old: TaskStatus, new: TaskStatus, now: datetime) -> float | None:
    """Seconds to hold back a status whose only news is a pod just created and not running yet
    (None: write it now)."""
    if new.phase is not Phase.PENDING or new.reason != "PodCreated" or not new.attempts:
        return None
    if old.phase is not Phase.PENDING or tuple(new.attempts[:-1]) != tuple(old.attempts):
        return None  # an earlier attempt just ended, or the task was elsewhere: say so now
    started = parse_time(new.attempts[-1].started_at) or now
    wait = ROUTINE_WRITE_DELAY - (now - started).total_seconds()
    return wait if wait > 0 else None


def _without_routine(status: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` without a PodScheduled=True condition: being scheduled is routine progress,
    written with the next change (Running) rather than costing a write of its own."""
    conditions_ = [
        c
        for c in status.get("conditions") or ()
        if (c.get("type"), c.get("status")) != (conditions.POD_SCHEDULED, "True")
    ]
    return {**status, "conditions": conditions_}


def _alive(pods: Mapping[int, Mapping[str, Any]], grace: int) -> list[PodDeletion]:
    """Deletions for the pods still running and not yet being deleted."""
    return [
        PodDeletion(pod["metadata"]["name"], grace)
        for _, pod in sorted(pods.items())
        if not (pod.get("metadata") or {}).get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
        and not _all_exited(pod)
    ]


def _all_exited(pod: Mapping[str, Any]) -> bool:
    """Every container has terminated: the kubelet posts the pod's final phase a moment (~1-2 s)
    later. Such a pod runs nothing; deleting it would only take its logs away."""
    status = pod.get("status") or {}
    containers = [
        *(status.get("initContainerStatuses") or ()),
        *(status.get("containerStatuses") or ()),
    ]
    return bool(containers) and all("terminated" in (c.get("state") or {}) for c in containers)


def _finish(
    status: TaskStatus, phase: Phase, reason: str, message: str, attempts: Sequence[Attempt]
) -> TaskStatus:
    return replace(
        status,
        phase=phase,
        reason=reason,
        message=clip(message, MAX_STATUS_MESSAGE),
        attempts=tuple(attempts),
    )


def _plan(task: Task, old: TaskStatus, world: _World) -> _Next:
    pods, now, policy = world.pods, world.now, world.policy
    if old.phase.is_terminal:
        # Nothing more to decide; only make sure no pod of a cancelled or timed-out task runs on.
        return _Next(old, delete=_alive(pods, policy.cancel_grace_seconds))
    spec = task.spec
    if not isinstance(spec, SpecError) and not old.attempts and not pods:
        spec = _runnable(spec, policy)  # a pod already made has what it needs
    if isinstance(spec, SpecError):
        # Bad user input: no pod and no retry (it would fail the same way).
        return _Next(_finish(old, Phase.FAILED, "InvalidSpec", str(spec), old.attempts))
    attempts = _with_found_pods(old.attempts, pods)
    if spec.cancel:
        return _cancel(old, attempts, pods, now, policy)
    left = _active_left(task, spec, attempts, now)
    if left is not None and left <= 0:
        return _expire(spec, old, attempts, pods, now, policy)
    plan = _progress(task, spec, old, attempts, world)
    if left is not None and not plan.status.phase.is_terminal:
        plan.requeue.append(left)
    return plan


def _runnable(spec: TaskSpec, policy: Policy) -> TaskSpec | SpecError:
    """``spec``, or why the operator cannot run it (what the schema cannot know)."""
    if spec.outputs and not (spec.output_location or policy.output_location):
        return SpecError(
            "spec.outputLocation",
            "is required: outputs are declared and the operator has no default output "
            "location (--output-location)",
        )
    return spec


def _active_left(
    task: Task, spec: TaskSpec, attempts: Sequence[Attempt], now: datetime
) -> float | None:
    """Seconds left of ``activeDeadlineSeconds``, counted from the task's creation."""
    if spec.active_deadline_seconds is None:
        return None
    first = attempts[0].started_at if attempts else None
    created = parse_time(task.created) or parse_time(first) or now
    return spec.active_deadline_seconds - (now - created).total_seconds()


def _expire(
    spec: TaskSpec,
    old: TaskStatus,
    attempts: list[Attempt],
    pods: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: Policy,
) -> _Next:
    """The whole-task deadline passed: stop the current attempt, fail the task, no retry."""
    why = f"the task ran longer than activeDeadlineSeconds={spec.active_deadline_seconds}"
    if attempts and attempts[-1].finished_at is None:
        attempts[-1] = replace(
            attempts[-1], finished_at=format_time(now), reason="DeadlineExceeded", message=why
        )
    status = _finish(old, Phase.FAILED, "DeadlineExceeded", why, attempts)
    return _Next(status, delete=_alive(pods, policy.cancel_grace_seconds))


def _progress(
    task: Task, spec: TaskSpec, old: TaskStatus, attempts: list[Attempt], world: _World
) -> _Next:
    cache_hit = world.cache_hit
    if not attempts and spec.cache_version and cache_hit is not None:
        hit = cache_hit.status
        cached = replace(
            old,
            outputs=hit.outputs,
            stored_outputs=hit.stored_outputs,
            outputs_uri=hit.outputs_uri,
        )
        return _Next(
            _finish(cached, Phase.SUCCEEDED, "Cached", f"outputs of {cache_hit.task}", attempts)
        )
    if not attempts:
        return _start(task, old, attempts, 1, world.now, world.policy)
    current = attempts[-1]
    if current.finished_at is None:
        return _judge(task, spec, old, attempts, world)
    # The last attempt failed and may be retried: wait out its backoff.
    return _retry_or_fail(task, spec, old, attempts, world.now, world.policy)


def _with_found_pods(
    attempts: Sequence[Attempt], pods: Mapping[int, Mapping[str, Any]]
) -> list[Attempt]:
    """The status's attempts plus any later attempt whose pod exists but was never recorded."""
    out = list(attempts)
    last = out[-1].number if out else 0
    for number, pod in sorted(pods.items()):
        if number > last:
            meta = pod.get("metadata") or {}
            out.append(Attempt(number, meta["name"], started_at=meta.get("creationTimestamp")))
            last = number
    return out


def _cancel(
    old: TaskStatus,
    attempts: list[Attempt],
    pods: Mapping[int, Mapping[str, Any]],
    now: datetime,
    policy: Policy,
) -> _Next:
    if attempts and attempts[-1].finished_at is None:
        attempts[-1] = replace(
            attempts[-1], finished_at=format_time(now), reason="Cancelled", message="cancelled"
        )
    status = _finish(old, Phase.CANCELLED, "Cancelled", "cancelled by spec.cancel", attempts)
    return _Next(status, delete=_alive(pods, policy.cancel_grace_seconds))


def _start(
    task: Task,
    old: TaskStatus,
    attempts: list[Attempt],
    number: int,
    now: datetime,
    policy: Policy,
) -> _Next:
    pod = naming.pod_name(task.name, number)
    attempts.append(Attempt(number, pod, started_at=format_time(now)))
    return _Next(_created(old, attempts), create=number, requeue=[policy.visibility_grace_seconds])


def _created(old: TaskStatus, attempts: Sequence[Attempt]) -> TaskStatus:
    """Pending: the current attempt's pod exists and has not started."""
    current = attempts[-1]
    return replace(
        old,
        phase=Phase.PENDING,
        reason="PodCreated",
        message=f"created pod {current.pod} for attempt {current.number}",
        attempts=tuple(attempts),
    )


def _judge(
    task: Task, spec: TaskSpec, old: TaskStatus, attempts: list[Attempt], world: _World
) -> _Next:
    """The current attempt is unfinished: read its pod, apply the deadlines, and decide."""
    pods, now, policy = world.pods, world.now, world.policy
    current = attempts[-1]
    started = parse_time(current.started_at) or now
    elapsed = (now - started).total_seconds()
    pod = pods.get(current.number)
    deletions: list[PodDeletion] = []
    requeue: list[float] = []
    if pod is None:
        if elapsed < policy.visibility_grace_seconds:
            # Just created: the watch has not shown it yet. Look again soon.
            return _Next(
                replace(old, attempts=tuple(attempts)),
                requeue=[policy.visibility_grace_seconds - elapsed],
            )
        if current.number not in world.gone:
            # Missing from the watch is not yet gone: the reconciler reads it first.
            return _Next(replace(old, attempts=tuple(attempts)), confirm=current.pod)
        seen = Observation(
            State.FAILED,
            "PodDeleted",
            f"pod {current.pod} was deleted before it finished",
            disrupted=True,
        )
        pending = elapsed
    else:
        seen = observe(
            pod,
            has_uploader=needs_uploader(spec),
            outputs=[o.name for o in spec.outputs],
            warning=world.warnings.get(current.number),
            memory_limit=spec.memory_limit,
        )
        seen = _confined(seen, task, spec, current.number, policy)
        pending = elapsed - download_seconds(pod, now)
        if seen.state.is_final and seen.exit_code is None and not seen.disrupted:
            # A pod that can never start (InvalidImageName): stop it. One that ran stays, logs
            # and all, for whoever wants to know why it failed.
            deletions = _alive({current.number: pod}, policy.cancel_grace_seconds)
    pending_limit = spec.pending_timeout_seconds or policy.pending_timeout_seconds
    detail = f": {seen.reason}: {seen.message}" if seen.message else ""
    deadlines = (
        (
            seen.state is State.PENDING,
            pending,
            pending_limit,
            "PendingTimeout",
            f"the pod waited for scheduling and images for more than {pending_limit}s{detail}",
        ),
        (
            spec.timeout_seconds is not None,
            elapsed,
            spec.timeout_seconds or 0,
            "Timeout",
            f"the attempt ran longer than timeoutSeconds={spec.timeout_seconds}",
        ),
    )
    for applies, spent, limit, expired, why in deadlines:
        if not applies or seen.state.is_final:
            continue
        if spent < limit:
            requeue.append(limit - spent)
            continue
        seen = replace(seen, state=State.FAILED, reason=expired, message=why)
        deletions = _alive(pods, policy.cancel_grace_seconds)
    if not seen.state.is_final:
        if seen.reason == ROUTINE_PENDING:
            return _Next(_created(old, attempts), requeue=requeue, observation=seen)
        phase = {State.RUNNING: Phase.RUNNING, State.INITIALIZING: Phase.INITIALIZING}.get(
            seen.state, Phase.PENDING
        )
        message = clip(seen.message, MAX_STATUS_MESSAGE)
        status = replace(
            old, phase=phase, reason=seen.reason, message=message, attempts=tuple(attempts)
        )
        return _Next(status, requeue=requeue, observation=seen)
    attempts[-1] = replace(
        current,
        finished_at=seen.finished_at or format_time(now),
        exit_code=seen.exit_code,
        reason=seen.reason,
        message=clip(seen.message, MAX_ATTEMPT_MESSAGE),
        disrupted=seen.disrupted,
    )
    if seen.state is State.SUCCEEDED:
        result = seen.result
        outputs, stored = fit_outputs(
            dict(result.outputs) if result else {}, [o.name for o in spec.outputs]
        )
        done = replace(
            old,
            outputs=outputs,
            stored_outputs=stored,
            outputs_uri=result.outputs_uri if result else None,
        )
        status = _finish(
            done, Phase.SUCCEEDED, "Succeeded", f"attempt {current.number} succeeded", attempts
        )
        return _Next(status, delete=deletions, observation=seen)
    if not seen.retryable:
        status = _finish(
            old, Phase.FAILED, seen.reason or "Failed", _failure_message(attempts[-1]), attempts
        )
        return _Next(status, delete=deletions, observation=seen)
    step = _retry_or_fail(task, spec, old, attempts, now, policy)
    step.delete.extend(deletions)
    step.observation = seen
    return step


def _confined(
    seen: Observation, task: Task, spec: TaskSpec, attempt: int, policy: Policy
) -> Observation:
    """``seen``, failed (not retried) when the uploader's result names objects outside the
    attempt's own prefix: those are never published."""
    if seen.result is None:
        return seen
    location = spec.output_location or policy.output_location
    prefix = naming.output_prefix(location, task.namespace, task.name, task.uid, attempt)
    problem = outside_prefix(seen.result, prefix, spec.output_types)
    if problem is None:
        return seen
    return replace(
        seen, state=State.FAILED, reason="OutputsOutsidePrefix", message=problem, retryable=False
    )


def _retry_or_fail(
    task: Task,
    spec: TaskSpec,
    old: TaskStatus,
    attempts: list[Attempt],
    now: datetime,
    policy: Policy,
    *,
    start: bool = True,
) -> _Next:
    """The last attempt failed (retryably): start the next after its backoff (when ``start``;
    else only say when), or give up. A
    disrupted attempt is replaced at once and counts against the operator's disruption limit,
    not against ``retries.limit``."""
    last = attempts[-1]
    disruptions = sum(1 for a in attempts if a.disrupted)
    failures = len(attempts) - disruptions
    if last.disrupted and disruptions > policy.disruption_limit:
        message = (
            f"{_failure_message(last)}; disrupted {disruptions} times, more than the operator's "
            f"limit of {policy.disruption_limit}"
        )
        return _Next(_finish(old, Phase.FAILED, last.reason or "Disrupted", message, attempts))
    if not last.disrupted and failures > spec.retries.limit:
        status = _finish(
            old, Phase.FAILED, last.reason or "Failed", _failure_message(last), attempts
        )
        return _Next(status)
    finished = parse_time(last.finished_at) or now
    delay = 0.0 if last.disrupted else spec.retries.backoff.delay(failures)
    due = finished + timedelta(seconds=delay)
    if now >= due and start:
        return _start(task, old, attempts, last.number + 1, now, policy)
    status = replace(
        old,
        phase=Phase.PENDING,
        reason="RetryBackoff",
        message=clip(
            f"attempt {last.number} failed ({last.reason}); attempt {last.number + 1} starts at "
            f"{format_time(due)}",
            MAX_STATUS_MESSAGE,
        ),
        attempts=tuple(attempts),
    )
    return _Next(status, requeue=[max((due - now).total_seconds(), 0.0)])


def _failure_message(attempt: Attempt) -> str:
    text = f"attempt {attempt.number} failed"
    if attempt.exit_code:
        text += f" with exit code {attempt.exit_code}"
    return f"{text}: {attempt.message}" if attempt.message else text


def fit_outputs(
    outputs: dict[str, Any], declared: Sequence[str], budget: int = OUTPUTS_BUDGET
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """Inline outputs within ``budget`` bytes of JSON, the largest left out first, and the
    declared outputs that are only in outputs.pb; the status stays small however many there are."""
    inline = {k: v for k, v in outputs.items() if k in declared}
    while inline and len(json.dumps(inline, separators=(",", ":")).encode()) > budget:
        largest = max(inline, key=lambda k: len(json.dumps(inline[k])))
        del inline[largest]
    return inline, tuple(name for name in declared if name not in inline)


def _with_conditions(plan: _Next, old: TaskStatus, generation: int, now: datetime) -> TaskStatus:
    status = plan.status
    phase = status.phase
    if phase is Phase.SUCCEEDED:
        done = Condition(
            conditions.SUCCEEDED, "True", status.reason or "Succeeded", status.message or ""
        )
    elif phase.is_terminal:
        done = Condition(
            conditions.SUCCEEDED, "False", status.reason or str(phase), status.message or ""
        )
    else:
        done = Condition(
            conditions.SUCCEEDED, "Unknown", status.reason or str(phase), status.message or ""
        )
    entries = conditions.set_condition(old.conditions, done, now, generation)
    entries = _pod_created(entries, plan, now, generation)
    scheduled = plan.observation.scheduled if plan.observation else None
    if scheduled is not None:
        entries = conditions.set_condition(
            entries,
            Condition(
                conditions.POD_SCHEDULED,
                _condition_status(scheduled.status),
                scheduled.reason or ("Scheduled" if scheduled.status == "True" else "Pending"),
                scheduled.message or "",
            ),
            now,
            generation,
        )
    return replace(status, conditions=tuple(entries))


def _pod_created(
    entries: list[dict[str, Any]], plan: _Next, now: datetime, generation: int
) -> list[dict[str, Any]]:
    """PodCreated=False while the apiserver refuses the pod; True again once a pod is seen.
    Absent when no pod was ever refused: it costs no write on the way every task goes."""
    if plan.refusal is not None:
        refused = Condition(
            conditions.POD_CREATED, "False", plan.refusal.reason, plan.refusal.message
        )
        return conditions.set_condition(entries, refused, now, generation)
    shown = next((c for c in entries if c.get("type") == conditions.POD_CREATED), None)
    if shown is not None and shown.get("status") == "False" and plan.observation is not None:
        created = Condition(conditions.POD_CREATED, "True", "Created", "")
        return conditions.set_condition(entries, created, now, generation)
    return entries


def _condition_status(text: str) -> conditions.ConditionStatus:
    if text == "True":
        return "True"
    return "False" if text == "False" else "Unknown"


def transition_events(old: TaskStatus, new: TaskStatus) -> list[Event]:
    """Events for what changed between two statuses, so an unchanged status posts nothing."""
    events: list[Event] = []
    before = {a.number: a for a in old.attempts}
    for attempt in new.attempts:
        previous = before.get(attempt.number)
        if previous is None:
            events.append(
                Event(
                    "Normal",
                    "PodCreated",
                    f"created pod {attempt.pod} for attempt {attempt.number}",
                )
            )
        newly_finished = attempt.finished_at and (previous is None or not previous.finished_at)
        if newly_finished and attempt.reason not in ("Succeeded", "Cancelled"):
            events.append(
                Event(
                    "Warning",
                    "AttemptDisrupted" if attempt.disrupted else "AttemptFailed",
                    f"attempt {attempt.number} ({attempt.pod}): {attempt.reason}: {attempt.message}",
                )
            )
    if (new.phase, new.reason) == (old.phase, old.reason):
        return events
    message = new.message or ""
    if new.phase is Phase.SUCCEEDED:
        events.append(Event("Normal", new.reason or "Succeeded", message))
    elif new.phase is Phase.CANCELLED:
        events.append(Event("Normal", "Cancelled", message))
    elif new.phase is Phase.FAILED:
        events.append(Event("Warning", new.reason or "Failed", message))
    elif new.reason in PENDING_PROBLEMS:
        events.append(Event("Warning", new.reason or "Pending", message))
    elif new.reason == "RetryBackoff":
        events.append(Event("Normal", "RetryBackoff", message))
    return events
