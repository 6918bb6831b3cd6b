"""The uploader: what the sidecar does once the main container has exited.

It reads every declared output from ``output_path``, uploads files and directories below the
attempt's output prefix, then writes ``outputs.pb`` (and ``outputs.json``/``.yaml``) last, so an
``outputs.pb`` present under a prefix means every blob it names is complete. The result is an
:class:`~containertask.api.contract.UploadResult`, successful only when every output was stored.
Only regular files and directories inside ``output_path`` are read, never through a link
(:mod:`containertask.copilot.outputdir`): anything else is a user error naming the output.

Modes: ``onExit`` uploads after the main container exited. ``eager`` also uploads settled file
outputs while the main container runs (see :mod:`containertask.copilot.eager`) and, at the end,
uploads only what changed since. ``none`` uploads nothing and reports success with no outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from containertask.api.constants import ERROR_FILE, OUTPUTS_PB
from containertask.api.contract import CopilotConfig, UploadResult
from containertask.api.values import to_json
from containertask.copilot import documents, events, outputdir
from containertask.copilot.eager import Fingerprint, unchanged
from containertask.copilot.layout import OutputError, read_outputs
from containertask.storage import Opener, Storage, StorageError, join

ERROR_TEXT_LIMIT = 64 * 1024


def upload(
    config: CopilotConfig, storage: Storage, sent: Mapping[Path, Fingerprint] | None = None
) -> UploadResult:
    """Upload the outputs of a finished main container; never raises for bad outputs or store
    failures, which are reported in the result (``error_kind`` user, output or system). Files in ``sent``
    (uploaded early, by :class:`~containertask.copilot.eager.EagerUploader`) are skipped when
    they have not changed since."""
    dl = config.data_loading
    if dl.upload_mode == "none":
        events.emit("upload-skipped", reason="uploadMode is none")
        return UploadResult(ok=True)
    open_below = outputdir.opener(Path(dl.output_path))
    reported = _error_file(Path(dl.output_path, ERROR_FILE), open_below)
    if reported is not None:
        return reported
    types = {o.name: o.type for o in config.outputs}
    if not types:
        return UploadResult(ok=True)
    prefix = config.output_prefix
    if not prefix:
        return UploadResult(
            ok=False, error_kind="system", error="no output prefix configured for declared outputs"
        )
    try:
        plan = read_outputs(types, dl.output_path, prefix, config.inline_limit_bytes)
    except OutputError as e:
        events.emit("bad-outputs", error=str(e))
        return UploadResult(ok=False, error_kind="output", error=str(e))
    try:
        fresh = [t for t in plan.files if not unchanged(sent or {}, t.path)]
        storage.upload_files([(t.path, t.uri) for t in fresh], opener=open_below)
        for name, content in documents.encode("outputs", types, plan.values, dl.format).items():
            storage.write_bytes(join(prefix, name), content)
    except outputdir.UnsafeEntryError as e:  # changed since read_outputs checked it
        events.emit("bad-outputs", error=str(e))
        return UploadResult(ok=False, error_kind="output", error=str(e))
    except StorageError as e:
        failed = plan.transfer_for(e.uri)
        where = f"{failed.field}: " if failed else ""
        events.emit("upload-failed", error=str(e))
        return UploadResult(ok=False, error_kind="system", error=f"{where}upload failed: {e}")
    outputs_uri = join(prefix, OUTPUTS_PB)
    events.emit("uploaded", outputs=len(types), files=len(fresh), uri=outputs_uri)
    return UploadResult(
        ok=True,
        outputs={name: to_json(types[name], v) for name, v in plan.values.items()},
        outputs_uri=outputs_uri,
    )


def _error_file(path: Path, open_below: Opener) -> UploadResult | None:
    """The task's own ``_ERROR`` file as a user error (None when there is none); read like an
    output, so a link to a file elsewhere is refused, not read."""
    try:
        if outputdir.kind(path) is None:
            return None
        with open_below(path) as f:
            text = f.read(ERROR_TEXT_LIMIT).decode("utf-8", "replace").strip()
    except outputdir.UnsafeEntryError as e:
        return UploadResult(ok=False, error_kind="user", error=f"{ERROR_FILE}: {e}")
    events.emit("user-error", file=str(path))
    return UploadResult(ok=False, error_kind="user", error=text or f"{ERROR_FILE} was written")
