"""The README's main job in real containers: the ellipse example through the SDK, the operator
(as a process, then as the chart's pod), the copilot image in the task pod, MinIO behind it."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from e2ekit import ChartOperator
from kubernetes import client

import containertask
import localcluster
from containertask import Phase
from containertask.sdk.client import Client
from containertask.storage import Storage
from localcluster.images import Image

pytestmark = pytest.mark.e2e


def test_ellipse_runs_in_a_real_container(
    run_task: Callable[..., containertask.Run],
    ellipse: containertask.ContainerTask,
    node_cluster: localcluster.Cluster,
    storage: Storage,
) -> None:
    run = run_task(ellipse, a=3.0, b=4.0)
    status = run.wait(timeout=180)
    assert status.phase is Phase.SUCCEEDED, status
    outputs = run.outputs()
    assert outputs["area"] == pytest.approx(math.pi * 12, rel=1e-9)
    # Inputs reach the command in Go's format, as Flyte renders them: 3.0 is "3".
    assert storage.read_bytes(outputs["metadata"].uri) == b"a=3 b=4\n"
    # The program's own output, through the apiserver -> kubelet path (kubectl logs).
    pod = status.attempts[-1].pod
    logs = node_cluster.kubectl("logs", "-n", run.namespace, pod, "-c", "main").stdout
    assert logs.startswith("ellipse a=3 b=4: area 37.699111843077") and logs.endswith("\n")
    assert run.logs() == logs
    cli = [sys.executable, "-m", "containertask.cli", "logs", run.name, "-n", run.namespace]
    cli += ["--kubeconfig", str(node_cluster.kubeconfig)]
    printed = subprocess.run(cli, check=False, capture_output=True, text=True)
    assert (printed.returncode, printed.stdout) == (0, logs), printed.stderr


def test_task_pods_run_on_the_real_node_with_no_way_off_the_machine(
    run_task: Callable[..., containertask.Run],
    node_images: dict[str, Image],
    node_cluster: localcluster.Cluster,
) -> None:
    """Routes and resolver of a task pod: only the pod subnet and the Service range, and no
    nameserver but the pod's own loopback (nothing is resolved through the machine's resolver)."""
    probe = containertask.ContainerTask(
        name="net-probe",
        image=node_images["examples"].ref,
        command=["sh", "-c", "ip route; echo resolv:; cat /etc/resolv.conf"],
        outputs={},
    )
    run = run_task(probe)
    status = run.wait(timeout=180)
    assert status.phase is Phase.SUCCEEDED, status
    pod = status.attempts[-1].pod
    node = node_cluster.kubectl(
        "get", "pod", "-n", run.namespace, pod, "-o", "jsonpath={.spec.nodeName}"
    ).stdout
    assert node == node_cluster.node_name
    routes, resolv = run.logs().split("resolv:\n")
    assert "default" not in routes
    assert sorted(line.split()[0] for line in routes.splitlines()) == [
        "10.244.0.0/24",
        "10.96.0.0/16",
    ]
    # The pod's own loopback: a query goes nowhere, the machine's resolver is never asked.
    assert [line for line in resolv.splitlines() if "nameserver" in line] == [
        "nameserver 127.0.0.1"
    ]


def test_chart_operator_runs_as_a_pod_and_runs_the_main_job(
    chart_operator: ChartOperator,
    api_client: Any,
    ellipse: containertask.ContainerTask,
    node_cluster: localcluster.Cluster,
) -> None:
    core = client.CoreV1Api(api_client)
    [pod] = core.list_namespaced_pod(
        chart_operator.namespace,
        label_selector=f"app.kubernetes.io/instance={chart_operator.release}",
    ).items
    assert pod.spec is not None and pod.status is not None
    assert pod.status.phase == "Running"
    assert pod.spec.node_name == node_cluster.node_name
    assert pod.spec.service_account_name == chart_operator.release
    assert pod.spec.containers[0].image == chart_operator.image.ref

    sdk = Client(api_client, chart_operator.namespace)
    run = containertask.with_runcontext(client=sdk).run(ellipse, a=3.0, b=4.0)
    assert isinstance(run, containertask.Run)
    status = run.wait(timeout=180)
    assert status.phase is Phase.SUCCEEDED, status
    assert run.outputs()["area"] == pytest.approx(math.pi * 12, rel=1e-9)
    task_pod = core.read_namespaced_pod(status.attempts[-1].pod, chart_operator.namespace)
    assert task_pod.spec is not None and task_pod.spec.init_containers is not None
    copilot_images = {c.image for c in task_pod.spec.init_containers}
    assert copilot_images == {chart_operator.image.ref}  # the copilot defaults to the operator's

    assert pod.metadata is not None and pod.metadata.name is not None
    deadline = time.monotonic() + 30
    log = ""
    while "Forbidden" not in log and time.monotonic() < deadline:
        log = core.read_namespaced_pod_log(pod.metadata.name, chart_operator.namespace)
        if run.name in log:
            break
        time.sleep(1)
    assert "Forbidden" not in log
