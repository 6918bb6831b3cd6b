"""Fixtures for copilot tests: a CopilotConfig built the way the operator ships it (JSON), with
input and output directories and an object store (``file://``) under the test's tmp dir."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from copilot_helpers import Dirs, MakeConfig

from containertask.api.contract import CopilotConfig


@pytest.fixture
def dirs(tmp_path: Path) -> Dirs:
    return Dirs(tmp_path)


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
