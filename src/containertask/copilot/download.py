"""The downloader: what the init container runs before the main container.

It fails loudly — any input it cannot provide raises :class:`DownloadError` naming the input and its
URI — so the main container never starts on missing inputs.

Modes: ``eager`` fetches everything before exiting. ``stream`` does the same: an init container
must exit before the main container starts, and a program cannot tell a half-written file from a
complete one, so starting the program while blobs still arrive would let it read truncated data.
(Blobs are always streamed to disk in bounded chunks, never held in memory.) ``none`` writes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flyteidl2.core import literals_pb2

from containertask.api.constants import INPUTS_PB
from containertask.api.contract import CopilotConfig
from containertask.api.errors import SpecError
from containertask.api.values import from_literal_map
from containertask.copilot import documents, events
from containertask.copilot.layout import Plan, plan_inputs
from containertask.storage import Storage, StorageError


class DownloadError(Exception):
    """An input could not be provided; the message names the input and the URI."""


def download(config: CopilotConfig, storage: Storage, root: Path | None = None) -> Plan | None:
    """Write every input into ``input_path``; returns what was written (None in mode ``none``).

    ``root``: where ``input_path`` is on this machine, when it is mounted there only later (a
    local run); the documents still name the paths the program sees."""
    dl = config.data_loading
    if dl.download_mode == "none":
        events.emit("download-skipped", reason="downloadMode is none")
        return None
    types = {i.name: i.type for i in config.inputs}
    plan = plan_inputs(types, _input_values(config, storage), dl.input_path, dl.file_input_layout)
    if root is not None:
        plan = plan.relocated(Path(dl.input_path), root)
    root = root or Path(dl.input_path)
    root.mkdir(parents=True, exist_ok=True)
    for directory in plan.dirs:
        directory.mkdir(parents=True, exist_ok=True)
    for path, text in plan.texts:
        path.write_text(text, encoding="utf-8")
    _fetch(storage, plan)
    for name, content in documents.encode("inputs", types, plan.values, dl.format).items():
        (root / name).write_bytes(content)
    events.emit(
        "downloaded",
        inputs=len(types),
        files=len(plan.files),
        directories=len(plan.directories),
        path=str(root),
    )
    return plan


def _input_values(config: CopilotConfig, storage: Storage) -> dict[str, Any]:
    """Inline values from the config, or the LiteralMap at ``inputs_uri``."""
    if not config.inputs_uri:
        return {i.name: i.resolved_value for i in config.inputs}
    uri = config.inputs_uri
    try:
        literal_map = literals_pb2.LiteralMap.FromString(storage.read_bytes(uri))
    except StorageError as e:
        raise DownloadError(f"inputs: could not read {INPUTS_PB} at {uri}: {e}") from e
    except Exception as e:  # a DecodeError from protobuf; its type is not public API
        raise DownloadError(f"inputs: {uri} is not a serialised LiteralMap: {e}") from e
    try:
        return from_literal_map({i.name: i.type for i in config.inputs}, literal_map, "inputs")
    except SpecError as e:
        raise DownloadError(f"{e} (in {uri})") from e


def _fetch(storage: Storage, plan: Plan) -> None:
    try:
        storage.download_files([(t.uri, t.path) for t in plan.files])
    except StorageError as e:
        failed = plan.transfer_for(e.uri)
        raise DownloadError(_failure(failed.field if failed else "inputs", e.uri, e)) from e
    for t in plan.directories:
        try:
            count = storage.download_dir(t.uri, t.path)
        except StorageError as e:
            raise DownloadError(_failure(t.field, t.uri, e)) from e
        if count == 0:  # object stores keep no empty directories: this is most likely a wrong URI
            raise DownloadError(f"{t.field}: no objects below {t.uri}")
        events.emit("downloaded-directory", input=t.field, uri=t.uri, files=count)


def _failure(field: str, uri: str, error: StorageError) -> str:
    return f"{field}: could not download {uri}: {error}"
