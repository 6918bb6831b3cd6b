"""Helpers for copilot tests: directories of a fake pod and object store, and the copilot run as a
process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

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


MakeConfig = Callable[..., CopilotConfig]

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
