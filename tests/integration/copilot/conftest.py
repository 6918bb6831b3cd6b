"""Copilot tests against the cluster's MinIO: its credentials in the environment, the way a pod
receives them, and a fresh prefix in the test bucket per test."""

from __future__ import annotations

import uuid

import pytest

import localcluster


@pytest.fixture
def s3_prefix(cluster: localcluster.Cluster, monkeypatch: pytest.MonkeyPatch) -> str:
    for key, value in cluster.env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)
    return f"s3://{cluster.s3_bucket}/copilot-tests/{uuid.uuid4().hex[:12]}"
