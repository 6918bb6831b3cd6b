"""The uploader reads only regular files and directories inside the output directory: links
(to files outside, to /proc/self/environ), FIFOs, devices and sockets are user errors naming the
output, never read — the uploader's environment holds the object-store credentials."""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from copilot_helpers import Dirs, MakeConfig

from containertask.copilot import outputdir
from containertask.copilot.eager import EagerUploader
from containertask.copilot.upload import upload
from containertask.storage import Storage

pytestmark = pytest.mark.unit

SECRET = "AWS_SECRET_ACCESS_KEY=do-not-leak"


def secret_file(dirs: Dirs) -> Path:
    outside = dirs.root / "outside.txt"
    outside.write_text(SECRET)
    return outside


def link_to_outside(dirs: Dirs, target: Path) -> None:
    target.symlink_to(secret_file(dirs))


def link_to_environ(dirs: Dirs, target: Path) -> None:
    target.symlink_to("/proc/self/environ")


def fifo(dirs: Dirs, target: Path) -> None:
    os.mkfifo(target)


def unix_socket(dirs: Dirs, target: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(target))


def dir_link(dirs: Dirs, target: Path) -> None:
    secret_file(dirs)
    target.symlink_to(dirs.root, target_is_directory=True)


Plant = Callable[[Dirs, Path], None]
UNSAFE: dict[str, tuple[Plant, str]] = {
    "link-outside": (link_to_outside, "a symbolic link"),
    "link-proc-environ": (link_to_environ, "a symbolic link"),
    "fifo": (fifo, "a FIFO"),
    "socket": (unix_socket, "a socket"),
    "link-to-directory": (dir_link, "a symbolic link"),
}


def nothing_stored_leaks(dirs: Dirs) -> None:
    for path in dirs.store.rglob("*"):
        if path.is_file():
            assert b"do-not-leak" not in path.read_bytes(), path


@pytest.mark.parametrize("kind", sorted(UNSAFE))
@pytest.mark.parametrize(
    ("type_", "where"),
    [
        ("file", "report"),
        ("str", "report"),
        ("directory", "report/nested/entry"),
        ("list[file]", "report/0"),
        ("dict[str, str]", "report/k"),
    ],
    ids=["file", "primitive", "inside-a-directory", "in-a-list", "in-a-dict"],
)
def test_unsafe_entries_are_user_errors_naming_the_output(
    dirs: Dirs, make_config: MakeConfig, kind: str, type_: str, where: str
) -> None:
    plant, words = UNSAFE[kind]
    target = dirs.outputs / where
    target.parent.mkdir(parents=True, exist_ok=True)
    plant(dirs, target)

    result = upload(make_config(outputs={"report": type_}), Storage())

    assert (result.ok, result.error_kind) == (False, "output")
    assert "output 'report'" in (result.error or "")
    assert words in (result.error or "")
    assert "do-not-leak" not in result.to_message()
    nothing_stored_leaks(dirs)


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device needs root")
def test_a_device_is_refused(dirs: Dirs, make_config: MakeConfig) -> None:
    os.mknod(dirs.outputs / "report", stat.S_IFCHR | 0o600, os.makedev(1, 3))  # /dev/null

    result = upload(make_config(outputs={"report": "file"}), Storage())

    assert (result.ok, result.error_kind) == (False, "output")
    assert "a character device" in (result.error or "")


def test_an_error_file_that_is_a_link_is_not_read(dirs: Dirs, make_config: MakeConfig) -> None:
    (dirs.outputs / "_ERROR").symlink_to("/proc/self/environ")

    result = upload(make_config(outputs={"n": "int"}), Storage())

    assert (result.ok, result.error_kind) == (False, "user")
    assert result.error is not None and result.error.startswith("_ERROR: ")
    assert "a symbolic link" in result.error
    assert "PATH=" not in result.error


def test_regular_files_and_directories_still_upload(dirs: Dirs, make_config: MakeConfig) -> None:
    (dirs.outputs / "tree" / "a" / "b").mkdir(parents=True)
    (dirs.outputs / "tree" / "a" / "b" / "deep.txt").write_text("deep")
    (dirs.outputs / "tree" / "top.txt").write_text("top")

    result = upload(make_config(outputs={"tree": "directory"}), Storage())

    assert result.ok, result.error
    stored = dirs.store / "run" / "attempt-1" / "tree"
    assert (stored / "a" / "b" / "deep.txt").read_text() == "deep"
    assert (stored / "top.txt").read_text() == "top"


def test_the_opener_refuses_a_directory_swapped_for_a_link_after_the_check(
    dirs: Dirs,
) -> None:
    """The race the lstat check alone would lose: between listing and reading, a directory of
    the output becomes a link to a directory outside."""
    (dirs.outputs / "tree").mkdir()
    (dirs.outputs / "tree" / "f").write_text("mine")
    listed = outputdir.files_below(dirs.outputs, dirs.outputs / "tree")
    outside = dirs.root / "elsewhere"
    outside.mkdir()
    (outside / "f").write_text(SECRET)
    (dirs.outputs / "tree" / "f").unlink()
    (dirs.outputs / "tree").rmdir()
    (dirs.outputs / "tree").symlink_to(outside, target_is_directory=True)

    with pytest.raises(outputdir.UnsafeEntryError, match="tree"):
        outputdir.opener(dirs.outputs)(listed[0])


def test_listing_a_directory_swapped_for_a_link_is_refused(dirs: Dirs) -> None:
    (dirs.outputs / "tree").symlink_to(dirs.root, target_is_directory=True)
    with pytest.raises(outputdir.UnsafeEntryError, match="tree"):
        outputdir.files_below(dirs.outputs, dirs.outputs / "tree")


def test_the_opener_never_opens_a_fifo(dirs: Dirs) -> None:
    os.mkfifo(dirs.outputs / "pipe")
    with pytest.raises(outputdir.UnsafeEntryError, match="a FIFO"):
        outputdir.opener(dirs.outputs)(dirs.outputs / "pipe")


def test_an_output_directory_in_proc_is_refused(make_config: MakeConfig, dirs: Dirs) -> None:
    (dirs.root / "proc-link").symlink_to("/proc/self", target_is_directory=True)
    config = make_config(outputs={"environ": "str"}, outputPath=str(dirs.root / "proc-link"))

    result = upload(config, Storage())

    assert (result.ok, result.error_kind) == (False, "output")
    assert "kernel file system" in (result.error or "")


def test_eager_upload_skips_links_and_the_final_pass_refuses_them(
    dirs: Dirs, make_config: MakeConfig
) -> None:
    (dirs.outputs / "report").symlink_to("/proc/self/environ")
    config = make_config(outputs={"report": "file"}, uploadMode="eager")
    early = EagerUploader(config, Storage(), quiet_seconds=0)
    early._maybe_upload(dirs.outputs / "report", f"{dirs.prefix}/report")  # one pass, no thread
    sent = early.stop()

    assert sent == {}
    assert not (dirs.store / "run").exists()
    result = upload(config, Storage(), sent)
    assert (result.ok, result.error_kind) == (False, "output")
    assert "a symbolic link" in (result.error or "")


class SwappingStorage(Storage):
    """A store that, just before uploading, lets a 'sidecar' swap the checked file for a link."""

    def __init__(self, victim: Path, target: str) -> None:
        super().__init__()
        self.victim, self.target = victim, target

    def upload_files(self, pairs: Any, opener: Any = None) -> int:
        self.victim.unlink()
        self.victim.symlink_to(self.target)
        return super().upload_files(pairs, opener)


def test_a_file_swapped_for_a_link_after_the_check_is_refused_at_upload(
    dirs: Dirs, make_config: MakeConfig
) -> None:
    (dirs.outputs / "report").write_text("mine")
    storage = SwappingStorage(dirs.outputs / "report", str(secret_file(dirs)))

    result = upload(make_config(outputs={"report": "file"}), storage)

    assert (result.ok, result.error_kind) == (False, "output")
    assert "report" in (result.error or "") and "symbolic link" in (result.error or "")
    nothing_stored_leaks(dirs)
