"""Upload mode ``eager``: start uploading file outputs while the main container still runs.

A closed file is not necessarily final — the program may reopen it, append, or rename another file
over it — so an early upload is only a head start, checked at the end: a file output is uploaded
once it has been left alone for ``quiet_seconds``, with a fingerprint taken *before* reading it
(device, inode, size, modification and change times). When the main container has exited, the
uploader skips a file whose fingerprint is unchanged and uploads again any file that changed. Any
write after the fingerprint moves the change time (which programs cannot set back) past the
recorded one, so an unchanged fingerprint means unchanged content.

Files are read like on exit, through :mod:`containertask.copilot.outputdir`: regular files only,
never through a link. Only top-level ``file`` outputs are uploaded early; directories and collections may still grow and
are uploaded on exit. Early uploads go to the attempt's own prefix and ``outputs.pb`` is written
only at the end, so a failed attempt's early files are never taken for results.
"""

from __future__ import annotations

import stat
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from containertask.api.contract import CopilotConfig
from containertask.copilot import events, outputdir
from containertask.storage import Storage, StorageError, join

Fingerprint = tuple[int, int, int, int, int]


def fingerprint(path: Path) -> Fingerprint | None:
    """The fingerprint of the regular file ``path`` (a link is not followed); None for anything
    else, which the final pass reads again and refuses."""
    try:
        st = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class EagerUploader:
    """A background thread that uploads settled file outputs; :meth:`stop` returns what it sent."""

    def __init__(
        self,
        config: CopilotConfig,
        storage: Storage,
        *,
        quiet_seconds: float = 2.0,
        poll_seconds: float = 1.0,
    ) -> None:
        prefix = config.output_prefix or ""
        self._targets = {
            Path(config.data_loading.output_path, o.name): join(prefix, o.name)
            for o in config.outputs
            if o.type.name == "file" and prefix
        }
        self._open = outputdir.opener(Path(config.data_loading.output_path))
        self._storage, self._quiet, self._poll = storage, quiet_seconds, poll_seconds
        self._sent: dict[Path, Fingerprint] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eager-upload", daemon=True)

    def start(self) -> None:
        if self._targets:
            self._thread.start()

    def stop(self) -> dict[Path, Fingerprint]:
        """Stop after the upload in progress, if any; returns {path: fingerprint uploaded}."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()
        return dict(self._sent)

    def _run(self) -> None:
        while not self._stopping.wait(self._poll):
            for path, uri in self._targets.items():
                if self._stopping.is_set():
                    return
                self._maybe_upload(path, uri)

    def _maybe_upload(self, path: Path, uri: str) -> None:
        before = fingerprint(path)
        if before is None or self._sent.get(path) == before:
            return
        settled_since = max(before[3], before[4]) / 1e9
        if time.time() - settled_since < self._quiet:
            return
        try:
            self._storage.upload_file(path, uri, self._open)
        except (StorageError, OSError, outputdir.UnsafeEntryError) as e:
            # The final pass reads it again and reports.
            events.emit("eager-upload-failed", path=str(path), error=str(e))
            return
        self._sent[path] = before
        events.emit("eager-uploaded", path=str(path), uri=uri, bytes=before[2])


def unchanged(sent: Mapping[Path, Fingerprint], path: Path) -> bool:
    """Whether ``path`` is exactly what the eager uploader sent."""
    return path in sent and fingerprint(path) == sent[path]
