"""Helpers for copilot tests: a CopilotConfig built the way the operator ships it (JSON), with
input and output directories and an object store (``file://``) under the test's tmp dir."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

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
