"""Flyte options that need the operator: a named PodTemplate, Cache(serialize=True), the Kueue
queue label, interruptible and accelerator scheduling from the operator's flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from kubernetes import client
from operatorkit import Operator, Tasks

from containertask.api import UploadResult
from localcluster import kwok

pytestmark = pytest.mark.integration

OK = UploadResult(ok=True, outputs={"n": 1}).to_message()
OUT: dict[str, Any] = {"outputs": [{"name": "n", "type": "int"}]}


def test_a_named_pod_template_is_read_and_its_primary_container_merged(
    operator: Operator, tasks: Tasks, api_client: Any, namespace: str
) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod_template(
        namespace,
        {  # type: ignore[arg-type]
            "metadata": {"name": "batch"},
            "template": {
                "metadata": {"labels": {"from-template": "yes"}},
                "spec": {
                    "containers": [{"name": "primary", "image": "x", "workingDir": "/work"}],
                },
            },
        },
    )
    tasks.create("named", sim={"message.uploader": OK}, podTemplateName="batch", **OUT)
    tasks.wait_phase("named", "Succeeded")
    (pod,) = tasks.pods()
    assert pod.metadata.labels["from-template"] == "yes"
    assert [c.name for c in pod.spec.containers] == ["main"]
    assert pod.spec.containers[0].working_dir == "/work"
    assert pod.spec.containers[0].image == "busybox:1"


def test_a_missing_pod_template_fails_the_task_naming_it(operator: Operator, tasks: Tasks) -> None:
    tasks.create("lost", podTemplateName="nope", **OUT)
    status = tasks.wait_phase("lost", "Failed")
    assert "PodTemplate" in status["message"] and "nope" in status["message"]
    assert tasks.pods() == []


def test_queue_interruptible_and_accelerator_shape_the_pod(
    start_operator: Callable[..., Operator], tasks: Tasks
) -> None:
    start_operator(
        "--gpu-accelerator-label=example.com/gpu",
        '--interruptible-tolerations=[{"key": "spot", "operator": "Exists"}]',
        '--interruptible-node-selector={"type": "kwok"}',
    )
    tasks.create(
        "shaped",
        sim={"message.uploader": OK},
        queue="team-a",
        interruptible=True,
        accelerator="nvidia-tesla-t4",
        sharedMemory="64Mi",
        **OUT,
    )
    tasks.wait(
        "shaped", lambda s: bool(s.get("attempts")), timeout=30
    )  # kwok has no GPU nodes: the pod stays Pending
    (pod,) = tasks.pods()
    assert pod.metadata.labels["kueue.x-k8s.io/queue-name"] == "team-a"
    assert pod.spec.node_selector == {
        "example.com/gpu": "nvidia-tesla-t4",
        "type": "kwok",
        **kwok.PLACEMENT["nodeSelector"],
    }
    assert {(t.key, t.value) for t in pod.spec.tolerations} >= {
        ("example.com/gpu", "nvidia-tesla-t4"),
        ("spot", None),
    }
    shm = next(v for v in pod.spec.volumes if v.name == "shm")
    assert (shm.empty_dir.medium, shm.empty_dir.size_limit) == ("Memory", "64Mi")


def test_cache_serialize_waits_for_the_identical_task_and_reuses_its_outputs(
    operator: Operator, tasks: Tasks
) -> None:
    spec = {"cacheVersion": "v1", "cacheSerialize": True, **OUT}
    sim = {"message.uploader": OK, "run-seconds": "3"}
    for name in ("first", "second", "third"):  # created together: only one may start
        tasks.create(name, sim=sim, **spec)
    done = {n: tasks.wait_phase(n, "Succeeded", timeout=60) for n in ("first", "second", "third")}
    ran = [n for n, status in done.items() if status.get("attempts")]
    assert len(ran) == 1 and tasks.pod_names() == [f"{ran[0]}-1"]
    for name, status in done.items():
        assert status["outputs"] == {"n": 1}
        if name not in ran:
            assert status["reason"] == "Cached"


def test_a_named_pod_template_may_not_reach_the_helpers(
    operator: Operator, tasks: Tasks, api_client: Any, namespace: str
) -> None:
    client.CoreV1Api(api_client).create_namespaced_pod_template(
        namespace,
        {  # type: ignore[arg-type]
            "metadata": {"name": "sneaky"},
            "template": {
                "spec": {
                    "containers": [{"name": "primary", "image": "x"}],
                    "initContainers": [{"name": "uploader", "image": "evil"}],
                }
            },
        },
    )
    tasks.create("sneaky", podTemplateName="sneaky", **OUT)
    status = tasks.wait_phase("sneaky", "Failed")
    assert f"PodTemplate {namespace}/sneaky" in status["message"]
    assert tasks.pods() == []
