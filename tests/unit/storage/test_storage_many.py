"""Many transfers at once: the bounded pool, its failure semantics, and downloads that fail
midway (on local files, the same code path that serves s3, gs and az)."""

from __future__ import annotations

import errno
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from containertask.storage import Limits, Storage, StorageError
from containertask.storage import store as store_module
from containertask.storage.store import _bounded, _relative_path

pytestmark = pytest.mark.unit


def test_bounded_returns_every_result_and_never_exceeds_the_limit() -> None:
    lock, running, peak = threading.Lock(), [0], [0]

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        threading.Event().wait(0.001)
        with lock:
            running[0] -= 1
        return n * n

    assert sorted(_bounded(4, work, iter(range(200)))) == [n * n for n in range(200)]
    assert 1 < peak[0] <= 4


def test_bounded_first_failure_cancels_what_has_not_started() -> None:
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        if n == 3:
            raise ValueError("item 3")
        threading.Event().wait(0.005)
        return n

    with pytest.raises(ValueError, match="item 3"):
        _bounded(2, work, range(1000))
    assert len(started) < 50  # far from all 1000


def test_bounded_failure_of_the_items_stops_the_calls_and_is_raised() -> None:
    done: list[int] = []

    def items() -> Iterator[int]:
        yield from range(10)
        raise StorageError("list", "s3://b/prefix", "connection reset")

    def work(n: int) -> None:
        threading.Event().wait(0.005)
        done.append(n)

    with pytest.raises(StorageError, match="list s3://b/prefix: connection reset"):
        _bounded(2, work, items())
    assert len(done) <= 10


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("a/b.txt", "a/b.txt"),
        ("a/./b.txt", "a/b.txt"),
        ("a/../b.txt", "b.txt"),
        ("..", None),
        ("../x", None),
        ("a/../../x", None),
        ("/etc/passwd", None),
    ],
    ids=["plain", "dot", "inner-dotdot", "dotdot", "parent", "climbs-out", "absolute"],
)
def test_keys_below_a_prefix_stay_in_the_directory(relative: str, expected: str | None) -> None:
    assert _relative_path(relative) == expected


def _store_files(tmp_path: Path, count: int) -> str:
    base = tmp_path / "store" / "dir"
    for i in range(count):
        (base / f"g{i % 4}").mkdir(parents=True, exist_ok=True)
        (base / f"g{i % 4}" / f"f{i:03d}").write_bytes(b"x" * i)
    return f"file://{base}"


def test_one_failing_file_of_many_names_its_uri_and_leaves_no_partial_file(
    tmp_path: Path,
) -> None:
    uri = _store_files(tmp_path, 100)
    out = tmp_path / "out"
    (out / "g1").mkdir(parents=True)
    (out / "g1" / ".f041.partial").mkdir()  # the download of f041 cannot open its file

    with pytest.raises(StorageError, match=f"download {uri}/g1/f041: .*Is a directory"):
        Storage(Limits(concurrency=4)).download_dir(uri, out)

    assert not (out / "g1" / "f041").exists()
    assert [p.name for p in out.rglob(".*.partial")] == [".f041.partial"]  # ours, untouched


def test_a_write_failing_midway_removes_the_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = _store_files(tmp_path, 3)

    def disk_full(fd: int, data: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module, "_write_all", disk_full)
    with pytest.raises(StorageError, match=r"download file://.*/f00\d: .*No space left"):
        Storage().download_dir(uri, tmp_path / "out")

    assert [p for p in (tmp_path / "out").rglob("*") if p.is_file()] == []
