"""Shared test setup: ``hack/`` (``localcluster``, ``localengine``), the repository root
(``examples``) and the operator test kit are importable, the hypothesis profiles, and the fixtures
of tests against the local cluster (integration and e2e).

Property tests run under the ``ci`` profile unless ``HYPOTHESIS_PROFILE`` names another: no
per-example deadline and no wall-clock health checks, which fail on a loaded 2-core machine
(``FailedHealthCheck: Input generation is slow``) without saying anything about the code. The
``dev`` profile keeps hypothesis' defaults for finding slow strategies on purpose.

``cluster`` brings the cluster up once per session (reusing a running one) and at the end stops
only the components it started, unless another pytest session is still using the cluster;
``CONTAINERTASK_KEEP_CLUSTER=1`` leaves them running.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from kubernetes import client, config

_ROOT = Path(__file__).resolve().parents[1]
for _path in (_ROOT / "hack", _ROOT, _ROOT / "tests" / "integration" / "operator"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

import localcluster  # noqa: E402 - from hack/

CLUSTER_MARKERS = ("integration", "e2e")

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build missing binaries before any test runs: a cold build takes far longer than one
    test's timeout, which would otherwise be charged to the first test using ``cluster``."""
    if any(item.get_closest_marker(m) for item in session.items for m in CLUSTER_MARKERS):
        localcluster.ensure_built(localcluster.Settings())


@pytest.fixture(scope="session")
def cluster() -> Iterator[localcluster.Cluster]:
    keep = os.environ.get("CONTAINERTASK_KEEP_CLUSTER") == "1"
    with localcluster.session(keep=keep) as running:
        yield running


@pytest.fixture(scope="session")
def api_client(cluster: localcluster.Cluster) -> Iterator[Any]:
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(cluster.kubeconfig)
    )
    yield api
    api.close()


@contextmanager
def _fresh_namespace(api_client: Any) -> Iterator[str]:
    """A fresh namespace (with its ``default`` service account ready), deleted afterwards."""
    core = client.CoreV1Api(api_client)
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    deadline = time.monotonic() + 30
    while not core.list_namespaced_service_account(
        name, field_selector="metadata.name=default"
    ).items:
        if time.monotonic() > deadline:
            raise TimeoutError(f"namespace {name}: no default service account after 30s")
        time.sleep(0.1)
    yield name
    core.delete_namespace(name)


@pytest.fixture
def namespace(api_client: Any) -> Iterator[str]:
    """A fresh namespace per test (with its ``default`` service account ready)."""
    with _fresh_namespace(api_client) as name:
        yield name


@pytest.fixture(scope="session")
def session_namespace(api_client: Any) -> Iterator[str]:
    """A fresh namespace shared by a session's tests (for one operator serving many tests)."""
    with _fresh_namespace(api_client) as name:
        yield name
