"""``containertask copilot download|upload`` as processes: configuration sources, exit codes, the
termination message, and the uploader waiting for the kubelet's SIGTERM."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from copilot_helpers import Dirs, MakeConfig, start, wait_for_event

from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.api.contract import UploadResult
from containertask.copilot.entrypoint import main

pytestmark = pytest.mark.unit


def test_uploader_waits_for_sigterm_then_uploads(
    dirs: Dirs, make_config: MakeConfig, tmp_path: Path
) -> None:
    log = tmp_path / "termination-log"
    proc = start(
        ["upload", "--termination-log", str(log)], make_config(outputs={"n": "int"}).to_json()
    )
    wait_for_event(proc, "waiting")
    (dirs.outputs / "n").write_text("7")  # the main container writes its output, then exits
    time.sleep(0.2)
    assert proc.poll() is None, "the uploader must not exit before SIGTERM"

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 0
    result = UploadResult.from_message(log.read_text())
    assert (result.ok, dict(result.outputs)) == (True, {"n": 7})
    assert (dirs.store / "run" / "attempt-1" / "outputs.pb").exists()


def test_uploader_reports_failure_after_sigterm(make_config: MakeConfig, tmp_path: Path) -> None:
    log = tmp_path / "termination-log"
    proc = start(
        ["upload", "--termination-log", str(log)], make_config(outputs={"n": "int"}).to_json()
    )
    wait_for_event(proc, "waiting")
    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=30) == 1
    result = UploadResult.from_message(log.read_text())
    assert (result.ok, result.error_kind) == (False, "output")
    assert "'n': missing" in (result.error or "")


def test_upload_no_wait_with_config_file(
    dirs: Dirs, make_config: MakeConfig, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.json"
    config.write_text(make_config(outputs={"ok": "bool"}).to_json())
    (dirs.outputs / "ok").write_text("true\n")
    log = tmp_path / "log"

    code = main(["upload", "--no-wait", "--config", str(config), "--termination-log", str(log)])

    assert code == 0
    assert UploadResult.from_message(log.read_text()).outputs == {"ok": True}
    assert UploadResult.from_message(capsys.readouterr().out).ok


def test_download_failure_exits_non_zero_with_a_message(
    make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = make_config([{"name": "data", "type": "file", "uri": "file:///nonexistent/d.csv"}])
    monkeypatch.setenv(COPILOT_CONFIG_ENV, config.to_json())
    log = tmp_path / "log"

    assert main(["download", "--termination-log", str(log)]) == 1
    message = log.read_text()
    assert "inputs.data" in message and "file:///nonexistent/d.csv" in message


def test_download_success(
    dirs: Dirs, make_config: MakeConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        COPILOT_CONFIG_ENV, make_config([{"name": "a", "type": "int", "value": 1}]).to_json()
    )
    assert main(["download", "--termination-log", str(tmp_path / "log")]) == 0
    assert (dirs.inputs / "a").read_text() == "1"


@pytest.mark.parametrize(
    ("command", "config"),
    [("download", None), ("upload", None), ("upload", "{not json"), ("download", '{"inputs": []}')],
    ids=["download-unset", "upload-unset", "upload-bad-json", "download-incomplete"],
)
def test_missing_or_bad_configuration_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, config: str | None
) -> None:
    monkeypatch.delenv(COPILOT_CONFIG_ENV, raising=False)
    if config is not None:
        monkeypatch.setenv(COPILOT_CONFIG_ENV, config)
    log = tmp_path / "log"
    args = [command, "--termination-log", str(log)] + (["--no-wait"] if command == "upload" else [])

    assert main(args) == 1
    if command == "upload":
        result = UploadResult.from_message(log.read_text())
        assert (result.ok, result.error_kind) == (False, "system")
    else:
        assert log.read_text().startswith("download failed")
