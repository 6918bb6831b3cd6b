"""The real uploader, through its entry point, against the cluster's MinIO: an output directory
holding links (to a secret outside, to /proc/self/environ), a FIFO and a link inside a directory
output gives a user error naming each output, and nothing of it reaches the object store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_copilot_minio import config_for, run_copilot

from containertask.api.contract import UploadResult
from containertask.storage import Storage

pytestmark = pytest.mark.integration


def test_links_fifos_and_proc_are_refused_and_never_uploaded(
    s3_prefix: str, tmp_path: Path
) -> None:
    outputs = tmp_path / "outputs"
    (outputs / "tree").mkdir(parents=True)
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key=do-not-leak\n")
    (outputs / "report").symlink_to(secret)
    (outputs / "env").symlink_to("/proc/self/environ")
    os.mkfifo(outputs / "pipe")
    (outputs / "tree" / "good.txt").write_text("fine")
    (outputs / "tree" / "leak").symlink_to(secret)
    (outputs / "n").write_text("3")
    config = config_for(
        tmp_path,
        s3_prefix,
        [],
        {"report": "file", "env": "str", "pipe": "file", "tree": "directory", "n": "int"},
    )

    code = run_copilot("upload", config, tmp_path)

    assert code == 1
    result = UploadResult.from_message((tmp_path / "upload.log").read_text())
    assert (result.ok, result.error_kind) == (False, "output")
    error = result.error or ""
    for name, words in (
        ("report", "a symbolic link"),
        ("env", "a symbolic link"),
        ("pipe", "a FIFO"),
        ("tree", "a symbolic link"),
    ):
        assert f"output {name!r}" in error and words in error, name
    assert "do-not-leak" not in json.dumps(result.to_message())
    assert "PATH=" not in error
    assert Storage().list(s3_prefix) == []


def test_regular_outputs_still_reach_minio(s3_prefix: str, tmp_path: Path) -> None:
    outputs = tmp_path / "outputs"
    (outputs / "tree" / "sub").mkdir(parents=True)
    (outputs / "tree" / "sub" / "deep.txt").write_text("deep")
    (outputs / "report").write_text("report")
    config = config_for(tmp_path, s3_prefix, [], {"report": "file", "tree": "directory"})

    assert run_copilot("upload", config, tmp_path) == 0

    storage = Storage()
    assert storage.read_bytes(f"{s3_prefix}/attempt-1/report") == b"report"
    assert storage.read_bytes(f"{s3_prefix}/attempt-1/tree/sub/deep.txt") == b"deep"
