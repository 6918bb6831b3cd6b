"""The operator against the local cluster: each behaviour of a ContainerTask, end to end through
the real apiserver, scheduler, garbage collector and kwok-simulated pods."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from operatorkit import Operator, Tasks

from containertask.api import UploadResult

pytestmark = pytest.mark.integration

LOCATION = "s3://b/runs"  # the operator's --output-location where a test needs one


def upload_message(**fields: Any) -> str:
    return UploadResult(**fields).to_message()


def seconds(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions", []) if c["type"] == kind)


def test_success_publishes_the_uploaders_outputs(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator(f"--output-location={LOCATION}")
    tasks.create(
        "area",
        sim={"run-seconds": "5"},
        command=["./area.sh", "{{.inputs.a}}"],
        inputs=[{"name": "a", "type": "float", "value": 3.0}],
        outputs=[{"name": "area", "type": "float"}, {"name": "report", "type": "file"}],
    )
    outputs_uri = tasks.attempt_prefix("area", LOCATION) + "outputs.pb"
    message = upload_message(ok=True, outputs={"area": 12.5}, outputs_uri=outputs_uri)
    tasks.annotate_pod("area-1", {"message.uploader": message})
    status = tasks.wait_phase("area", "Succeeded")
    assert status["outputs"] == {"area": 12.5}
    assert status["storedOutputs"] == ["report"]
    assert status["outputsUri"] == outputs_uri
    assert [(a["number"], a["pod"], a["exitCode"]) for a in status["attempts"]] == [
        (1, "area-1", 0)
    ]
    assert condition(status, "Succeeded")["status"] == "True"
    pod = tasks.core.read_namespaced_pod("area-1", tasks.namespace)
    assert pod.spec is not None and pod.spec.init_containers is not None
    assert [c.name for c in pod.spec.init_containers] == ["uploader", "downloader"]
    assert pod.spec.init_containers[0].restart_policy == "Always"
    # As in Flyte: the image's ENTRYPOINT runs command + arguments, floats as Go writes them.
    assert pod.spec.containers[0].command is None
    assert pod.spec.containers[0].args == ["./area.sh", "3"]
    assert pod.metadata is not None and pod.metadata.owner_references is not None
    assert pod.metadata.owner_references[0].kind == "ContainerTask"
    reasons = [reason for _, reason, _ in tasks.events("area")]
    assert "PodCreated" in reasons and "Succeeded" in reasons


def test_exit_code_zero_without_the_uploaders_word_is_not_success(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create("quiet", outputs=[{"name": "x", "type": "int"}])
    status = tasks.wait_phase("quiet", "Failed")
    assert status["reason"] == "UploadFailed"
    assert "outputs" not in status


def test_non_zero_exit_is_retried_with_backoff_then_fails(operator: Operator, tasks: Tasks) -> None:
    tasks.create(
        "flaky",
        sim={"exit-code.main": "3", "message.main": "bad luck", "run-seconds": "0"},
        retries={"limit": 2, "backoff": {"initialSeconds": 2, "factor": 2, "maxSeconds": 60}},
    )
    status = tasks.wait_phase("flaky", "Failed", timeout=60)
    attempts = status["attempts"]
    assert [(a["pod"], a["exitCode"], a["reason"]) for a in attempts] == [
        ("flaky-1", 3, "Error"),
        ("flaky-2", 3, "Error"),
        ("flaky-3", 3, "Error"),
    ]
    # Each retry waits its backoff (2s, then 4s) after the previous attempt finished.
    for retry, delay in ((1, 2), (2, 4)):
        gap = seconds(attempts[retry]["startedAt"]) - seconds(attempts[retry - 1]["finishedAt"])
        assert gap >= delay - 1  # timestamps have whole seconds
    assert status["message"] == "attempt 3 failed with exit code 3: bad luck"
    assert tasks.pod_names() == ["flaky-1", "flaky-2", "flaky-3"]


def test_user_error_is_not_retried(operator: Operator, tasks: Tasks) -> None:
    error = upload_message(ok=False, error_kind="user", error="a must be positive")
    tasks.create(
        "usererr", sim={"exit-code.main": "1", "message.uploader": error}, retries={"limit": 3}
    )
    status = tasks.wait_phase("usererr", "Failed")
    assert status["reason"] == "UserError"
    assert "a must be positive" in status["message"]
    time.sleep(2)
    assert len(tasks.status("usererr")["attempts"]) == 1
    assert tasks.pod_names() == ["usererr-1"]


def test_oom_killed(operator: Operator, tasks: Tasks) -> None:
    tasks.create("oom", sim={"exit-code.main": "137", "reason.main": "OOMKilled"})
    status = tasks.wait_phase("oom", "Failed")
    assert status["reason"] == "OOMKilled"
    assert status["attempts"][0]["exitCode"] == 137


def test_image_pull_error_shows_at_once_and_fails_at_the_pending_deadline(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create(
        "pull",
        sim={"waiting-reason": "ErrImagePull", "waiting-message": "pull access denied for nope"},
        image="nope:1",
        pendingTimeoutSeconds=6,
    )
    created = time.monotonic()
    status = tasks.wait("pull", lambda s: s.get("reason") == "ErrImagePull", timeout=5)
    assert time.monotonic() - created < 5
    assert status["phase"] == "Pending"
    assert "pull access denied" in status["message"]
    status = tasks.wait_phase("pull", "Failed", timeout=20)
    assert status["reason"] == "PendingTimeout"
    assert "ErrImagePull" in status["message"]
    tasks.wait_gone("pull-1")
    assert ("Warning", "ErrImagePull") in [(t, r) for t, r, _ in tasks.events("pull")]


def test_operator_pending_deadline_flag(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator("--pending-timeout=3")
    tasks.create("stuck", sim={"waiting-reason": "CreateContainerConfigError"})
    status = tasks.wait_phase("stuck", "Failed", timeout=20)
    assert status["reason"] == "PendingTimeout"


def test_unschedulable_pod(operator: Operator, tasks: Tasks) -> None:
    tasks.create(
        "nowhere", nodeSelector={"containertask.io/no-such-node": "x"}, pendingTimeoutSeconds=30
    )
    status = tasks.wait("nowhere", lambda s: s.get("reason") == "Unschedulable", timeout=15)
    assert status["phase"] == "Pending"
    scheduled = condition(status, "PodScheduled")
    assert (scheduled["status"], scheduled["reason"]) == ("False", "Unschedulable")


def test_timeout_counts_pending_time(operator: Operator, tasks: Tasks) -> None:
    tasks.create("slow", sim={"waiting-reason": "ContainerCreating"}, timeoutSeconds=4)
    status = tasks.wait_phase("slow", "Failed", timeout=20)
    assert status["reason"] == "Timeout"
    assert status["attempts"][0]["reason"] == "Timeout"
    tasks.wait_gone("slow-1")


def test_cancel_by_field(operator: Operator, tasks: Tasks) -> None:
    tasks.create("long", sim={"run-seconds": "120"})
    tasks.wait_phase("long", "Running")
    tasks.patch_spec("long", {"cancel": True})
    status = tasks.wait_phase("long", "Cancelled")
    assert status["attempts"][0]["reason"] == "Cancelled"
    tasks.wait_gone("long-1")


def test_cancel_by_deletion_leaves_no_pod(operator: Operator, tasks: Tasks) -> None:
    tasks.create("gone", sim={"run-seconds": "120"})
    tasks.wait_phase("gone", "Running")
    tasks.delete("gone")
    tasks.wait_gone("gone-1", timeout=60)


def test_invalid_spec_fails_without_a_pod(operator: Operator, tasks: Tasks) -> None:
    tasks.create("bad", inputs=[{"name": "n", "type": "int", "value": "abc"}])
    status = tasks.wait_phase("bad", "Failed")
    assert status["reason"] == "InvalidSpec"
    assert condition(status, "Succeeded")["message"].startswith("spec.inputs[0].value")
    time.sleep(1)
    assert tasks.pod_names() == []


def test_restart_mid_task_creates_no_second_pod(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    first = start_operator()
    tasks.create("resume", sim={"run-seconds": "6", "message.uploader": upload_message(ok=True)})
    tasks.wait_phase("resume", "Running")
    first.stop()
    start_operator()
    status = tasks.wait_phase("resume", "Succeeded", timeout=30)
    assert [a["pod"] for a in status["attempts"]] == ["resume-1"]
    assert tasks.pod_names() == ["resume-1"]


def test_a_pod_controlled_by_someone_else_is_not_adopted(operator: Operator, tasks: Tasks) -> None:
    tasks.core.create_namespaced_pod(
        tasks.namespace,
        {  # type: ignore[arg-type]
            "metadata": {
                "name": "squatted-1",
                "annotations": {"sim.containertask.io/run-seconds": "120"},
            },
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]},
        },
    )
    tasks.create("squatted")
    deadline = time.monotonic() + 15
    while ("Warning", "PodConflict") not in [(t, r) for t, r, _ in tasks.events("squatted")]:
        assert time.monotonic() < deadline, "no PodConflict event"
        time.sleep(0.3)
    pod = tasks.core.read_namespaced_pod("squatted-1", tasks.namespace)
    assert pod.metadata is not None
    assert not pod.metadata.owner_references
    assert tasks.status("squatted").get("phase") in (None, "Pending")


def test_status_stays_small_with_many_outputs(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator(f"--output-location={LOCATION}")
    names = [f"out{i:02d}" for i in range(64)]
    tasks.create(
        "many",
        sim={"run-seconds": "5"},
        outputs=[{"name": n, "type": "str"} for n in names],
    )
    message = upload_message(
        ok=True,
        outputs=dict.fromkeys(names, "v" * 100),
        outputs_uri=tasks.attempt_prefix("many", LOCATION) + "outputs.pb",
    )
    tasks.annotate_pod("many-1", {"message.uploader": message})
    status = tasks.wait_phase("many", "Succeeded")
    assert set(status.get("outputs", {})) | set(status.get("storedOutputs", [])) == set(names)
    assert len(json.dumps(status).encode()) <= 20 * 1024


def test_cache_hit_succeeds_without_a_pod(operator: Operator, tasks: Tasks) -> None:
    message = upload_message(ok=True, outputs={"x": 7})
    spec: dict[str, Any] = {"outputs": [{"name": "x", "type": "int"}], "cacheVersion": "1"}
    # The same podTemplate too (its annotations carry kwok's outcome): it is part of the key.
    tasks.create("first", sim={"message.uploader": message}, **spec)
    tasks.wait_phase("first", "Succeeded")
    tasks.create("second", sim={"message.uploader": message}, **spec)
    status = tasks.wait_phase("second", "Succeeded")
    assert status["reason"] == "Cached"
    assert status["outputs"] == {"x": 7}
    assert tasks.pod_names() == ["first-1"]


def test_metrics_count_tasks_by_phase(operator: Operator, tasks: Tasks) -> None:
    tasks.create("counted", sim={"message.uploader": upload_message(ok=True)})
    tasks.wait_phase("counted", "Succeeded")
    text = operator.metrics()
    assert 'containertask_tasks{phase="Succeeded"} 1.0' in text
    assert "containertask_pods_created_total 1.0" in text
    assert "containertask_reconcile_seconds_count" in text


def test_a_pod_the_apiserver_rejects_fails_the_task(operator: Operator, tasks: Tasks) -> None:
    tasks.create(
        "rejected", podTemplate={"spec": {"activeDeadlineSeconds": -5}}, retries={"limit": 3}
    )
    status = tasks.wait_phase("rejected", "Failed")
    assert status["reason"] == "PodRejected"
    assert "activeDeadlineSeconds" in status["message"]
    assert tasks.pod_names() == []


def test_kopf_run_of_the_handlers_module(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    operator = start_operator(kopf_run=True)
    tasks.create("kopfrun", sim={"message.uploader": upload_message(ok=True)})
    assert tasks.wait_phase("kopfrun", "Succeeded")["attempts"][0]["exitCode"] == 0
    assert "containertask_tasks" in operator.metrics()
