"""Flyte's raw-container examples (examples/flyte), unchanged but for the import, run locally in
Docker and in Podman through every way Flyte offers to call a task."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest

import containertask
import localengine
from containertask import Dir, File
from examples.flyte.code_runner import python_code_runner
from examples.flyte.dir_io import shout_files
from examples.flyte.ellipse_python import calculate_ellipse_area_python
from examples.flyte.ellipse_shell import calculate_ellipse_area_shell
from examples.flyte.greeting import greeting_task

pytestmark = pytest.mark.integration

AREA = math.pi * 3 * 4


def test_ellipse_in_shell_by_a_direct_call(local_env: localengine.Engine) -> None:
    area, metadata = calculate_ellipse_area_shell(a=3, b=4)
    assert area == pytest.approx(AREA, rel=1e-12)
    assert metadata == "[from shell rawcontainer]"


def test_ellipse_in_python_by_aio(local_env: localengine.Engine) -> None:
    area, metadata = asyncio.run(calculate_ellipse_area_python.aio(a=3.0, b=4.0))
    assert area == AREA  # Python's str(float) round-trips exactly
    assert metadata == "[from python rawcontainer]"


def test_greeting_by_run_in_local_mode(local_env: localengine.Engine) -> None:
    run = containertask.run(greeting_task, name="Ada", mode="local")
    assert run.outputs() == {"greeting": "Hello, my name is Ada."}


def test_code_runner_with_a_local_file_by_with_runcontext(
    local_env: localengine.Engine, tmp_path: Path
) -> None:
    script = tmp_path / "add.py"
    script.write_text("import sys\nprint(int(sys.argv[1]) + int(sys.argv[2]))\n")
    ctx = containertask.with_runcontext(mode="local")
    run = ctx.run(python_code_runner, **{"script.py": File.from_local(script), "a": 3, "b": 4})
    assert run.outputs() == {"result": 7}


def test_dir_in_and_out_by_execute(local_env: localengine.Engine, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("hello")
    (docs / "b.txt").write_text("world")
    count, shouted = shout_files.execute(docs=Dir.from_local(docs))
    assert count == 2
    assert isinstance(shouted, Dir)
    out = Path(shouted.path)
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
    assert (out / "a.txt").read_text() == "HELLO"
