"""Fixtures for local execution against a real engine: dockerd and Podman's service, started under
the run dir by ``localengine`` (and stopped at the end if this session started them), with the
test images loaded. Each test points DOCKER_HOST at the engine and keeps its runs in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import localengine


@pytest.fixture(scope="session", params=localengine.KINDS)
def engine(request: pytest.FixtureRequest) -> Iterator[localengine.Engine]:
    keep = os.environ.get("CONTAINERTASK_KEEP_ENGINE") == "1"
    with localengine.session(request.param, keep=keep) as running:
        yield running


@pytest.fixture
def local_env(
    engine: localengine.Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> localengine.Engine:
    monkeypatch.setenv("DOCKER_HOST", engine.host)
    monkeypatch.setenv("CONTAINERTASK_LOCAL_NETWORK", "none")
    monkeypatch.setenv("CONTAINERTASK_LOCAL_PULL", "never")
    monkeypatch.setenv("CONTAINERTASK_LOCAL_DIR", str(tmp_path / "runs"))
    return engine
