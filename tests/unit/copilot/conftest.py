"""Helpers for copilot tests: a CopilotConfig built the way the operator ships it (JSON), with
input and output directories and an object store (``file://``) under the test's tmp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.api.contract import CopilotConfig


class Dirs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.inputs = root / "pod" / "inputs"
        self.outputs = root / "pod" / "outputs"
        self.store = root / "store"
        self.outputs.mkdir(parents=True)
        self.store.mkdir()
        self.prefix = f"file://{self.store}/run/attempt-1"

    def source(self, relative: str, content: bytes = b"data") -> str:
        """A file in the fake object store; returns its URI."""
        path = self.store / "src" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        return f"file://{path}"


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path)


MakeConfig = Callable[..., CopilotConfig]


@pytest.fixture
def make_config(dirs: Dirs) -> MakeConfig:
    def make(
        inputs: list[dict[str, Any]] | None = None,
        outputs: dict[str, str] | None = None,
        *,
        inputs_uri: str | None = None,
        inline_limit: int = 1024,
        prefix: str | None = "default",
        **data_loading: str,
    ) -> CopilotConfig:
        document = {
            "inputs": inputs or [],
            "outputs": [{"name": n, "type": t} for n, t in (outputs or {}).items()],
            "dataLoading": {
                "inputPath": str(dirs.inputs),
                "outputPath": str(dirs.outputs),
                **data_loading,
            },
            "inputsUri": inputs_uri,
            "outputPrefix": dirs.prefix if prefix == "default" else prefix,
            "inlineLimitBytes": inline_limit,
        }
        return CopilotConfig.from_json(json.dumps(document))

    return make


# The copilot as the CLI runs it, in a process of its own (for signals and exit codes).
RUN = [
    sys.executable,
    "-c",
    "import sys; from containertask.copilot.entrypoint import main; sys.exit(main(sys.argv[1:]))",
]


def start(args: list[str], config_json: str) -> subprocess.Popen[str]:
    env = {**os.environ, COPILOT_CONFIG_ENV: config_json}
    return subprocess.Popen(
        [*RUN, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for_event(proc: subprocess.Popen[str], event: str) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if json.loads(line)["event"] == event:
            return
    raise AssertionError(f"process ended before {event!r}")
