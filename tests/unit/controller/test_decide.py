"""(task, pods, now) -> decision: each situation and the exact actions taken."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from podstates import pod, running, terminated, uploaded, waiting

from containertask.api import SpecError, TaskSpec, TaskStatus
from containertask.controller.clock import format_time
from containertask.controller.decide import (
    CacheHit,
    Decision,
    Event,
    PodDeletion,
    Policy,
    Task,
    decide,
    fit_outputs,
    rejected,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = Policy(
    pending_timeout_seconds=300,
    cancel_grace_seconds=5,
    visibility_grace_seconds=30,
    output_location="s3://b/o",
)
PREFIX = "s3://b/o/ns/area/uid-1/attempt-1/"  # the output prefix of attempt 1
SPEC: dict[str, Any] = {
    "image": "shell:1",
    "outputs": [{"name": "area", "type": "float"}],
    "retries": {"limit": 2, "backoff": {"initialSeconds": 5, "factor": 2, "maxSeconds": 300}},
}
OK = uploaded(ok=True, outputs={"area": 12.5}, outputs_uri=f"{PREFIX}outputs.pb")


def task(status: dict[str, Any] | None = None, **changes: Any) -> Task:
    try:
        spec: TaskSpec | SpecError = TaskSpec.from_dict({**SPEC, **changes})
    except SpecError as error:
        spec = error
    return Task("area", "ns", "uid-1", 1, spec, status or {})


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def step(
    t: Task, pods: dict[int, dict[str, Any]], seconds: float, **kw: Any
) -> tuple[Task, Decision]:
    """Decide, then apply the status write, as the reconciler would."""
    d = decide(t, pods, at(seconds), POLICY, **kw)
    if d.status is not None:
        t = Task(t.name, t.namespace, t.uid, t.generation, t.spec, d.status)
    return t, d


def started(**changes: Any) -> Task:
    """A task whose attempt 1 pod was created at T0 and seen Pending 2.5s later."""
    t, _ = step(task(**changes), {}, 0)
    t, _ = step(t, {1: pod(main=waiting("ContainerCreating"))}, 2.5)
    return t


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_new_task_creates_attempt_one() -> None:
    d = decide(task(), {}, T0, POLICY)
    assert d.create == 1
    assert d.delete == ()
    # A pod just created is not worth a write of its own: its first event brings us back.
    assert (d.status, d.events, d.requeue_after) == (None, (), 30)


def test_pending_pod_is_written_once_it_has_waited() -> None:
    t = task()
    creating = pod(main=waiting("ContainerCreating"))
    early = decide(t, {1: creating}, at(0.5), POLICY)
    assert (early.create, early.status, early.events, early.requeue_after) == (None, None, (), 1.5)
    d = decide(t, {1: creating}, at(2), POLICY)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Pending", "PodCreated")
    assert d.status["attempts"] == [
        {"number": 1, "pod": "area-1", "startedAt": "2026-01-01T00:00:00Z"}
    ]
    assert condition(d.status, "Succeeded")["status"] == "Unknown"
    assert d.events == (Event("Normal", "PodCreated", "created pod area-1 for attempt 1"),)


def test_a_pod_that_starts_at_once_costs_one_write() -> None:
    t, first = step(task(), {}, 0)
    t, d = step(t, {1: pod("Running", main=running())}, 0.5)
    assert first.status is None
    assert d.status is not None
    assert (d.status["phase"], d.status["attempts"][0]["pod"]) == ("Running", "area-1")
    assert [e.reason for e in d.events] == ["PodCreated"]


def test_unchanged_task_writes_nothing_and_posts_nothing() -> None:
    t = started()
    body = pod("Running", main=running(), uploader=running())
    t, first = step(t, {1: body}, 2)
    again = decide(t, {1: body}, at(3), POLICY)
    assert first.status is not None
    assert (again.status, again.create, again.delete, again.events) == (None, None, (), ())


def test_pod_not_yet_seen_waits_without_creating_again() -> None:
    d = decide(started(), {}, at(10), POLICY)
    assert (d.create, d.status) == (None, None)
    assert d.requeue_after == 20


def test_pod_deleted_by_someone_fails_the_attempt_and_retries() -> None:
    _, d = step(started(), {}, 31)
    assert d.status is not None
    assert d.status["attempts"][0]["reason"] == "PodDeleted"
    assert d.status["reason"] == "RetryBackoff"


def test_restart_adopts_a_pod_missing_from_status() -> None:
    """The operator stopped after creating the pod but before writing status."""
    d = decide(task(), {1: pod(main=waiting("ContainerCreating"))}, at(5), POLICY)
    assert d.create is None
    assert d.status is not None
    assert [a["pod"] for a in d.status["attempts"]] == ["area-1"]


@pytest.mark.parametrize(
    ("body", "phase", "reason", "warning"),
    [
        (pod(main=waiting("ContainerCreating")), "Pending", "PodCreated", False),
        (pod(main=waiting("ErrImagePull", "not found")), "Pending", "ErrImagePull", True),
        (pod(main=waiting("ImagePullBackOff")), "Pending", "ImagePullBackOff", True),
        (
            pod(main=waiting("CreateContainerConfigError")),
            "Pending",
            "CreateContainerConfigError",
            True,
        ),
        (pod(scheduled=("False", "Unschedulable", "0/1 nodes")), "Pending", "Unschedulable", True),
        (pod("Running", main=running(), uploader=running()), "Running", "Running", False),
        (pod("Running", main=terminated(0), uploader=running()), "Running", "Uploading", False),
    ],
    ids=[
        "creating",
        "err-image-pull",
        "backoff",
        "config-error",
        "unschedulable",
        "running",
        "uploading",
    ],
)
def test_unfinished_attempt_shows_its_state(
    body: dict[str, Any], phase: str, reason: str, warning: bool
) -> None:
    t, d = step(started(), {1: body}, 2)
    assert (t.status["phase"], t.status["reason"]) == (phase, reason)
    assert condition(t.status, "Succeeded")["reason"] == reason
    assert [e.reason for e in d.events if e.type == "Warning"] == ([reason] if warning else [])
    assert d.create is None and d.delete == ()


def test_routine_progress_costs_no_status_write() -> None:
    """Scheduled but not yet running: nothing a user needs; it goes out with the next change."""
    t = started()
    assert decide(t, {1: pod(main=waiting("ContainerCreating"))}, at(1), POLICY).status is None
    t, d = step(t, {1: pod("Running", main=running())}, 2)
    assert d.status is not None
    assert condition(d.status, "PodScheduled")["status"] == "True"


def test_pod_scheduled_condition_follows_the_pod() -> None:
    _, d = step(started(), {1: pod(scheduled=("False", "Unschedulable", "0/1 nodes"))}, 2)
    assert d.status is not None
    scheduled = condition(d.status, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"], scheduled["message"]) == (
        "False",
        "Unschedulable",
        "0/1 nodes",
    )


def test_success_publishes_outputs() -> None:
    _, d = step(started(), {1: pod("Succeeded", main=terminated(0), uploader=OK)}, 3)
    assert d.status is not None
    assert d.status["phase"] == "Succeeded"
    assert d.status["outputs"] == {"area": 12.5}
    assert d.status["outputsUri"] == f"{PREFIX}outputs.pb"
    assert d.status["attempts"][0]["exitCode"] == 0
    assert condition(d.status, "Succeeded")["status"] == "True"
    assert Event("Normal", "Succeeded", "attempt 1 succeeded") in d.events
    assert d.requeue_after is None


@pytest.mark.parametrize(
    ("spec", "result"),
    [
        ({}, {"outputs_uri": "s3://b/o/other-ns/t/uid-9/attempt-1/outputs.pb"}),
        ({}, {"outputs_uri": "s3://b/o/ns/area/uid-1/attempt-2/outputs.pb"}),
        ({}, {"outputs_uri": f"{PREFIX}../../../../other-ns/t/outputs.pb"}),
        ({}, {"outputs_uri": "s3://b/o/ns/area/uid-1/attempt-1-evil/outputs.pb"}),
        (
            {"outputs": [{"name": "report", "type": "file"}]},
            {"outputs": {"report": "s3://b/o/other-ns/t/uid-9/attempt-1/report"}},
        ),
        (
            {"outputs": [{"name": "parts", "type": "dict[str, list[file]]"}]},
            {"outputs": {"parts": {"a": [f"{PREFIX}ok", "s3://elsewhere/x"]}}},
        ),
        ({"outputLocation": "s3://mine/"}, {"outputs_uri": f"{PREFIX}outputs.pb"}),
    ],
    ids=[
        "other-namespace",
        "other-attempt",
        "dot-dot",
        "sibling-prefix",
        "inline-file",
        "nested-inline-file",
        "spec-location-wins",
    ],
)
def test_outputs_outside_the_attempts_prefix_are_never_published(
    spec: dict[str, Any], result: dict[str, Any]
) -> None:
    upload = uploaded(ok=True, **{"outputs": {"area": 1.0}, **result})
    _, d = step(started(**spec), {1: pod("Succeeded", main=terminated(0), uploader=upload)}, 3)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "OutputsOutsidePrefix")
    assert "outside the attempt's prefix" in d.status["message"]
    assert "outputs" not in d.status and "outputsUri" not in d.status
    assert d.create is None  # not retried


def test_blob_outputs_under_the_attempts_prefix_are_published() -> None:
    upload = uploaded(
        ok=True, outputs={"report": f"{PREFIX}report"}, outputs_uri=f"{PREFIX}outputs.pb"
    )
    t = started(outputs=[{"name": "report", "type": "file"}])
    _, d = step(t, {1: pod("Succeeded", main=terminated(0), uploader=upload)}, 3)
    assert d.status is not None and d.status["phase"] == "Succeeded"
    assert d.status["outputs"] == {"report": f"{PREFIX}report"}


def test_failed_attempt_outputs_are_never_published() -> None:
    failed = uploaded(ok=True, outputs={"area": 1.0})
    _, d = step(started(), {1: pod("Failed", main=terminated(2), uploader=failed)}, 3)
    assert d.status is not None
    assert "outputs" not in d.status


def test_non_zero_exit_retries_with_backoff_then_fails() -> None:
    t = started()
    now = 0.0
    reasons = []
    for attempt in (1, 2, 3):
        now += 2  # each attempt fails 2s after its pod was created
        end = format_time(at(now))
        main = terminated(3, message="bad luck", finished=end)
        body = pod("Failed", name=f"area-{attempt}", main=main, uploader=uploaded(end, ok=True))
        t, d = step(t, {attempt: body}, now)
        reasons.append(t.status["reason"])
        if attempt == 3:
            break
        backoff = 5 * 2 ** (attempt - 1)
        assert d.requeue_after == backoff
        assert decide(t, {attempt: body}, at(now + backoff - 1), POLICY).create is None
        now += backoff
        t, d = step(t, {attempt: body}, now)
        assert d.create == attempt + 1
    assert reasons == ["RetryBackoff", "RetryBackoff", "Error"]
    assert t.status["phase"] == "Failed"
    assert [a["exitCode"] for a in t.status["attempts"]] == [3, 3, 3]
    assert t.status["message"] == "attempt 3 failed with exit code 3: bad luck"
    assert condition(t.status, "Succeeded")["status"] == "False"


@pytest.mark.parametrize(
    ("retry", "delay"),
    [(1, 5), (2, 10), (3, 20), (10, 300)],
    ids=["first", "second", "third", "capped"],
)
def test_backoff_delay(retry: int, delay: float) -> None:
    backoff = {"initialSeconds": 5, "factor": 2, "maxSeconds": 300}
    status = {
        "phase": "Pending",
        "attempts": [
            {
                "number": n,
                "pod": f"area-{n}",
                "startedAt": "2026-01-01T00:00:00Z",
                "finishedAt": "2026-01-01T00:00:00Z",
                "reason": "Error",
            }
            for n in range(1, retry + 1)
        ],
    }
    d = decide(task(status, retries={"limit": 10, "backoff": backoff}), {}, T0, POLICY)
    assert d.requeue_after == delay


def test_user_error_is_not_retried() -> None:
    user = uploaded(ok=False, error_kind="user", error="a must be positive")
    _, d = step(started(), {1: pod("Failed", main=terminated(1), uploader=user)}, 2)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "UserError")
    assert d.status["message"] == "attempt 1 failed with exit code 1: a must be positive"
    assert d.create is None


def test_oom_killed_is_reported() -> None:
    oom = pod("Failed", main=terminated(137, "OOMKilled"), uploader=OK)
    _, d = step(started(retries={"limit": 0}), {1: oom}, 2)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "OOMKilled")
    assert d.status["attempts"][0]["exitCode"] == 137


def test_pending_deadline_fails_the_attempt_and_deletes_the_pod() -> None:
    stuck = pod(main=waiting("ErrImagePull", "not found"))
    t = started(retries={"limit": 0})
    early = decide(t, {1: stuck}, at(100), POLICY)
    assert early.requeue_after == 200
    _, d = step(t, {1: stuck}, 300)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "PendingTimeout")
    assert "ErrImagePull" in d.status["message"]
    assert d.delete == (PodDeletion("area-1", 5),)


def test_spec_pending_timeout_overrides_the_operator_default() -> None:
    _, d = step(started(retries={"limit": 0}, pendingTimeoutSeconds=10), {1: pod()}, 10)
    assert d.status is not None
    assert d.status["reason"] == "PendingTimeout"


def test_timeout_counts_pending_time() -> None:
    t = started(retries={"limit": 0}, timeoutSeconds=20)
    early = decide(t, {1: pod()}, at(5), POLICY)
    assert early.requeue_after == 15
    _, d = step(t, {1: pod(main=waiting("ContainerCreating"))}, 20)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "Timeout")
    assert d.delete == (PodDeletion("area-1", 5),)


def test_timed_out_attempt_is_retried_and_its_pod_deleted() -> None:
    _, d = step(started(timeoutSeconds=20), {1: pod("Running", main=running())}, 20)
    assert d.status is not None
    assert d.status["reason"] == "RetryBackoff"
    assert d.delete == (PodDeletion("area-1", 5),)


@pytest.mark.parametrize(
    ("pods", "deletions"),
    [
        ({1: pod("Running", main=running())}, (PodDeletion("area-1", 5),)),
        ({1: pod("Running", main=running(), deleting=True)}, ()),
        ({}, ()),
    ],
    ids=["running-pod", "already-deleting", "no-pod"],
)
def test_cancel(pods: dict[int, dict[str, Any]], deletions: tuple[PodDeletion, ...]) -> None:
    t = started()
    cancelled = replace(t, spec=TaskSpec.from_dict({**SPEC, "cancel": True}))
    _, d = step(cancelled, pods, 3)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Cancelled", "Cancelled")
    assert d.status["attempts"][0]["reason"] == "Cancelled"
    assert d.delete == deletions
    assert d.create is None


def test_finished_task_stops_leftover_pods_only() -> None:
    done = {"phase": "Cancelled", "attempts": [{"number": 1, "pod": "area-1"}]}
    d = decide(task(done), {1: pod("Running", main=running())}, T0, POLICY)
    assert (d.status, d.create, d.events) == (None, None, ())
    assert d.delete == (PodDeletion("area-1", 5),)


def test_invalid_spec_fails_without_a_pod() -> None:
    bad = task(dataLoading={"inputPath": "/data", "outputPath": "/data"})
    d = decide(bad, {}, T0, POLICY)
    assert d.create is None
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "InvalidSpec")
    assert condition(d.status, "Succeeded")["message"].startswith("spec.dataLoading.outputPath")
    assert [e.reason for e in d.events] == ["InvalidSpec"]


def test_cache_hit_succeeds_without_a_pod() -> None:
    hit = CacheHit(
        "earlier", TaskStatus.from_dict({"phase": "Succeeded", "outputs": {"area": 1.5}})
    )
    d = decide(task(cacheVersion="1"), {}, T0, POLICY, cache_hit=hit)
    assert d.create is None
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"], d.status["outputs"]) == (
        "Succeeded",
        "Cached",
        {"area": 1.5},
    )


def test_cache_hit_is_ignored_without_cache_version() -> None:
    hit = CacheHit("earlier", TaskStatus.from_dict({"phase": "Succeeded"}))
    assert decide(task(), {}, T0, POLICY, cache_hit=hit).create == 1


def test_condition_transition_time_moves_only_with_its_status() -> None:
    t, _ = step(started(), {1: pod()}, 1)
    before = condition(t.status, "Succeeded")["lastTransitionTime"]
    t, _ = step(t, {1: pod("Running", main=running())}, 5)
    assert condition(t.status, "Succeeded")["lastTransitionTime"] == before
    t, _ = step(t, {1: pod("Succeeded", main=terminated(0), uploader=OK)}, 9)
    assert condition(t.status, "Succeeded")["lastTransitionTime"] == "2026-01-01T00:00:09Z"


def test_status_stays_small_with_many_outputs_and_attempts() -> None:
    names = [f"output_{i:02d}_" + "x" * 30 for i in range(64)]
    outputs = dict.fromkeys(names, "v" * 200)
    spec = {
        "outputs": [{"name": n, "type": "str"} for n in names],
        "retries": {"limit": 10, "backoff": {"initialSeconds": 0}},
    }
    t = started(**spec)
    long = "e" * 5000
    for n in range(1, 11):
        end = format_time(at(10 * n))
        main = terminated(1, message=long, finished=end)
        body = pod("Failed", name=f"area-{n}", main=main, uploader=uploaded(end, ok=True))
        t, d = step(t, {n: body}, 10 * n)
        assert d.create == n + 1  # no backoff: the next attempt starts at once
    upload = uploaded(
        ok=True, outputs=outputs, outputs_uri="s3://b/o/ns/area/uid-1/attempt-11/outputs.pb"
    )
    t, _ = step(t, {11: pod("Succeeded", name="area-11", main=terminated(0), uploader=upload)}, 120)
    assert t.status["phase"] == "Succeeded"
    assert len(t.status["attempts"]) == 11
    assert set(t.status["outputs"]) | set(t.status["storedOutputs"]) == set(names)
    assert len(json.dumps(t.status).encode()) <= 20 * 1024


def test_fit_outputs_leaves_the_largest_to_outputs_pb() -> None:
    declared = ["small", "big", "mid", "pb"]
    inline, stored = fit_outputs(
        {"small": 1, "big": "x" * 100, "mid": "y" * 50, "undeclared": 2}, declared, budget=80
    )
    assert inline == {"small": 1, "mid": "y" * 50}
    assert stored == ("big", "pb")


def test_rejected_pod_fails_the_task_at_once() -> None:
    status = rejected(task(), 1, "spec.activeDeadlineSeconds: Invalid value: -5", T0)
    assert (status["phase"], status["reason"]) == ("Failed", "PodRejected")
    assert status["attempts"][0]["reason"] == "PodRejected"
    assert condition(status, "Succeeded")["status"] == "False"
