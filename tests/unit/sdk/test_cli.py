"""The command line: task references, inputs from text, render, crd and dispatch."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import yaml

from containertask import File, cli
from containertask.api import TaskSpec
from containertask.sdk import loader

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = f"{ROOT / 'examples' / 'ellipse.py'}:ellipse_area"


def test_render_prints_the_manifest(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["render", EXAMPLE, "--input", "a=3", "-i", "b=4.5", "-n", "team"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["metadata"]["namespace"] == "team"
    assert TaskSpec.from_dict(doc["spec"]).input_values == {"a": 3.0, "b": 4.5}


def test_render_is_byte_identical_across_calls(capsys: pytest.CaptureFixture[str]) -> None:
    cli.main(["render", EXAMPLE, "-i", "a=3", "-i", "b=4"])
    first = capsys.readouterr().out
    cli.main(["render", EXAMPLE, "-i", "b=4", "-i", "a=3.0"])
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["render", EXAMPLE, "-i", "a=three", "-i", "b=4"], "--input a: not a valid float"),
        (["render", EXAMPLE, "-i", "a=3"], "inputs.b: is required"),
        (["render", EXAMPLE, "-i", "a=3", "-i", "c=4"], "--input c: not an input; allowed: a, b"),
        (["render", EXAMPLE, "-i", "a=3", "-i", "a=4"], "--input a: given twice"),
        (["render", EXAMPLE, "-i", "a"], "--input: expected name=value"),
        (["render", "examples/ellipse.py"], "task: not a task reference"),
        (["render", f"{ROOT / 'examples' / 'ellipse.py'}:nothing"], "has no ContainerTask named"),
        (["render", "missing_file.py:t"], "task: no such Python file"),
    ],
    ids=["bad-float", "missing", "unknown", "twice", "no-equals", "no-colon", "no-task", "no-file"],
)
def test_bad_input_exits_2_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_module_references_load_too() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        task = loader.load_task("examples.ellipse:ellipse_area")
    finally:
        sys.path.remove(str(ROOT))
    assert task.name == "ellipse-area"


@pytest.mark.parametrize(
    ("type_name", "text", "value"),
    [
        ("int", " 42 ", 42),
        ("bool", "false", False),
        ("str", "hello world", "hello world"),
        ("file", "s3://b/k", File("s3://b/k")),
        ("list[int]", "[1, 2]", [1, 2]),
        ("dict[str, list[float]]", '{"x": [1, 2.5]}', {"x": [1.0, 2.5]}),
    ],
    ids=["int", "bool", "str", "file", "list", "dict"],
)
def test_values_from_text(type_name: str, text: str, value: Any) -> None:
    from containertask.api import TypeRef

    assert loader.parse_value(TypeRef.parse(type_name), text, "--input x") == value


def test_collections_must_be_json() -> None:
    from containertask.api import SpecError, TypeRef

    with pytest.raises(SpecError, match=r"--input x: a list\[int\] is written as JSON"):
        loader.parse_value(TypeRef.parse("list[int]"), "1,2", "--input x")


def test_crd_prints_the_lead_s_crd(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["crd"]) == 0
    doc = yaml.safe_load(capsys.readouterr().out)
    assert doc["kind"] == "CustomResourceDefinition"
    assert doc["metadata"]["name"] == "containertasks.containertask.io"


@pytest.mark.parametrize("command", ["operator", "copilot"])
def test_operator_and_copilot_get_the_rest_of_the_command_line(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[list[str]] = []

    def main(argv: list[str]) -> int:
        seen.append(argv)
        return 7

    module = types.ModuleType("entrypoint")
    module.main = main  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, cli.ENTRY_POINTS[command], module)
    assert cli.main([command, "--flag", "value", "-h"]) == 7
    assert seen == [["--flag", "value", "-h"]]


def test_importing_the_cli_imports_neither_operator_copilot_sdk_nor_kubernetes() -> None:
    import subprocess

    code = (
        "import sys, containertask.cli; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(("
        "'containertask.controller', 'containertask.copilot', 'containertask.sdk', 'kubernetes')))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []
