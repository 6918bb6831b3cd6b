"""Reading the output directory without leaving it.

The uploader holds the object-store credentials and reads what the task's program left in the
output directory. Only regular files and directories count as outputs: a symbolic link (say to
``/proc/self/environ``, the uploader's own environment), a FIFO (which would block the upload), a
device or a socket is an :class:`UnsafeEntryError`, which the uploader reports as a user error naming
the output. Checking with ``lstat`` alone is not enough while other containers of the pod may
still run (eager uploads, native sidecars): between the check and the read, a directory could
become a link. So every read goes down from the output directory one component at a time with
``O_NOFOLLOW`` (``openat``), and what it opened must be a regular file (``fstat``).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO, Final, Literal

from containertask.api.constants import KERNEL_PATHS
from containertask.storage import Opener

_READ: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_NOT_FOLLOWED: Final = (errno.ELOOP, errno.ENOTDIR, errno.ENXIO)


class UnsafeEntryError(ValueError):
    """An entry of the output directory that is not a regular file or a directory."""


def describe(mode: int) -> str:
    """What a file of ``mode`` is, in words."""
    for test, name in (
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISREG, "a regular file"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def under_kernel_paths(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``, links resolved, is in /proc, /sys or /dev."""
    real = os.path.realpath(path)
    return any(real == p or real.startswith(f"{p}/") for p in KERNEL_PATHS)


def kind(path: Path) -> Literal["file", "directory"] | None:
    """``file`` or ``directory`` by ``lstat`` (links are not followed); None when ``path`` does not
    exist; :class:`UnsafeEntryError` for anything else."""
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    raise UnsafeEntryError(f"{path} is {describe(mode)}; outputs are regular files and directories")


def files_below(root: Path, directory: Path) -> list[Path]:
    """Every regular file below ``directory`` (itself below ``root``), sorted; no link is
    followed, on the way down to ``directory`` either, and any entry that is not a regular file
    or a directory raises :class:`UnsafeEntryError` naming it."""
    found: list[Path] = []
    fd = _open_dir(root, directory)
    try:
        _walk(fd, directory, found)
    finally:
        os.close(fd)
    return sorted(found)


def _walk(dir_fd: int, path: Path, found: list[Path]) -> None:
    with os.scandir(dir_fd) as entries:
        for entry in entries:
            mode = entry.stat(follow_symlinks=False).st_mode
            if stat.S_ISREG(mode):
                found.append(path / entry.name)
            elif stat.S_ISDIR(mode):
                sub = _open_at(dir_fd, path / entry.name, os.O_DIRECTORY)
                try:
                    _walk(sub, path / entry.name, found)
                finally:
                    os.close(sub)
            else:
                raise UnsafeEntryError(
                    f"{path / entry.name} is {describe(mode)}; outputs are regular files and "
                    "directories"
                )


def opener(root: Path) -> Opener:
    """A function that opens a file below ``root`` for reading without following any link on
    the way, and only if it is a regular file."""

    def open_below(path: Path) -> BinaryIO:
        if path == root:
            raise UnsafeEntryError(f"{path} is the output directory itself")
        fd = _open_dir(root, path.parent)
        try:
            # O_NONBLOCK: a FIFO swapped in after the check opens at once instead of blocking.
            file_fd = _open_at(fd, path, os.O_NONBLOCK | os.O_NOCTTY, regular=True)
        finally:
            os.close(fd)
        mode = os.fstat(file_fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(file_fd)
            raise UnsafeEntryError(f"{path} is {describe(mode)}; outputs are regular files")
        os.set_blocking(file_fd, True)
        return os.fdopen(file_fd, "rb")

    return open_below


def _open_dir(root: Path, directory: Path) -> int:
    """A descriptor of ``directory``, opened from ``root`` one component at a time, none of
    them followed if it is a link (``root`` itself is the helpers' own mount)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    walked = root
    try:
        for part in directory.relative_to(root).parts:
            walked = walked / part
            parent, fd = fd, _open_at(fd, walked, os.O_DIRECTORY)
            os.close(parent)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_at(dir_fd: int, path: Path, flags: int, *, regular: bool = False) -> int:
    """``openat(dir_fd, path.name)`` without following a link; the entry is checked with
    ``lstat`` first, so a FIFO or device is never opened."""
    try:
        mode = os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False).st_mode
        expected = stat.S_ISREG(mode) if regular else stat.S_ISDIR(mode)
        if not expected:
            raise UnsafeEntryError(f"{path} is {describe(mode)}")
        return os.open(path.name, _READ | flags, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in _NOT_FOLLOWED:  # replaced by a link or worse since the check
            raise UnsafeEntryError(
                f"{path} changed into something that is not followed: {e}"
            ) from e
        raise
