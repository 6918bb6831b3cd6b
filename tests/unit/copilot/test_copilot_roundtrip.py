"""Every type both ways: the downloader writes an input, a "program" copies it to the output
directory unchanged, and the uploader must read back the same value."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from copilot_helpers import Dirs, MakeConfig

from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_json, to_json
from containertask.copilot.download import download
from containertask.copilot.upload import upload
from containertask.storage import Storage

pytestmark = pytest.mark.unit

VALUES: list[tuple[str, Any]] = [
    ("int", -12),
    ("float", 0.1),
    ("str", "a b\tc"),
    ("bool", True),
    ("datetime", datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)),
    ("timedelta", timedelta(hours=1, microseconds=5)),
    ("list[float]", [1.5, -2.0]),
    ("dict[str, int]", {"a": 1, "b": 2}),
    ("list[dict[str, str]]", [{"k": "v"}, {}]),
]


@pytest.mark.parametrize(("type_", "value"), VALUES, ids=[t for t, _ in VALUES])
def test_values_survive_download_copy_upload(
    dirs: Dirs, make_config: MakeConfig, type_: str, value: Any
) -> None:
    t = TypeRef.parse(type_)
    config = make_config([{"name": "x", "type": type_, "value": to_json(t, value)}], {"x": type_})
    download(config, Storage())
    copy = shutil.copytree if (dirs.inputs / "x").is_dir() else shutil.copyfile
    copy(dirs.inputs / "x", dirs.outputs / "x")

    result = upload(config, Storage())

    assert result.ok, result.error
    assert from_json(t, result.outputs["x"], "x") == value


@pytest.mark.parametrize("layout", ["direct", "namedDir"])
def test_blobs_survive_download_copy_upload(
    dirs: Dirs, make_config: MakeConfig, layout: str
) -> None:
    f = dirs.source("in/data.bin", bytes(range(256)))
    dirs.source("in/tree/a", b"A")
    inputs = [
        {"name": "f", "type": "file", "uri": f},
        {"name": "d", "type": "directory", "uri": f"file://{dirs.store}/src/in/tree"},
    ]
    config = make_config(inputs, {"f": "file", "d": "directory"}, fileInputLayout=layout)
    plan = download(config, Storage())
    assert plan is not None
    local_file = plan.values["f"]
    assert isinstance(local_file, File)
    shutil.copyfile(local_file.uri, dirs.outputs / "f")
    shutil.copytree(dirs.inputs / "d", dirs.outputs / "d")

    result = upload(config, Storage())

    assert result.ok, result.error
    assert result.outputs == {"f": f"{dirs.prefix}/f", "d": f"{dirs.prefix}/d"}
    assert Storage().read_bytes(f"{dirs.prefix}/f") == bytes(range(256))
    assert Storage().list(Directory(f"{dirs.prefix}/d").uri) == [f"{dirs.prefix}/d/a"]
