"""Fixtures for operator tests: the chart's CRD, operators watching the test's namespace, tasks."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from operatorkit import CHART, Operator, Tasks

import localcluster
from containertask.api.constants import CRD_NAME, TRACKING_FINALIZER


@pytest.fixture(scope="session")
def chart_crd(cluster: localcluster.Cluster) -> str:
    """The chart's copy of the CRD, applied once (applying it again is a no-op)."""
    cluster.kubectl("apply", "-f", str(CHART / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    return CRD_NAME


@pytest.fixture
def start_operator(
    cluster: localcluster.Cluster, chart_crd: str, namespace: str, tmp_path: Path, api_client: Any
) -> Iterator[Callable[..., Operator]]:
    """Starts operators watching ``namespace`` (extra flags as arguments); stops them at the end,
    then lets go of the pods they still hold (the tracking finalizer would keep them, and the
    namespace, from being deleted)."""
    started: list[Operator] = []
    env = {
        **os.environ,
        **cluster.env(),
        "PYTHONUNBUFFERED": "1",
        # As the chart sets it: tasks with outputs and no spec.outputLocation are runnable.
        "CONTAINERTASK_OUTPUT_LOCATION": f"s3://{cluster.s3_bucket}/runs",
    }

    def start(*args: str, kubeconfig: Path | None = None, kopf_run: bool = False) -> Operator:
        run_env = {**env, "KUBECONFIG": str(kubeconfig)} if kubeconfig else env
        log = tmp_path / "operator.log"
        op = Operator(run_env, [f"--namespace={namespace}", *args], log, kopf_run)
        op.start()
        started.append(op)
        return op

    yield start
    for op in started:
        if op.process is not None and op.process.poll() is None:
            op.stop()
    core = client.CoreV1Api(api_client)
    release = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
    for pod in core.list_namespaced_pod(namespace).items:
        assert pod.metadata is not None and pod.metadata.name is not None
        if TRACKING_FINALIZER in (pod.metadata.finalizers or ()):
            core.patch_namespaced_pod(pod.metadata.name, namespace, release)


@pytest.fixture
def operator(start_operator: Callable[..., Operator]) -> Operator:
    return start_operator()


@pytest.fixture
def tasks(api_client: Any, namespace: str) -> Tasks:
    return Tasks(api_client, namespace)
