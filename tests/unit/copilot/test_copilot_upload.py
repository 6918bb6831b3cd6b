"""The uploader against a local ``file://`` store: every type, format and user or system error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from copilot_helpers import Dirs, MakeConfig
from flyteidl2.core import literals_pb2

from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_literal_map
from containertask.copilot.upload import upload
from containertask.storage import Storage

pytestmark = pytest.mark.unit


def write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def stored_outputs(dirs: Dirs, types: dict[str, str]) -> dict[str, Any]:
    literal_map = literals_pb2.LiteralMap.FromString(
        (dirs.store / "run" / "attempt-1" / "outputs.pb").read_bytes()
    )
    return from_literal_map({k: TypeRef.parse(t) for k, t in types.items()}, literal_map, "out")


@pytest.mark.parametrize(
    ("type_", "files", "expected"),
    [
        ("int", {"x": " 42\n"}, 42),
        ("float", {"x": "1e-3"}, 0.001),
        ("str", {"x": "  hi there \n"}, "hi there"),
        ("bool", {"x": "false\n"}, False),
        ("bool", {"x": "TRUE"}, True),
        ("datetime", {"x": "2024-05-01T12:00:00+02:00"}, datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("timedelta", {"x": "90"}, timedelta(seconds=90)),
        ("list[int]", {"x/1": "20", "x/0": "10", "x/2": "30"}, [10, 20, 30]),
        ("dict[str, bool]", {"x/yes": "1", "x/no": "0"}, {"yes": True, "no": False}),
        ("dict[str, list[str]]", {"x/k/0": "a", "x/k/1": "b"}, {"k": ["a", "b"]}),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_primitive_and_collection_outputs(
    dirs: Dirs, make_config: MakeConfig, type_: str, files: dict[str, str], expected: Any
) -> None:
    write(dirs.outputs, files)
    result = upload(make_config(outputs={"x": type_}), Storage())

    assert result.ok, result.error
    assert stored_outputs(dirs, {"x": type_}) == {"x": expected}
    assert result.outputs_uri == f"{dirs.prefix}/outputs.pb"


def test_empty_list_output(dirs: Dirs, make_config: MakeConfig) -> None:
    (dirs.outputs / "x").mkdir()
    result = upload(make_config(outputs={"x": "list[file]"}), Storage())
    assert result.ok
    assert result.outputs == {"x": []}


def test_blob_outputs_are_uploaded_below_the_prefix(dirs: Dirs, make_config: MakeConfig) -> None:
    write(
        dirs.outputs,
        {
            "report": "R",
            "plots/a.png": "A",
            "plots/deep/b.png": "B",
            "parts/0": "p0",
            "parts/1": "p1",
        },
    )
    types = {"report": "file", "plots": "directory", "parts": "list[file]"}
    result = upload(make_config(outputs=types), Storage())

    assert result.ok, result.error
    run = dirs.store / "run" / "attempt-1"
    assert (run / "report").read_text() == "R"
    assert (run / "plots" / "deep" / "b.png").read_text() == "B"
    assert (run / "parts" / "1").read_text() == "p1"
    assert stored_outputs(dirs, types) == {
        "report": File(f"{dirs.prefix}/report"),
        "plots": Directory(f"{dirs.prefix}/plots"),
        "parts": [File(f"{dirs.prefix}/parts/0"), File(f"{dirs.prefix}/parts/1")],
    }
    assert result.outputs["report"] == f"{dirs.prefix}/report"


@pytest.mark.parametrize(
    ("fmt", "documents"),
    [
        ("JSON", {"outputs.pb", "outputs.json"}),
        ("YAML", {"outputs.pb", "outputs.yaml"}),
        ("PROTO", {"outputs.pb"}),
    ],
    ids=["JSON", "YAML", "PROTO"],
)
def test_value_documents_per_format(
    dirs: Dirs, make_config: MakeConfig, fmt: str, documents: set[str]
) -> None:
    write(dirs.outputs, {"n": "5", "f": "F"})
    assert upload(make_config(outputs={"n": "int", "f": "file"}, format=fmt), Storage()).ok

    run = dirs.store / "run" / "attempt-1"
    assert {p.name for p in run.glob("outputs.*")} == documents
    plain = {"n": 5, "f": f"{dirs.prefix}/f"}
    if fmt == "JSON":
        assert json.loads((run / "outputs.json").read_text()) == plain
    if fmt == "YAML":
        assert yaml.safe_load((run / "outputs.yaml").read_text()) == plain


@pytest.mark.parametrize(
    ("outputs", "files", "fragments"),
    [
        ({"a": "int", "b": "file"}, {}, ["'a': missing", "'b': missing"]),
        ({"n": "int"}, {"n": "4.5"}, ["'n'", "not a valid int", "'4.5'"]),
        ({"n": "float"}, {"n": "nan"}, ["'n'", "not a valid float"]),
        ({"b": "bool"}, {"b": "yes"}, ["'b'", "true, false, 1 or 0"]),
        ({"s": "str"}, {"s": "x" * 2000}, ["'s'", "2000 bytes", "inline limit of 1024"]),
        ({"f": "file"}, {"f/inner": "x"}, ["'f'", "expected a file"]),
        ({"d": "directory"}, {"d": "x"}, ["'d'", "expected a directory"]),
        ({"l": "list[int]"}, {"l/0": "1", "l/2": "3"}, ["'l'", "named 0 to 1"]),
        ({"l": "list[int]"}, {"l/1": "x", "l/0": "1"}, ["'l'[1]", "not a valid int"]),
    ],
    ids=[
        "missing",
        "bad-int",
        "nan",
        "bad-bool",
        "oversized",
        "dir-for-file",
        "file-for-dir",
        "gap-in-list",
        "bad-list-item",
    ],
)
def test_bad_outputs_are_user_errors_naming_the_output(
    dirs: Dirs,
    make_config: MakeConfig,
    outputs: dict[str, str],
    files: dict[str, str],
    fragments: list[str],
) -> None:
    write(dirs.outputs, files)
    result = upload(make_config(outputs=outputs), Storage())

    assert (result.ok, result.error_kind) == (False, "output")
    for fragment in fragments:
        assert fragment in (result.error or "")
    assert not (dirs.store / "run").exists()  # nothing is published for a failed attempt


def test_inline_limit_is_configurable(dirs: Dirs, make_config: MakeConfig) -> None:
    write(dirs.outputs, {"s": "x" * 2000})
    result = upload(make_config(outputs={"s": "str"}, inline_limit=4096), Storage())
    assert result.ok
    assert "s" in json.loads(result.to_message())["outputs"]


def test_error_file_is_a_user_error_with_its_text(dirs: Dirs, make_config: MakeConfig) -> None:
    write(dirs.outputs, {"_ERROR": "model diverged at step 7\n", "n": "1"})
    result = upload(make_config(outputs={"n": "int"}), Storage())
    assert (result.ok, result.error_kind, result.error) == (
        False,
        "user",
        "model diverged at step 7",
    )


def test_large_outputs_move_from_the_message_to_outputs_pb(
    dirs: Dirs, make_config: MakeConfig
) -> None:
    write(dirs.outputs, {f"s{i}": "y" * 900 for i in range(6)})
    types = {f"s{i}": "str" for i in range(6)}
    result = upload(make_config(outputs=types), Storage())
    message = json.loads(result.to_message())
    assert result.ok
    assert message["outputs"]
    assert set(message["outputs"]) < set(types)
    assert message["outputsUri"].endswith("outputs.pb")
    assert stored_outputs(dirs, types)["s5"] == "y" * 900


def test_store_failure_is_a_system_error(dirs: Dirs, make_config: MakeConfig) -> None:
    write(dirs.outputs, {"f": "F"})
    blocker = dirs.store / "run"
    blocker.write_text("a file where the prefix's directory should be")
    result = upload(make_config(outputs={"f": "file"}), Storage())
    assert (result.ok, result.error_kind) == (False, "system")
    assert f"{dirs.prefix}/f" in (result.error or "")


def test_no_prefix_with_declared_outputs_is_a_system_error(make_config: MakeConfig) -> None:
    result = upload(make_config(outputs={"n": "int"}, prefix=None), Storage())
    assert (result.ok, result.error_kind) == (False, "system")


def test_mode_none_uploads_nothing(dirs: Dirs, make_config: MakeConfig) -> None:
    write(dirs.outputs, {"n": "1"})
    result = upload(make_config(outputs={}, uploadMode="none"), Storage())
    assert result.ok
    assert not (dirs.store / "run").exists()
