"""``containertask copilot download|upload``: the commands the downloader and uploader run, loaded
by :mod:`containertask.copilot.entrypoint` (which blocks the uploader's wake signals first).

The configuration is a :class:`~containertask.api.contract.CopilotConfig`, from the environment
variable ``CONTAINERTASK_COPILOT_CONFIG`` or ``--config FILE``. Both commands write their outcome to
the termination message (``/dev/termination-log``), which the kubelet copies into the pod status:
the uploader its ``UploadResult`` JSON, the downloader the reason it failed. Exit status 0 means
every input was written or every declared output was uploaded.

The uploader runs as a native sidecar and starts before the main container. The kubelet sends it
SIGTERM once every regular container has exited; that signal is its cue to upload, within the pod's
termination grace period. ``--no-wait`` uploads at once (local runs, tests).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.api.contract import TERMINATION_MESSAGE_LIMIT, CopilotConfig, UploadResult
from containertask.api.errors import SpecError
from containertask.copilot import events
from containertask.copilot.download import DownloadError, download
from containertask.copilot.eager import EagerUploader, Fingerprint
from containertask.copilot.entrypoint import WAKE_SIGNALS
from containertask.copilot.upload import upload
from containertask.storage import Storage

DEFAULT_TERMINATION_LOG = "/dev/termination-log"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.command == "download":
        return _download(args.config, args.termination_log)
    return _upload(args.config, args.termination_log, wait=not args.no_wait)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="containertask copilot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (
        ("download", "write the task's inputs into the input directory"),
        ("upload", "upload the declared outputs once the main container has exited"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument(
            "--config", help=f"CopilotConfig JSON file (default: ${COPILOT_CONFIG_ENV})"
        )
        command.add_argument(
            "--termination-log", default=DEFAULT_TERMINATION_LOG, help="where to write the outcome"
        )
    commands.choices["upload"].add_argument(
        "--no-wait", action="store_true", help="upload now instead of waiting for SIGTERM"
    )
    return parser


def _load_config(path: str | None) -> CopilotConfig:
    if path:
        return CopilotConfig.from_json(Path(path).read_text(encoding="utf-8"))
    text = os.environ.get(COPILOT_CONFIG_ENV)
    if not text:
        raise ValueError(f"set ${COPILOT_CONFIG_ENV} or pass --config FILE")
    return CopilotConfig.from_json(text)


def _download(config_path: str | None, termination_log: str) -> int:
    try:
        download(_load_config(config_path), Storage())
    except (DownloadError, SpecError, OSError, ValueError, KeyError) as e:
        events.emit("download-failed", error=str(e))
        _write_termination_log(termination_log, f"download failed: {e}")
        return 1
    return 0


def _upload(config_path: str | None, termination_log: str, *, wait: bool) -> int:
    # With ``wait``, the wake signals are blocked already (entrypoint.main): one arriving early
    # stays pending for sigwait; later ones are ignored while we upload.
    storage = Storage()
    try:
        config: CopilotConfig | Exception = _load_config(config_path)
    except (OSError, ValueError, KeyError) as e:
        events.emit("bad-config", error=str(e))
        config = e  # reported after the wait, as the final termination message
    sent = _wait_for_main(config, storage) if wait else {}
    try:
        if isinstance(config, Exception):
            raise config
        result = upload(config, storage, sent)
    except Exception as e:  # the process boundary: every failure must reach the operator
        events.emit("upload-failed", error=repr(e))
        result = UploadResult(ok=False, error_kind="system", error=f"uploader: {e}")
    message = result.to_message()
    _write_termination_log(termination_log, message)
    print(message)
    return 0 if result.ok else 1


def _wait_for_main(config: CopilotConfig | Exception, storage: Storage) -> dict[Path, Fingerprint]:
    """Block until SIGTERM (or SIGINT); in upload mode ``eager``, upload settled files meanwhile."""
    early = None
    if isinstance(config, CopilotConfig) and config.data_loading.upload_mode == "eager":
        early = EagerUploader(config, storage)
        early.start()
    events.emit("waiting", reason="until the main container exits (SIGTERM)")
    received = signal.sigwait(WAKE_SIGNALS)
    events.emit("woken", signal=signal.Signals(received).name)
    return early.stop() if early else {}


def _write_termination_log(path: str, message: str) -> None:
    data = message.encode()[:TERMINATION_MESSAGE_LIMIT].decode("utf-8", "ignore").encode()
    try:
        Path(path).write_bytes(data)
    except OSError as e:
        print(f"could not write the termination message to {path}: {e}", file=sys.stderr)
