"""Every way an attempt can go wrong, against the real apiserver (its admission: PodSecurity,
ResourceQuota, LimitRange, RBAC; its eviction API; the taint manager) with kwok-simulated pods.
The uploader's reports are written by the real uploader (``containertask copilot upload``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from operatorkit import CHART, Operator, Tasks, helm, token_kubeconfig

import localcluster
from containertask.api import UploadResult
from containertask.api.constants import TRACKING_FINALIZER
from localcluster import kwok

pytestmark = pytest.mark.integration

AREA = [{"name": "area", "type": "float"}]
LOCATION = "s3://b/runs"  # the operator's --output-location where a test needs one


def real_uploader_report(root: Path, outputs: list[dict[str, str]], files: dict[str, str]) -> str:
    """The termination message ``containertask copilot upload`` writes when the main container
    left ``files`` in the output directory (the store is a local directory)."""
    out = root / "outputs"
    out.mkdir()
    for name, text in files.items():
        (out / name).write_text(text)
    config = root / "copilot.json"
    config.write_text(
        json.dumps(
            {
                "inputs": [],
                "outputs": outputs,
                "dataLoading": {"inputPath": str(root / "inputs"), "outputPath": str(out)},
                "outputPrefix": f"file://{root}/store/attempt-1",
            }
        )
    )
    log = root / "termination-log"
    uploader = [sys.executable, "-m", "containertask.cli", "copilot", "upload", "--no-wait"]
    subprocess.run(
        [*uploader, "--config", str(config), "--termination-log", str(log)],
        capture_output=True,
        timeout=60,
    )
    return log.read_text()


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status.get("conditions", []) if c["type"] == kind)


def warnings(tasks: Tasks, name: str) -> list[str | None]:
    return [reason for kind, reason, _ in tasks.events(name) if kind == "Warning"]


def pod_metadata(tasks: Tasks, name: str) -> client.V1ObjectMeta:
    metadata = tasks.core.read_namespaced_pod(name, tasks.namespace).metadata
    assert metadata is not None
    return metadata


def pod_spec(tasks: Tasks, name: str) -> client.V1PodSpec:
    spec = tasks.core.read_namespaced_pod(name, tasks.namespace).spec
    assert spec is not None
    return spec


def pod_status(tasks: Tasks, name: str) -> client.V1PodStatus:
    status = tasks.core.read_namespaced_pod(name, tasks.namespace).status
    assert status is not None
    return status


def install_chart(cluster: localcluster.Cluster, namespace: str, *more: str) -> None:
    """The chart, released in ``namespace``: its ServiceAccount, and its RBAC (ct-containertask)
    in ``namespace`` and ``more`` only."""
    watched = ",".join([namespace, *more])
    helm(
        cluster,
        "install",
        "ct",
        str(CHART),
        f"--namespace={namespace}",
        "--skip-crds",
        f"--set=watchNamespaces={{{watched}}}",
        "--set=aggregateToDefaultRoles=false",  # cluster-wide: other tests install their own
    )


def ok() -> str:
    return UploadResult(ok=True).to_message()


# --- 1. classification: disruption, then the main container's exit, then the uploader ---------


def test_oom_killed_with_a_missing_output_is_retried_as_oom_killed(
    operator: Operator, tasks: Tasks, tmp_path: Path
) -> None:
    """Issue 11's first finding: exit 137 OOMKilled, then the uploader finds the output missing."""
    report = real_uploader_report(tmp_path, AREA, {})
    assert "'area': missing" in report
    tasks.create(
        "oom",
        sim={
            "exit-code.main": "137",
            "reason.main": "OOMKilled",
            "run-seconds": "0",
            "exit-code.uploader": "1",
            "message.uploader": report,
        },
        outputs=AREA,
        retries={"limit": 1, "backoff": {"initialSeconds": 1}},
    )
    status = tasks.wait_phase("oom", "Failed", timeout=60)
    assert status["reason"] == "OOMKilled"
    assert [(a["exitCode"], a["reason"]) for a in status["attempts"]] == [(137, "OOMKilled")] * 2
    assert status["message"] == (
        "attempt 2 failed with exit code 137: the main container was OOMKilled (exit code 137)"
    )


def test_missing_output_after_exit_zero_is_a_user_error(
    operator: Operator, tasks: Tasks, tmp_path: Path
) -> None:
    report = real_uploader_report(tmp_path, AREA, {})
    tasks.create(
        "missing",
        sim={"exit-code.uploader": "1", "message.uploader": report},
        outputs=AREA,
        retries={"limit": 2},
    )
    status = tasks.wait_phase("missing", "Failed")
    assert status["reason"] == "UserError"
    assert "'area': missing" in status["message"]
    time.sleep(2)
    assert len(tasks.status("missing")["attempts"]) == 1


# --- 2. pods the apiserver refuses --------------------------------------------------------------


def test_pod_security_violation_fails_at_once_with_the_api_message(
    operator: Operator, tasks: Tasks
) -> None:
    enforce = {"pod-security.kubernetes.io/enforce": "restricted"}
    tasks.core.patch_namespace(tasks.namespace, {"metadata": {"labels": enforce}})
    created = time.monotonic()
    tasks.create("insecure", retries={"limit": 3})
    status = tasks.wait_phase("insecure", "Failed", timeout=30)
    assert time.monotonic() - created < 20
    assert status["reason"] == "PodRejected"
    assert 'violates PodSecurity "restricted' in status["message"]
    assert [a["reason"] for a in status["attempts"]] == ["PodRejected"]
    assert tasks.pod_names() == []
    time.sleep(3)  # no retry, no event storm
    assert warnings(tasks, "insecure").count("PodRejected") == 1


def test_limit_range_violation_fails_at_once(operator: Operator, tasks: Tasks) -> None:
    tasks.core.create_namespaced_limit_range(
        tasks.namespace,
        {  # type: ignore[arg-type]
            "metadata": {"name": "small"},
            "spec": {"limits": [{"type": "Container", "max": {"cpu": "500m"}}]},
        },
    )
    tasks.create("big", resources={"limits": {"cpu": "2"}}, retries={"limit": 2})
    status = tasks.wait_phase("big", "Failed", timeout=30)
    assert status["reason"] == "PodRejected"
    assert "maximum cpu usage per Container is 500m" in status["message"]
    assert tasks.pod_names() == []


def no_pods_quota(tasks: Tasks) -> None:
    tasks.core.create_namespaced_resource_quota(
        tasks.namespace,
        {"metadata": {"name": "no-pods"}, "spec": {"hard": {"pods": "0"}}},  # type: ignore[arg-type]
    )


def test_quota_is_asked_again_until_it_frees_up(operator: Operator, tasks: Tasks) -> None:
    no_pods_quota(tasks)
    tasks.create("queued", sim={"message.uploader": ok()}, pendingTimeoutSeconds=300)
    status = tasks.wait("queued", lambda s: s.get("reason") == "QuotaExceeded", timeout=30)
    assert status["phase"] == "Pending"
    refused = condition(status, "PodCreated")
    assert (refused["status"], refused["reason"]) == ("False", "QuotaExceeded")
    assert "quota" in refused["message"]
    tasks.core.delete_namespaced_resource_quota("no-pods", tasks.namespace)
    status = tasks.wait_phase("queued", "Succeeded", timeout=120)
    assert condition(status, "PodCreated")["status"] == "True"
    assert [a["pod"] for a in status["attempts"]] == ["queued-1"]
    assert warnings(tasks, "queued").count("QuotaExceeded") == 1


def test_quota_that_never_frees_up_fails_at_the_pending_deadline(
    operator: Operator, tasks: Tasks
) -> None:
    no_pods_quota(tasks)
    tasks.create("starved", pendingTimeoutSeconds=5)
    status = tasks.wait_phase("starved", "Failed", timeout=90)
    assert status["reason"] == "PendingTimeout"
    (attempt,) = status["attempts"]
    assert attempt["reason"] == "PendingTimeout"
    assert "QuotaExceeded" in attempt["message"]


def test_a_transient_refusal_is_shown_and_retried(
    cluster: localcluster.Cluster,
    api_client: Any,
    namespace: str,
    start_operator: Callable[..., Operator],
    tasks: Tasks,
    tmp_path: Path,
) -> None:
    """The operator's own RBAC lacks pods/create (an admin's mistake, fixed later): the task
    waits, saying why, and runs once the permission is back."""
    install_chart(cluster, namespace)
    rbac = client.RbacAuthorizationV1Api(api_client)
    role = rbac.read_namespaced_role("ct-containertask", namespace)
    full = api_client.sanitize_for_serialization(role.rules)
    without_create = [
        {**r, "verbs": [v for v in r["verbs"] if v != "create"]}
        if r["resources"] == ["pods"]
        else r
        for r in full
    ]
    rbac.patch_namespaced_role("ct-containertask", namespace, {"rules": without_create})
    kubeconfig = token_kubeconfig(
        cluster, api_client, namespace, "ct-containertask", tmp_path / "sa.kubeconfig"
    )
    start_operator(kubeconfig=kubeconfig)
    tasks.create("denied", sim={"message.uploader": ok()})
    status = tasks.wait("denied", lambda s: s.get("reason") == "PodCreateFailed", timeout=30)
    assert status["phase"] == "Pending"
    assert "cannot create resource" in condition(status, "PodCreated")["message"]
    rbac.patch_namespaced_role("ct-containertask", namespace, {"rules": full})
    status = tasks.wait_phase("denied", "Succeeded", timeout=120)
    assert condition(status, "PodCreated")["status"] == "True"


# --- 3. disruption is not completion; 4. the tracking finalizer ---------------------------------


def test_pods_carry_the_tracking_finalizer_until_their_result_is_recorded(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create("tracked", sim={"run-seconds": "3", "message.uploader": ok()})
    tasks.wait_phase("tracked", "Running")
    pod = tasks.core.read_namespaced_pod("tracked-1", tasks.namespace)
    assert pod.metadata is not None and pod.metadata.finalizers is not None
    assert TRACKING_FINALIZER in pod.metadata.finalizers
    tasks.wait_phase("tracked", "Succeeded")
    deadline = time.monotonic() + 20
    while TRACKING_FINALIZER in (pod_metadata(tasks, "tracked-1").finalizers or ()):
        assert time.monotonic() < deadline, "finalizer still on the pod"
        time.sleep(0.3)
    assert tasks.pod_names() == ["tracked-1"]  # released, not deleted: logs stay readable


def test_a_result_survives_the_deletion_of_its_finished_pod(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    """The pod finishes while the operator is down and is then deleted (as pod garbage
    collection would): the tracking finalizer keeps it, and its result, until it is recorded."""
    location = f"--output-location={LOCATION}"
    first = start_operator(location)
    tasks.create("kept", sim={"run-seconds": "6"}, outputs=AREA)
    outputs_uri = tasks.attempt_prefix("kept", LOCATION) + "outputs.pb"
    report = UploadResult(ok=True, outputs={"area": 2.5}, outputs_uri=outputs_uri).to_message()
    tasks.annotate_pod("kept-1", {"message.uploader": report})
    tasks.wait_phase("kept", "Running")
    first.stop()
    deadline = time.monotonic() + 30
    while pod_status(tasks, "kept-1").phase != "Succeeded":
        assert time.monotonic() < deadline, "pod did not finish"
        time.sleep(0.2)
    time.sleep(1.5)  # timestamps have whole seconds: the deletion comes after the exit
    tasks.core.delete_namespaced_pod("kept-1", tasks.namespace)
    assert pod_metadata(tasks, "kept-1").deletion_timestamp
    start_operator(location)
    status = tasks.wait_phase("kept", "Succeeded")
    assert status["outputs"] == {"area": 2.5}
    assert [a["pod"] for a in status["attempts"]] == ["kept-1"]
    tasks.wait_gone("kept-1")


def test_a_pod_missing_from_the_watch_is_read_before_a_new_attempt(
    operator: Operator, tasks: Tasks
) -> None:
    """Taking the operator's label off the pod drops it from the operator's watch (a DELETED
    event): the pod still exists, and a live read finds it, so no second attempt starts."""
    tasks.create("hidden", sim={"run-seconds": "120"})
    tasks.wait_phase("hidden", "Running")
    label = {"metadata": {"labels": {"app.kubernetes.io/managed-by": None}}}
    tasks.core.patch_namespaced_pod("hidden-1", tasks.namespace, label)
    time.sleep(40)  # past the 30s the operator allows a new pod to show up in its watch
    status = tasks.status("hidden")
    assert [a["pod"] for a in status["attempts"]] == ["hidden-1"]
    assert status["phase"] == "Running"
    assert tasks.pod_names() == ["hidden-1"]


def test_a_pod_deleted_by_someone_else_gets_a_new_attempt_without_using_a_retry(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create("deleted", sim={"run-seconds": "120"}, retries={"limit": 0})
    tasks.wait_phase("deleted", "Running")
    tasks.core.delete_namespaced_pod("deleted-1", tasks.namespace)
    status = tasks.wait("deleted", lambda s: len(s.get("attempts", [])) == 2, timeout=30)
    first = status["attempts"][0]
    assert (first["reason"], first.get("disrupted")) == ("PodDeleted", True)
    assert "exitCode" not in first  # the kill's 143 is not the task's exit
    assert status["phase"] in ("Pending", "Running")
    tasks.wait_gone("deleted-1")  # the finalizer was released once the attempt was recorded
    tasks.wait_phase("deleted", "Running")
    assert "AttemptDisrupted" in warnings(tasks, "deleted")


def test_an_evicted_pod_gets_a_new_attempt_without_using_a_retry(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create("evicted", sim={"run-seconds": "120"}, retries={"limit": 0})
    tasks.wait_phase("evicted", "Running")
    eviction = client.V1Eviction(
        metadata=client.V1ObjectMeta(name="evicted-1", namespace=tasks.namespace)
    )
    tasks.core.create_namespaced_pod_eviction("evicted-1", tasks.namespace, eviction)
    status = tasks.wait("evicted", lambda s: len(s.get("attempts", [])) == 2, timeout=30)
    first = status["attempts"][0]
    assert (first["reason"], first.get("disrupted")) == ("EvictionByEvictionAPI", True)
    tasks.wait_phase("evicted", "Running")


@pytest.fixture
def lost_node(cluster: localcluster.Cluster, api_client: Any) -> Iterator[str]:
    """A kwok node of its own, to be lost by the test (deleted afterwards)."""
    core = client.CoreV1Api(api_client)
    name = f"lost-{uuid.uuid4().hex[:6]}"
    node = {
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake"},
            "labels": {"kubernetes.io/hostname": name, kwok.NODE_LABEL: "true"},
        },
        "spec": {"taints": [kwok.TAINT]},
        "status": {"allocatable": {"cpu": "8", "memory": "32Gi", "pods": "100"}},
    }
    core.create_node(node)  # type: ignore[arg-type]
    deadline = time.monotonic() + 60
    # Ready is not enough: the node lifecycle controller lifts its not-ready NoSchedule taint
    # only at its next pass, and until then the scheduler places pods elsewhere.
    while not _schedulable(core.read_node(name)):
        assert time.monotonic() < deadline, f"node {name} not Ready and untainted"
        time.sleep(0.2)
    yield name
    core.delete_node(name)


def _schedulable(node: Any) -> bool:
    """Ready, and tainted with nothing but the kwok taint."""
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or ())
    taints = [(t.key, t.effect) for t in node.spec.taints or ()]
    return ready and taints == [(kwok.TAINT["key"], kwok.TAINT["effect"])]


def test_a_pod_on_a_lost_node_gets_a_new_attempt(
    operator: Operator, tasks: Tasks, lost_node: str
) -> None:
    """The node is tainted NoExecute, as the node lifecycle controller taints a node it lost: the
    taint manager (the real controller) deletes the pod with DisruptionTarget
    DeletionByTaintManager. (A pod left terminating with no kubelet to confirm is covered in
    tests/unit/controller/test_observe.py: kwok still manages this node.)"""
    prefer = {
        "weight": 100,
        "preference": {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [lost_node]}
            ]
        },
    }
    affinity = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [prefer]}}
    tasks.create(
        "stranded",
        sim={"run-seconds": "600"},
        retries={"limit": 0},
        podTemplate={"spec": {"affinity": affinity}},
    )
    tasks.wait_phase("stranded", "Running")
    pod = tasks.core.read_namespaced_pod("stranded-1", tasks.namespace)
    assert pod.spec is not None
    assert pod.spec.node_name == lost_node
    lost = {"key": "containertask.io/lost", "effect": "NoExecute"}
    tasks.core.patch_node(lost_node, {"spec": {"taints": [kwok.TAINT, lost]}})
    status = tasks.wait("stranded", lambda s: len(s.get("attempts", [])) == 2, timeout=60)
    first = status["attempts"][0]
    assert (first["reason"], first.get("disrupted")) == ("DeletionByTaintManager", True)
    tasks.wait_phase("stranded", "Running", timeout=30)
    assert pod_spec(tasks, "stranded-2").node_name != lost_node


# --- 10. bad specs fail before any pod ------------------------------------------------------------


def test_outputs_without_an_output_location_fail_before_any_pod(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator("--output-location=")
    tasks.create("nowhere", outputs=AREA)
    status = tasks.wait_phase("nowhere", "Failed")
    assert status["reason"] == "InvalidSpec"
    assert status["message"].startswith("spec.outputLocation: is required")
    assert tasks.pod_names() == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"image": "Not An Image"}, "spec.image"),
        (
            {"dataLoading": {"uploadMode": "none"}, "outputs": AREA},
            "uploadMode none uploads nothing",
        ),
    ],
    ids=["image", "upload-none-with-outputs"],
)
def test_bad_specs_are_refused_at_admission(
    tasks: Tasks, chart_crd: str, spec: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiException) as refused:
        tasks.create("bad", **spec)
    assert refused.value.status == 422
    assert message in str(refused.value.body)


# --- 11. whole-task deadline and TTL ---------------------------------------------------------------


def test_active_deadline_spans_attempts_and_backoffs(operator: Operator, tasks: Tasks) -> None:
    tasks.create(
        "hurry",
        sim={"exit-code.main": "1", "run-seconds": "0"},
        retries={"limit": 10, "backoff": {"initialSeconds": 2, "factor": 1}},
        activeDeadlineSeconds=8,
    )
    status = tasks.wait_phase("hurry", "Failed", timeout=40)
    assert status["reason"] == "DeadlineExceeded"
    assert 1 < len(status["attempts"]) < 11


def test_finished_task_is_deleted_after_its_ttl_with_its_pods(
    operator: Operator, tasks: Tasks
) -> None:
    tasks.create("ephemeral", sim={"message.uploader": ok()}, ttlSecondsAfterFinished=2)
    tasks.wait_phase("ephemeral", "Succeeded")
    deadline = time.monotonic() + 30
    while True:
        try:
            tasks.get("ephemeral")
        except ApiException as error:
            assert error.status == 404
            break
        assert time.monotonic() < deadline, "task not deleted"
        time.sleep(0.3)
    tasks.wait_gone("ephemeral-1", timeout=60)


# --- 12. a namespace the operator may not read ------------------------------------------------------


def test_a_namespace_whose_pods_cannot_be_listed_does_not_stall_the_others(
    cluster: localcluster.Cluster,
    api_client: Any,
    namespace: str,
    start_operator: Callable[..., Operator],
    tasks: Tasks,
    tmp_path: Path,
) -> None:
    """The chart's RBAC in two namespaces, with the pods rule taken out of one: tasks in the
    other run; /healthz passes while one namespace is visible and fails once none is."""
    core = client.CoreV1Api(api_client)
    denied = f"t-denied-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=denied)))
    try:
        install_chart(cluster, namespace, denied)
        rbac = client.RbacAuthorizationV1Api(api_client)
        rules = api_client.sanitize_for_serialization(
            rbac.read_namespaced_role("ct-containertask", denied).rules
        )
        no_pods = [r for r in rules if "pods" not in r["resources"]]
        rbac.patch_namespaced_role("ct-containertask", denied, {"rules": no_pods})
        kubeconfig = token_kubeconfig(
            cluster, api_client, namespace, "ct-containertask", tmp_path / "sa.kubeconfig"
        )
        both = start_operator(f"--namespace={denied}", kubeconfig=kubeconfig)
        tasks.create("fine", sim={"message.uploader": ok()})
        tasks.wait_phase("fine", "Succeeded", timeout=60)
        assert both.health() == 200
        both.stop()
        alone = Operator(both.env, [f"--namespace={denied}"], tmp_path / "alone.log")
        alone.start()
        try:
            deadline = time.monotonic() + 60
            while alone.health() != 500:
                assert time.monotonic() < deadline, "healthz still passes"
                time.sleep(1)
        finally:
            alone.stop()
    finally:
        core.delete_namespace(denied)
