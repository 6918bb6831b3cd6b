"""(task, pods, now) -> decision: each situation and the exact actions taken."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from podstates import disruption, pod, running, terminated, uploaded, waiting

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
    refused,
)
from containertask.controller.podwarnings import PodWarning
from containertask.controller.refusals import Refusal, classify

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


def condition(status: Mapping[str, Any], kind: str) -> dict[str, Any]:
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


def test_pod_missing_from_the_watch_is_read_before_a_new_attempt() -> None:
    t = started(retries={"limit": 0})
    d = decide(t, {}, at(31), POLICY)
    assert (d.confirm, d.create, d.status) == ("area-1", None, None)
    # The live read found it gone: a disruption, replaced at once without using a retry.
    _, d = step(t, {}, 31, gone=frozenset({1}))
    assert d.status is not None
    assert d.status["attempts"][0] == {
        "number": 1,
        "pod": "area-1",
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:00:31Z",
        "reason": "PodDeleted",
        "message": "pod area-1 was deleted before it finished",
        "disrupted": True,
    }
    assert d.create == 2
    assert ("Warning", "AttemptDisrupted") in [(e.type, e.reason) for e in d.events]


def test_disruption_does_not_use_the_retry_budget() -> None:
    t = started(retries={"limit": 0})
    preempted = pod(
        "Running",
        main=running(),
        conditions=[disruption("PreemptionByScheduler", "2026-01-01T00:00:03Z")],
    )
    t, d = step(t, {1: preempted}, 4)
    assert d.create == 2
    assert t.status["attempts"][0]["disrupted"] is True
    assert d.delete == ()  # the preemptor deletes it
    # Attempt 2 fails on its own: limit 0 means no retry for it, the disruption cost none.
    end = format_time(at(8))
    failed = pod(
        "Failed", name="area-2", main=terminated(3, finished=end), uploader=uploaded(end, ok=True)
    )
    t, d = step(t, {1: preempted, 2: failed}, 8)
    assert (t.status["phase"], t.status["reason"]) == ("Failed", "Error")
    assert [a["number"] for a in t.status["attempts"]] == [1, 2]


def test_disruptions_have_their_own_limit() -> None:
    policy = replace(POLICY, disruption_limit=2)
    t = task(retries={"limit": 10})
    d = decide(t, {}, T0, policy)
    pods: dict[int, dict[str, Any]] = {}
    for n in (1, 2, 3):
        assert d.create == n  # each replacement starts at once, with no backoff
        pods[n] = pod("Failed", name=f"area-{n}", main=running(), reason="Evicted")
        d = decide(t, pods, at(n), policy)
        assert d.status is not None
        t = replace(t, status=d.status)
    assert d.create is None
    assert (t.status["phase"], t.status["reason"]) == ("Failed", "Evicted")
    assert "disrupted 3 times, more than the operator's limit of 2" in t.status["message"]


def test_graceful_exit_after_deletion_is_never_success() -> None:
    """Someone deletes the pod; the program exits 0 on SIGTERM and the uploader uploads what
    there was: a disruption, not a success with partial outputs."""
    deleted = pod(
        "Succeeded",
        main=terminated(0, finished="2026-01-01T00:00:12Z"),
        uploader=OK,
        deleting="2026-01-01T00:00:40Z",
        grace=30,
        finalizers=["containertask.io/tracking"],
    )
    t, d = step(started(), {1: deleted}, 13)
    assert t.status["phase"] != "Succeeded"
    assert "outputs" not in t.status
    assert t.status["attempts"][0]["reason"] == "PodDeleted"
    assert d.create == 2
    assert d.release == ("area-1",)


@pytest.mark.parametrize(
    ("pods", "release"),
    [
        ({1: pod("Running", main=running(), finalizers=["containertask.io/tracking"])}, ()),
        (
            {
                1: pod(
                    "Succeeded",
                    main=terminated(0),
                    uploader=OK,
                    finalizers=["containertask.io/tracking"],
                )
            },
            ("area-1",),
        ),
        ({1: pod("Succeeded", main=terminated(0), uploader=OK, finalizers=[])}, ()),
    ],
    ids=["running-keeps-it", "result-recorded", "already-released"],
)
def test_tracking_finalizer_goes_once_the_result_is_in_status(
    pods: dict[int, dict[str, Any]], release: tuple[str, ...]
) -> None:
    _, d = step(started(), pods, 3)
    assert d.release == release


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


def test_a_warning_event_shows_the_pull_reason_before_the_pod_status_does() -> None:
    """The kubelet's event comes seconds before the pod's status says ErrImagePull: the task
    shows it at once, warns once, and still fails only at the pending deadline."""
    pull = PodWarning("uid-1", "ErrImagePull", 'Failed to pull image "absent:1"', "main", None)
    creating = pod(main=waiting("ContainerCreating"))
    t, d = step(started(retries={"limit": 0}), {1: creating}, 3, warnings={1: pull})
    assert (t.status["phase"], t.status["reason"]) == ("Pending", "ErrImagePull")
    assert t.status["message"] == 'main: Failed to pull image "absent:1"'
    assert [e.reason for e in d.events if e.type == "Warning"] == ["ErrImagePull"]
    assert d.delete == () and d.requeue_after == 297
    _, d = step(t, {1: creating}, 300, warnings={1: pull})
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "PendingTimeout")
    assert 'ErrImagePull: main: Failed to pull image "absent:1"' in d.status["message"]


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


def test_finished_task_keeps_a_pod_whose_containers_all_exited() -> None:
    """The kubelet posts phase Succeeded a moment after the uploader exits; the operator has the
    result by then and must not delete the pod (and its logs) in between."""
    done = {"phase": "Succeeded", "attempts": [{"number": 1, "pod": "area-1"}]}
    exited = pod("Running", main=terminated(), uploader=uploaded(ok=True))
    d = decide(task(done), {1: exited}, T0, POLICY)
    assert d.delete == ()


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


def test_timed_out_pod_is_released_after_its_attempt_is_recorded() -> None:
    held = pod(main=waiting("ErrImagePull"), finalizers=["containertask.io/tracking"])
    _, d = step(started(retries={"limit": 0}), {1: held}, 300)
    assert d.status is not None and d.status["reason"] == "PendingTimeout"
    assert (d.delete, d.release) == ((PodDeletion("area-1", 5),), ("area-1",))


def test_invalid_image_name_fails_at_once_without_retry() -> None:
    bad = pod(main=waiting("InvalidImageName", "couldn't parse image name"))
    _, d = step(started(), {1: bad}, 3)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "InvalidImageName")
    assert d.delete == (PodDeletion("area-1", 5),)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"image": "Bad Image:1"}, "spec.image"),
        ({"dataLoading": {"uploadMode": "none"}}, "spec.dataLoading.uploadMode"),
    ],
    ids=["image", "upload-none-with-outputs"],
)
def test_bad_specs_fail_before_any_pod(changes: dict[str, Any], field: str) -> None:
    d = decide(task(**changes), {}, T0, POLICY)
    assert d.create is None
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "InvalidSpec")
    assert d.status["message"].startswith(field)


def test_outputs_need_an_output_location() -> None:
    nowhere = replace(POLICY, output_location=None)
    d = decide(task(), {}, T0, nowhere)
    assert d.create is None
    assert d.status is not None
    assert d.status["reason"] == "InvalidSpec"
    assert d.status["message"].startswith("spec.outputLocation: is required")
    assert decide(task(outputLocation="s3://b/x"), {}, T0, nowhere).create == 1
    assert decide(task(outputs=[]), {}, T0, nowhere).create == 1


def test_downloading_inputs_is_initializing_and_not_pending_time() -> None:
    t = started(retries={"limit": 0}, pendingTimeoutSeconds=60)
    downloading = {"running": {"startedAt": "2026-01-01T00:00:10Z"}}
    body = pod(main=waiting("PodInitializing"), uploader=running(), downloader=downloading)
    t, d = step(t, {1: body}, 200)  # a long download: past the pending deadline, still fine
    assert (t.status["phase"], t.status["reason"]) == ("Initializing", "Initializing")
    # Downloaded 10s..250s; the main image pull since then is pending time again.
    done = terminated(0, finished="2026-01-01T00:04:10Z")
    pulling = pod(main=waiting("ErrImagePull", "not found"), uploader=running(), downloader=done)
    done["terminated"]["startedAt"] = "2026-01-01T00:00:10Z"
    t, d = step(t, {1: pulling}, 290)  # pending: 10s before + 40s after the download
    assert t.status["phase"] == "Pending"
    assert d.requeue_after == 10
    t, d = step(t, {1: pulling}, 300)
    assert (t.status["phase"], t.status["reason"]) == ("Failed", "PendingTimeout")


def test_timeout_counts_the_download_too() -> None:
    downloading = {"running": {"startedAt": "2026-01-01T00:00:01Z"}}
    body = pod(main=waiting("PodInitializing"), uploader=running(), downloader=downloading)
    _, d = step(started(retries={"limit": 0}, timeoutSeconds=30), {1: body}, 30)
    assert d.status is not None
    assert d.status["reason"] == "Timeout"


def test_active_deadline_spans_attempts_and_backoffs() -> None:
    t = replace(
        task(retries={"limit": 5, "backoff": {"initialSeconds": 30}}, activeDeadlineSeconds=40),
        created=format_time(T0),
    )
    t, d = step(t, {}, 0)
    assert d.requeue_after == 30  # the visibility grace comes first
    end = format_time(at(5))
    failed = pod("Failed", main=terminated(1, finished=end), uploader=uploaded(end, ok=True))
    t, d = step(t, {1: failed}, 6)
    assert t.status["reason"] == "RetryBackoff"
    assert d.requeue_after == 29  # backoff to 35s
    t, d = step(t, {1: failed}, 35)
    assert d.create == 2
    running_pod = pod("Running", name="area-2", main=running())
    t, d = step(t, {1: failed, 2: running_pod}, 36)
    assert d.requeue_after == 4  # the whole-task deadline
    t, d = step(t, {1: failed, 2: running_pod}, 40)
    assert (t.status["phase"], t.status["reason"]) == ("Failed", "DeadlineExceeded")
    assert t.status["attempts"][1]["reason"] == "DeadlineExceeded"
    assert d.delete == (PodDeletion("area-2", 5),)
    assert d.create is None


def test_finished_task_is_deleted_after_its_ttl() -> None:
    t = started(ttlSecondsAfterFinished=60)
    t, d = step(t, {1: pod("Succeeded", main=terminated(0), uploader=OK)}, 10)
    assert t.status["phase"] == "Succeeded"
    assert (d.delete_task, d.requeue_after) == (False, 60)
    later = decide(t, {}, at(50), POLICY)
    assert (later.delete_task, later.requeue_after) == (False, 20)
    assert decide(t, {}, at(70), POLICY).delete_task
    assert decide(started(), {}, at(10**6), POLICY).delete_task is False


def test_quota_refusal_waits_and_then_fails_the_attempt_at_the_pending_deadline() -> None:
    t = task(retries={"limit": 0}, pendingTimeoutSeconds=60)
    quota = classify(403, 'pods "area-1" is forbidden: exceeded quota: q, requested: pods=1')
    assert (quota.reason, quota.final) == ("QuotaExceeded", False)
    d = refused(t, 1, quota, {}, T0, POLICY)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Pending", "QuotaExceeded")
    created = condition(d.status, "PodCreated")
    assert (created["status"], created["reason"]) == ("False", "QuotaExceeded")
    assert "exceeded quota" in created["message"]
    assert "attempts" not in d.status
    assert [e.reason for e in d.events] == ["QuotaExceeded"]
    t = replace(t, status=d.status)
    assert refused(t, 1, quota, {}, at(30), POLICY).status is None  # nothing new to say
    d = refused(t, 1, quota, {}, at(60), POLICY)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Failed", "PendingTimeout")
    assert "exceeded quota" in d.status["attempts"][0]["message"]


def test_pod_created_condition_turns_true_once_a_pod_is_seen() -> None:
    quota = classify(403, "exceeded quota: q")
    t = task()
    t = replace(t, status=refused(t, 1, quota, {}, T0, POLICY).status or {})
    t, d = step(t, {}, 5)
    assert d.create == 1
    t, d = step(t, {1: pod("Running", main=running())}, 6)
    assert condition(t.status, "PodCreated")["status"] == "True"


@pytest.mark.parametrize(
    ("code", "message", "reason", "final"),
    [
        (422, "Pod is invalid: spec.activeDeadlineSeconds", "PodRejected", True),
        (400, 'admission webhook "deny.example.com" denied the request: no', "PodRejected", True),
        (
            403,
            'pods "x" is forbidden: violates PodSecurity "restricted:latest"',
            "PodRejected",
            True,
        ),
        (403, 'pods "x" is forbidden: maximum cpu usage per Container is 1', "PodRejected", True),
        (403, 'pods "x" is forbidden: exceeded quota: q', "QuotaExceeded", False),
        (403, "pods is forbidden: status unknown for quota: q", "QuotaExceeded", False),
        (403, 'User "op" cannot create resource "pods" in API group ""', "PodCreateFailed", False),
        (429, "Too many requests", "PodCreateFailed", False),
        (500, "etcdserver: request timed out", "PodCreateFailed", False),
        (None, "TimeoutError()", "PodCreateFailed", False),
    ],
    ids=[
        "invalid",
        "webhook",
        "pod-security",
        "limit-range",
        "quota",
        "new-quota",
        "rbac",
        "429",
        "500",
        "timeout",
    ],
)
def test_refusals(code: int | None, message: str, reason: str, final: bool) -> None:
    assert classify(code, message) == Refusal(reason, message, final)


def test_transient_refusal_shows_and_keeps_the_task_pending() -> None:
    d = refused(task(), 1, classify(503, "the server is unavailable"), {}, T0, POLICY)
    assert d.status is not None
    assert (d.status["phase"], d.status["reason"]) == ("Pending", "PodCreateFailed")
    assert condition(d.status, "PodCreated")["message"] == "the server is unavailable"


def test_rejected_pod_fails_the_task_at_once() -> None:
    refusal = classify(422, "spec.activeDeadlineSeconds: Invalid value: -5")
    status = refused(task(), 1, refusal, {}, T0, POLICY).status
    assert status is not None
    assert (status["phase"], status["reason"]) == ("Failed", "PodRejected")
    assert status["attempts"][0]["reason"] == "PodRejected"
    assert condition(status, "Succeeded")["status"] == "False"
