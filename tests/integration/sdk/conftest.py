"""Fixtures for SDK tests on the local cluster: the CRD installed from crds/, an SDK client."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import localcluster
from containertask.api.constants import CRD_NAME
from containertask.sdk.client import Client

CRDS = Path(__file__).resolve().parents[3] / "crds"


@pytest.fixture(scope="session")
def crd(cluster: localcluster.Cluster) -> str:
    """Applies crds/ and waits until the apiserver serves the resource. The CRD stays installed:
    the cluster is shared, and applying it again is a no-op."""
    cluster.kubectl("apply", "-f", str(CRDS))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    return CRD_NAME


@pytest.fixture
def sdk_client(api_client: Any, namespace: str, crd: str) -> Client:
    return Client(api_client, namespace)
