"""The downloader against a local ``file://`` store: every type, format, layout and failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from copilot_helpers import Dirs, MakeConfig
from flyteidl2.core import literals_pb2

from containertask.api import templating
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_literal_map, to_literal_map
from containertask.copilot.download import DownloadError, download
from containertask.storage import Storage

pytestmark = pytest.mark.unit


def tree(root: Path) -> dict[str, str]:
    """Every text file below ``root`` as {relative path: text}."""
    return {
        p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".pb"
    }


@pytest.mark.parametrize(
    ("type_", "value", "expected"),
    [
        ("int", 42, {"x": "42"}),
        ("float", 2.5, {"x": "2.5"}),
        ("str", "hello world", {"x": "hello world"}),
        ("bool", False, {"x": "false"}),
        ("datetime", "2024-05-01T12:00:00Z", {"x": "2024-05-01T12:00:00Z"}),
        ("timedelta", 90, {"x": "1m30s"}),
        ("list[int]", [3, 1], {"x/0": "3", "x/1": "1"}),
        ("list[list[bool]]", [[True], []], {"x/0/0": "true"}),
        ("dict[str, str]", {"a": "A", "b c": "B"}, {"x/a": "A", "x/b c": "B"}),
        ("dict[str, list[int]]", {"k": [7]}, {"x/k/0": "7"}),
    ],
    ids=lambda v: str(v) if isinstance(v, str) else None,
)
def test_inline_values_are_written_as_text(
    dirs: Dirs, make_config: MakeConfig, type_: str, value: Any, expected: dict[str, str]
) -> None:
    download(make_config([{"name": "x", "type": type_, "value": value}]), Storage())

    written = {k: v for k, v in tree(dirs.inputs).items() if not k.startswith("inputs.")}
    assert written == expected
    if type_ == "list[list[bool]]":
        assert (dirs.inputs / "x" / "1").is_dir()  # an empty inner list is an empty directory


@pytest.mark.parametrize(
    ("layout", "expected"),
    [("direct", "f"), ("namedDir", "f/data.csv")],
    ids=["direct", "namedDir"],
)
def test_file_input_lands_where_the_command_line_says(
    dirs: Dirs, make_config: MakeConfig, layout: str, expected: str
) -> None:
    uri = dirs.source("data.csv", b"a,b\n1,2\n")
    download(
        make_config([{"name": "f", "type": "file", "uri": uri}], fileInputLayout=layout), Storage()
    )

    rendered = templating.input_path("f", TypeRef("file"), uri, str(dirs.inputs), layout)
    assert rendered == str(dirs.inputs / expected)
    assert Path(rendered).read_bytes() == b"a,b\n1,2\n"


def test_directory_and_collections_of_blobs(dirs: Dirs, make_config: MakeConfig) -> None:
    dirs.source("tree/a.txt", b"A")
    dirs.source("tree/sub/b.txt", b"B")
    one, two = dirs.source("one.bin", b"1"), dirs.source("two.bin", b"2")
    inputs = [
        {"name": "d", "type": "directory", "uri": f"file://{dirs.store}/src/tree"},
        {"name": "fs", "type": "list[file]", "value": [one, two]},
        {"name": "m", "type": "dict[str, file]", "value": {"first": one}},
    ]
    download(make_config(inputs, fileInputLayout="namedDir"), Storage())

    assert tree(dirs.inputs / "d") == {"a.txt": "A", "sub/b.txt": "B"}
    assert tree(dirs.inputs / "fs") == {"0/one.bin": "1", "1/two.bin": "2"}
    assert tree(dirs.inputs / "m") == {"first/one.bin": "1"}


@pytest.mark.parametrize(
    ("fmt", "documents"),
    [
        ("JSON", {"inputs.pb", "inputs.json"}),
        ("YAML", {"inputs.pb", "inputs.yaml"}),
        ("PROTO", {"inputs.pb"}),
    ],
    ids=["JSON", "YAML", "PROTO"],
)
def test_value_documents_per_format_name_local_paths(
    dirs: Dirs, make_config: MakeConfig, fmt: str, documents: set[str]
) -> None:
    uri = dirs.source("data.csv")
    inputs = [
        {"name": "n", "type": "int", "value": 3},
        {"name": "when", "type": "datetime", "value": "2024-05-01T12:00:00Z"},
        {"name": "f", "type": "file", "uri": uri},
    ]
    download(make_config(inputs, format=fmt), Storage())

    assert {p.name for p in dirs.inputs.glob("inputs.*")} == documents
    types = {"n": TypeRef("int"), "when": TypeRef("datetime"), "f": TypeRef("file")}
    literal_map = literals_pb2.LiteralMap.FromString((dirs.inputs / "inputs.pb").read_bytes())
    assert from_literal_map(types, literal_map, "inputs") == {
        "n": 3,
        "when": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "f": File(str(dirs.inputs / "f")),
    }
    expected_plain = {"n": 3, "when": "2024-05-01T12:00:00Z", "f": str(dirs.inputs / "f")}
    if fmt == "JSON":
        assert json.loads((dirs.inputs / "inputs.json").read_text()) == expected_plain
    if fmt == "YAML":
        assert yaml.safe_load((dirs.inputs / "inputs.yaml").read_text()) == expected_plain


def test_values_from_inputs_uri(dirs: Dirs, make_config: MakeConfig) -> None:
    types = {"k": TypeRef("timedelta"), "d": TypeRef("directory")}
    dirs.source("tree/x", b"X")
    literal_map = to_literal_map(
        types, {"k": timedelta(seconds=1.5), "d": Directory(f"file://{dirs.store}/src/tree")}
    )
    pb = dirs.store / "given" / "inputs.pb"
    pb.parent.mkdir()
    pb.write_bytes(literal_map.SerializeToString())
    inputs = [{"name": "k", "type": "timedelta"}, {"name": "d", "type": "directory"}]

    download(make_config(inputs, inputs_uri=f"file://{pb}"), Storage())

    assert (dirs.inputs / "k").read_text() == "1.5s"
    assert (dirs.inputs / "d" / "x").read_text() == "X"
    assert json.loads((dirs.inputs / "inputs.json").read_text()) == {
        "k": 1.5,
        "d": str(dirs.inputs / "d"),
    }


def test_mode_none_writes_nothing(dirs: Dirs, make_config: MakeConfig) -> None:
    config = make_config([{"name": "n", "type": "int", "value": 1}], downloadMode="none")
    assert download(config, Storage()) is None
    assert not dirs.inputs.exists()


def test_stream_mode_provides_everything_before_returning(
    dirs: Dirs, make_config: MakeConfig
) -> None:
    uri = dirs.source("big.bin", b"x" * 100_000)
    config = make_config([{"name": "f", "type": "file", "uri": uri}], downloadMode="stream")
    download(config, Storage())
    assert (dirs.inputs / "f").stat().st_size == 100_000


@pytest.mark.parametrize(
    ("inputs", "inputs_uri", "names"),
    [
        (
            [{"name": "f", "type": "file", "uri": "file:///nonexistent/data.csv"}],
            None,
            ["inputs.f", "file:///nonexistent/data.csv"],
        ),
        (
            [{"name": "fs", "type": "list[file]", "value": ["file:///nonexistent/x"]}],
            None,
            ["inputs.fs[0]", "file:///nonexistent/x"],
        ),
        (
            [{"name": "n", "type": "int"}],
            "file:///nonexistent/inputs.pb",
            ["inputs.pb", "file:///nonexistent/inputs.pb"],
        ),
    ],
    ids=["missing-file", "missing-file-in-list", "missing-inputs-pb"],
)
def test_failed_download_names_the_input_and_uri(
    make_config: MakeConfig, inputs: list[dict[str, Any]], inputs_uri: str | None, names: list[str]
) -> None:
    with pytest.raises(DownloadError) as caught:
        download(make_config(inputs, inputs_uri=inputs_uri), Storage())
    for name in names:
        assert name in str(caught.value)


def test_inputs_uri_missing_a_declared_input(dirs: Dirs, make_config: MakeConfig) -> None:
    pb = dirs.store / "inputs.pb"
    pb.write_bytes(to_literal_map({"a": TypeRef("int")}, {"a": 1}).SerializeToString())
    inputs = [{"name": "a", "type": "int"}, {"name": "b", "type": "int"}]
    with pytest.raises(DownloadError, match=r"inputs\.b: missing"):
        download(make_config(inputs, inputs_uri=str(pb)), Storage())


@pytest.mark.parametrize("key", ["a/b", "..", ""], ids=["slash", "dotdot", "empty"])
def test_dict_key_that_is_no_file_name_is_refused(make_config: MakeConfig, key: str) -> None:
    config = make_config([{"name": "m", "type": "dict[str, int]", "value": {key: 1}}])
    with pytest.raises(ValueError, match=r"inputs\.m"):
        download(config, Storage())


def test_directory_input_with_nothing_below_it_fails(dirs: Dirs, make_config: MakeConfig) -> None:
    uri = f"file://{dirs.store}/no-such-dir"
    config = make_config([{"name": "d", "type": "directory", "uri": uri}])
    with pytest.raises(DownloadError, match=f"inputs.d: no objects below {uri}"):
        download(config, Storage())


def test_unsupported_uri_names_the_input(make_config: MakeConfig) -> None:
    config = make_config([{"name": "f", "type": "list[file]", "value": ["http://example.com/x"]}])
    with pytest.raises(ValueError, match=r"inputs\.f\[0\]: unsupported scheme 'http'"):
        download(config, Storage())
