"""A task's life beside the program's own outcome, on the real node: an image that is not there,
the timeout, cancelling, deleting the task while it uploads, and the chart's operator pod deleted
while a task runs."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from e2ekit import ChartOperator, final_status, shell_task, task_pods, wait_for
from kubernetes import client
from kubernetes.client.exceptions import ApiException

import containertask
import localcluster
from containertask import Phase
from containertask.sdk.client import Client
from containertask.storage import Storage
from localcluster.images import Image

pytestmark = pytest.mark.e2e

RunTask = Callable[..., containertask.Run]
PULL_REASONS = ("ErrImagePull", "ImagePullBackOff")


def _running(run: containertask.Run) -> bool:
    return run.status().phase is Phase.RUNNING


def _name(pod: client.V1Pod) -> str | None:
    assert pod.metadata is not None
    return pod.metadata.name


def _phase(pod: client.V1Pod) -> str | None:
    assert pod.status is not None
    return pod.status.phase


def _absent_image_task(pending_seconds: int) -> containertask.ContainerTask:
    return containertask.ContainerTask(
        name="no-image",
        image="localhost/containertask-absent:0",
        command=["true"],
        timeout=containertask.Timeout(max_queued_time=pending_seconds),
    )


def test_missing_image_shows_the_pull_reason_within_ten_seconds(run_task: RunTask) -> None:
    """The kubelet writes ErrImagePull into the pod's status only at its next sync of the pod,
    10-15 s after the failed pull; its Warning event comes at once, and the operator reads it."""
    run = run_task(_absent_image_task(60))
    created = time.monotonic()
    wait_for("a pull reason", lambda: run.status().reason in PULL_REASONS, timeout=30)
    took = time.monotonic() - created
    print(f"pull reason {run.status().reason} after {took:.1f} s")
    assert took <= 10, f"pull reason after {took:.1f} s"
    assert "containertask-absent" in (run.status().message or "")
    run.cancel()


def test_missing_image_fails_at_the_pending_deadline_with_the_pull_reason(
    run_task: RunTask,
) -> None:
    status = final_status(run_task(_absent_image_task(20)))
    assert status.phase is Phase.FAILED, status
    assert status.reason == "PendingTimeout", status
    assert any(r in (status.message or "") for r in PULL_REASONS), status


def test_timeout_fails_the_task_and_stops_its_pod(
    run_task: RunTask, examples_image: Image, api_client: Any
) -> None:
    task = shell_task(examples_image, "sleeper", "sleep 600", timeout=15)
    run = run_task(task)
    status = final_status(run)
    assert status.phase is Phase.FAILED, status
    assert status.reason == "Timeout", status
    wait_for("the pod gone", lambda: not task_pods(api_client, run), timeout=60)


def test_cancel_mid_run_stops_the_pod(
    run_task: RunTask, examples_image: Image, api_client: Any
) -> None:
    task = shell_task(examples_image, "cancelled", "echo started; sleep 600")
    run = run_task(task)
    wait_for("Running", lambda: _running(run), timeout=120)
    run.cancel()
    status = final_status(run, timeout=60)
    assert status.phase is Phase.CANCELLED, status
    wait_for("the pod gone", lambda: not task_pods(api_client, run), timeout=60)


def test_delete_during_upload_removes_task_and_pod(
    run_task: RunTask, examples_image: Image, api_client: Any
) -> None:
    """A large output keeps the uploader busy; deleting the task then leaves nothing behind."""
    task = shell_task(
        examples_image,
        "deleted-uploading",
        "dd if=/dev/zero of=/var/outputs/big bs=1M count=768",
        {"big": containertask.File},
        resources=containertask.Resources(cpu="200m", memory="64Mi"),
    )
    run = run_task(task)
    wait_for("Uploading", lambda: run.status().reason == "Uploading", timeout=180, interval=0.1)
    run.client.delete(run.name, run.namespace)

    def task_gone() -> bool:
        try:
            run.client.get(run.name, run.namespace)
        except ApiException as err:
            status: int | None = err.status
            return status == 404
        return False

    wait_for("the task gone", task_gone, timeout=60)
    wait_for("the pod gone", lambda: not task_pods(api_client, run), timeout=60)


def test_operator_pod_deleted_mid_task_the_task_completes_with_one_pod(
    chart_operator: ChartOperator, api_client: Any, examples_image: Image
) -> None:
    core = client.CoreV1Api(api_client)
    selector = f"app.kubernetes.io/instance={chart_operator.release}"
    [operator_pod] = core.list_namespaced_pod(
        chart_operator.namespace, label_selector=selector
    ).items
    task = shell_task(
        examples_image, "outlives-operator", "sleep 15; echo 7 > /var/outputs/n", {"n": int}
    )
    sdk = Client(api_client, chart_operator.namespace)
    run = containertask.with_runcontext(client=sdk).run(task)
    assert isinstance(run, containertask.Run)
    wait_for("Running", lambda: _running(run), timeout=120)
    assert operator_pod.metadata is not None and operator_pod.metadata.name is not None
    core.delete_namespaced_pod(operator_pod.metadata.name, chart_operator.namespace)

    def replaced() -> bool:
        pods = core.list_namespaced_pod(chart_operator.namespace, label_selector=selector).items
        return any(_name(p) != _name(operator_pod) and _phase(p) == "Running" for p in pods)

    wait_for("a new operator pod", replaced, timeout=120)
    status = final_status(run)
    assert status.phase is Phase.SUCCEEDED, status
    assert run.outputs() == {"n": 7}
    assert len(status.attempts) == 1, status
    assert len(task_pods(api_client, run)) == 1


def test_downloading_inputs_is_initializing_then_the_program_runs(
    run_task: RunTask,
    examples_image: Image,
    storage: Storage,
    node_cluster: localcluster.Cluster,
    tmp_path: Path,
) -> None:
    """A real downloader staging a 1 GiB input shows as Initializing before the task runs."""
    size = 1 << 30
    local = tmp_path / "big"
    with local.open("wb") as f:
        f.truncate(size)
    uri = f"s3://{node_cluster.s3_bucket}/e2e-inputs/{uuid.uuid4().hex}/big"
    storage.upload_file(local, uri)
    task = shell_task(
        examples_image,
        "initializing",
        "wc -c < /var/inputs/big > /var/outputs/size",
        {"size": int},
        inputs={"big": containertask.File},
    )
    run = run_task(task, big=containertask.File.from_existing_remote(uri))
    seen: list[tuple[Phase, str | None]] = []

    def finished() -> bool:
        status = run.status()
        if status.phase is not None and (not seen or seen[-1] != (status.phase, status.reason)):
            seen.append((status.phase, status.reason))
        return status.phase in (Phase.SUCCEEDED, Phase.FAILED, Phase.CANCELLED)

    wait_for("the task to finish", finished, timeout=300, interval=0.1)
    phases = [phase for phase, _ in seen]
    assert phases[-1] is Phase.SUCCEEDED, (seen, run.status())
    assert Phase.INITIALIZING in phases, seen
    # After the download the task may be Pending again (containers starting), never as if its
    # pod had just been created.
    after = seen[phases.index(Phase.INITIALIZING) :]
    assert ("Pending", "PodCreated") not in [(p.value, r) for p, r in after], seen
    assert run.outputs()["size"] == size
