"""Fixtures for end-to-end tests: real containers on the local cluster's real node.

- ``node_cluster``: the session's cluster, with the real node (tests are skipped without it).
- ``node_images``: the images built from this worktree (cached by content) and loaded into the
  node, by name: ``containertask`` (operator + copilot), ``examples`` (busybox + examples/*.sh),
  ``pause``.
- ``task_namespace``: a fresh namespace with the MinIO Secret the copilot loads, one per session.
- ``operator``: ``containertask operator`` as a process on the host, watching ``task_namespace``,
  with the real copilot image in its task pods; ``run_task`` submits through the SDK there. One
  per session: each test's tasks have names of their own, so they share it.
- ``examples_image``: busybox plus examples/*.sh, the image of the tests' shell tasks;
  ``storage``: MinIO as the tests read it.
- ``chart_operator``: the chart installed with the local image (its own release and namespace,
  the operator as a pod under the chart's ServiceAccount), watching ``CHART_NAMESPACE``.

Images are built right after collection, so a cold build is not charged to a test's timeout.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2ekit import ChartOperator
from operatorkit import CHART, Operator

import containertask
import localcluster
from containertask.api.constants import CRD_NAME
from containertask.sdk import loader
from containertask.sdk.client import Client
from containertask.storage import Storage
from localcluster import deploy, images
from localcluster.images import Image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CHART_RELEASE = "containertask-e2e"
CHART_NAMESPACE = "containertask-e2e"


def pytest_collection_finish(session: pytest.Session) -> None:
    settings = localcluster.Settings()
    if settings.real_node and any(item.get_closest_marker("e2e") for item in session.items):
        images.build_all(settings)


@pytest.fixture(scope="session")
def node_cluster(cluster: localcluster.Cluster) -> localcluster.Cluster:
    if cluster.node_name is None:
        pytest.skip(
            "e2e tests need the real node, which does not run from this run directory "
            "(CONTAINERTASK_REAL_NODE=0, or another run directory runs it)"
        )
    return cluster


@pytest.fixture(scope="session")
def node_images(node_cluster: localcluster.Cluster) -> dict[str, Image]:
    return deploy.images_on_node(localcluster.Settings())


@pytest.fixture(scope="session")
def crd(node_cluster: localcluster.Cluster) -> str:
    node_cluster.kubectl("apply", "-f", str(CHART / "crds"))
    node_cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    return CRD_NAME


@pytest.fixture(scope="session")
def task_namespace(node_cluster: localcluster.Cluster, session_namespace: str) -> str:
    deploy.apply_s3_secret(node_cluster, session_namespace)
    return session_namespace


@pytest.fixture(scope="session")
def operator(
    node_cluster: localcluster.Cluster,
    node_images: dict[str, Image],
    crd: str,
    task_namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Operator]:
    env = {**os.environ, **node_cluster.env(), "PYTHONUNBUFFERED": "1"}
    args = [
        f"--namespace={task_namespace}",
        f"--copilot-image={node_images['containertask'].ref}",
        f"--copilot-secret={deploy.SECRET}",
        f"--output-location={deploy.output_location(node_cluster)}",
    ]
    op = Operator(env, args, tmp_path_factory.mktemp("operator") / "operator.log")
    op.start()
    yield op
    if op.process is not None and op.process.poll() is None:
        op.stop()


@pytest.fixture(scope="session")
def sdk_client(api_client: Any, task_namespace: str) -> Client:
    return Client(api_client, task_namespace)


@pytest.fixture(scope="session")
def run_task(operator: Operator, sdk_client: Client) -> Callable[..., containertask.Run]:
    """Submit a task (``containertask.ContainerTask``) with inputs to the process operator."""

    def run(task: containertask.ContainerTask, **inputs: Any) -> containertask.Run:
        submitted = containertask.with_runcontext(client=sdk_client).run(task, **inputs)
        assert isinstance(submitted, containertask.Run)
        return submitted

    return run


@pytest.fixture(scope="session")
def examples_image(node_images: dict[str, Image]) -> Image:
    return node_images["examples"]


@pytest.fixture(scope="session")
def storage(node_cluster: localcluster.Cluster) -> Iterator[Storage]:
    """The object store as the tests read it (MinIO, with the cluster's credentials)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in node_cluster.env().items():
            if key.startswith("AWS_"):
                patch.setenv(key, value)
        yield Storage()


@pytest.fixture(scope="session")
def ellipse(node_images: dict[str, Image]) -> containertask.ContainerTask:
    """The README's example task, in this worktree's examples image (as ``hack/cluster env``
    names it to the example module)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERTASK_EXAMPLES_IMAGE", node_images["examples"].ref)
        return loader.load_task(f"{EXAMPLES / 'ellipse.py'}:ellipse_area")


@pytest.fixture(scope="session")
def chart_operator(
    node_cluster: localcluster.Cluster, node_images: dict[str, Image], crd: str
) -> Iterator[ChartOperator]:
    image = node_images["containertask"]
    deploy.install(node_cluster, image, CHART_RELEASE, CHART_NAMESPACE, watch=(CHART_NAMESPACE,))
    yield ChartOperator(CHART_RELEASE, CHART_NAMESPACE, image)
    node_cluster.kubectl("delete", "namespace", CHART_NAMESPACE, "--wait=false", check=False)
    deploy.uninstall(node_cluster, CHART_RELEASE, CHART_NAMESPACE)
