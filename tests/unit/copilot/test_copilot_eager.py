"""Upload mode ``eager``: settled file outputs go up while the main container runs; the final pass
skips what did not change since and uploads again what did."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from copilot_helpers import Dirs, MakeConfig, start, wait_for_event

from containertask.api.contract import UploadResult
from containertask.copilot.eager import EagerUploader
from containertask.copilot.upload import upload
from containertask.storage import Storage

pytestmark = pytest.mark.unit


def eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


@pytest.mark.parametrize(
    ("change_after_early_upload", "expected_remote"),
    [(False, b"planted"), (True, b"second version")],
    ids=["unchanged-is-skipped", "changed-is-uploaded-again"],
)
def test_early_upload_then_final_pass(
    dirs: Dirs, make_config: MakeConfig, change_after_early_upload: bool, expected_remote: bytes
) -> None:
    storage = Storage()
    config = make_config(outputs={"report": "file", "n": "int"}, uploadMode="eager")
    uri = f"{dirs.prefix}/report"
    early = EagerUploader(config, storage, quiet_seconds=0.2, poll_seconds=0.05)
    early.start()
    (dirs.outputs / "report").write_bytes(b"first version")
    eventually(lambda: storage.exists(uri))
    assert storage.read_bytes(uri) == b"first version"
    # Plant a marker remotely: the final pass must leave it alone unless the file changed.
    storage.write_bytes(uri, b"planted")
    if change_after_early_upload:
        (dirs.outputs / "report").write_bytes(b"second version")
    (dirs.outputs / "n").write_text("1")
    sent = early.stop()

    result = upload(config, storage, sent)

    assert result.ok, result.error
    assert storage.read_bytes(uri) == expected_remote


def test_a_file_still_being_written_is_not_uploaded_early(
    dirs: Dirs, make_config: MakeConfig
) -> None:
    storage = Storage()
    config = make_config(outputs={"report": "file"}, uploadMode="eager")
    early = EagerUploader(config, storage, quiet_seconds=30, poll_seconds=0.02)
    early.start()
    (dirs.outputs / "report").write_bytes(b"partial")
    time.sleep(0.3)
    assert early.stop() == {}
    assert not storage.exists(f"{dirs.prefix}/report")


def test_uploader_process_in_eager_mode(
    dirs: Dirs, make_config: MakeConfig, tmp_path: Path
) -> None:
    log = tmp_path / "termination-log"
    config = make_config(outputs={"report": "file"}, uploadMode="eager")
    proc = start(["upload", "--termination-log", str(log)], config.to_json())
    wait_for_event(proc, "waiting")
    (dirs.outputs / "report").write_bytes(b"R")
    wait_for_event(proc, "eager-uploaded")  # about two seconds after the file settled

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 0
    assert UploadResult.from_message(log.read_text()).outputs == {"report": f"{dirs.prefix}/report"}
