"""The storage layer on local files (``file://`` URIs and plain paths): the same code path that
serves s3, gs and az, minus the network."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from containertask.storage import Limits, Location, NotFoundError, Storage, StorageError, join
from containertask.storage.store import _allows_http, _signs_payload

pytestmark = pytest.mark.unit
MiB = 1024 * 1024


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/a/b.csv", Location("s3", "bucket", "a/b.csv")),
        ("s3://bucket/dir/", Location("s3", "bucket", "dir")),
        ("s3://bucket", Location("s3", "bucket", "")),
        ("gs://b/k", Location("gs", "b", "k")),
        ("az://container/k", Location("az", "container", "k")),
        ("file:///tmp/x/../y", Location("file", "", "tmp/y")),
        ("/tmp/plain", Location("file", "", "tmp/plain")),
    ],
    ids=["s3", "s3-dir", "s3-bucket", "gs", "az", "file", "path"],
)
def test_location_parse(uri: str, expected: Location) -> None:
    assert Location.parse(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("http://example.com/x", "unsupported scheme 'http'"),
        ("s3:///key", "no bucket"),
        ("file://relative/x", "absolute path"),
        ("", "not an object URI"),
    ],
    ids=["scheme", "no-bucket", "relative-file", "empty"],
)
def test_location_parse_rejects(uri: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Location.parse(uri)


def test_join_and_uri() -> None:
    assert join("s3://b/run/", "x", "/y/") == "s3://b/run/x/y"
    assert Location.parse("s3://b/run").child("a/b").uri() == "s3://b/run/a/b"
    assert Location.parse("/tmp/a").uri() == "file:///tmp/a"


@pytest.mark.parametrize(
    ("endpoint", "allow_http", "allowed"),
    [
        ("http://127.0.0.1:9000", None, True),
        ("http://localhost:9000", None, True),
        ("https://127.0.0.1:9000", None, False),
        ("http://minio.example.com:9000", None, False),
        ("http://10.244.0.1:9000", "true", True),
        ("http://10.244.0.1:9000", "false", False),
    ],
    ids=["ipv4", "localhost", "https", "remote-http", "said-so", "said-no"],
)
def test_plain_http_only_on_loopback_or_when_allowed(
    endpoint: str, allow_http: str | None, allowed: bool
) -> None:
    assert _allows_http(endpoint, allow_http) is allowed


@pytest.mark.parametrize(
    ("endpoint", "signed"),
    [
        (None, False),
        ("https://s3.example.com", False),
        ("http://127.0.0.1:9000", False),
        ("http://minio.example.com:9000", True),
    ],
    ids=["aws-default", "https", "loopback-http", "remote-http"],
)
def test_bodies_are_hashed_into_signatures_only_over_remote_plain_http(
    endpoint: str | None, signed: bool
) -> None:
    assert _signs_payload(endpoint) is signed


@pytest.mark.parametrize("scheme", ["file://", ""], ids=["file-uri", "plain-path"])
def test_bytes_exists_list(tmp_path: Path, scheme: str) -> None:
    storage = Storage()
    base = f"{scheme}{tmp_path}"
    storage.write_bytes(f"{base}/d/one", b"1")
    storage.write_bytes(f"{base}/d/sub/two", b"2")

    assert storage.read_bytes(f"{base}/d/sub/two") == b"2"
    assert storage.exists(f"{base}/d/one")
    assert not storage.exists(f"{base}/d/none")
    assert storage.list(f"{base}/d") == [f"file://{tmp_path}/d/one", f"file://{tmp_path}/d/sub/two"]
    assert storage.list(f"{base}/nothing") == []


def test_files_and_directories_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(50):
        (src / f"g{i % 3}").mkdir(parents=True, exist_ok=True)
        (src / f"g{i % 3}" / f"f{i}").write_bytes(bytes([i]) * (i + 1))
    big = tmp_path / "big.bin"
    big.write_bytes(b"z" * (11 * MiB + 7))  # three parts up, twelve ranges down
    storage = Storage(
        Limits(concurrency=4, part_size=5 * MiB, part_concurrency=2, range_size=MiB, read_chunk=MiB)
    )

    assert storage.upload_dir(src, f"file://{tmp_path}/store/dir") == 50
    assert storage.download_dir(f"file://{tmp_path}/store/dir", tmp_path / "back") == 50
    assert storage.upload_file(big, f"file://{tmp_path}/store/big") == big.stat().st_size
    assert (
        storage.download_file(f"file://{tmp_path}/store/big", tmp_path / "x/big")
        == big.stat().st_size
    )

    for f in src.rglob("*"):
        if f.is_file():
            assert (tmp_path / "back" / f.relative_to(src)).read_bytes() == f.read_bytes()
    assert (tmp_path / "x" / "big").read_bytes() == big.read_bytes()
    assert not list((tmp_path / "x").glob(".*partial"))


def test_an_empty_object_downloads_as_an_empty_file(tmp_path: Path) -> None:
    """An empty object has no byte range to ask for: the download asks again without one."""
    storage = Storage()
    storage.write_bytes(f"file://{tmp_path}/store/empty", b"")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "empty").write_bytes(b"old")  # replaced, not kept

    assert storage.download_file(f"file://{tmp_path}/store/empty", tmp_path / "out/empty") == 0
    assert (tmp_path / "out" / "empty").read_bytes() == b""


def test_download_of_an_empty_prefix_makes_an_empty_directory(tmp_path: Path) -> None:
    assert Storage().download_dir(f"file://{tmp_path}/nothing", tmp_path / "out") == 0
    assert (tmp_path / "out").is_dir()


def test_missing_objects_raise_not_found_naming_the_uri(tmp_path: Path) -> None:
    storage = Storage()
    missing = f"file://{tmp_path}/missing"
    for call in (
        lambda: storage.read_bytes(missing),
        lambda: storage.download_file(missing, tmp_path / "out"),
        lambda: storage.download_files([(missing, tmp_path / "out")]),
    ):
        with pytest.raises(NotFoundError, match=f"{missing}: no such object"):
            call()
    assert not (tmp_path / "out").exists()


def test_upload_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="not a directory"):
        Storage().upload_dir(tmp_path / "absent", f"file://{tmp_path}/store")
    with pytest.raises(StorageError, match="absent"):
        Storage().upload_file(tmp_path / "absent", f"file://{tmp_path}/store/x")


def test_sync_api_works_inside_a_running_event_loop(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"F")

    async def inside() -> int:
        return Storage().upload_file(tmp_path / "f", f"file://{tmp_path}/store/f")

    async def failing() -> int:
        return Storage().download_file(f"file://{tmp_path}/absent", tmp_path / "x")

    assert asyncio.run(inside()) == 1
    assert (tmp_path / "store" / "f").read_bytes() == b"F"
    with pytest.raises(NotFoundError, match="absent"):
        asyncio.run(failing())


def test_symlinks_are_followed_without_looping(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "real").mkdir(parents=True)
    (src / "real" / "f").write_bytes(b"F")
    (src / "real" / "parent").symlink_to(src)  # a cycle
    (src / "link.txt").symlink_to(src / "real" / "f")

    count = Storage().upload_dir(src, f"file://{tmp_path}/store")

    assert count == 2
    assert (tmp_path / "store" / "link.txt").read_bytes() == b"F"


def test_a_store_without_credentials_fails_naming_the_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(StorageError, match=r"head az://container/key: .*Account must be specified"):
        Storage().exists("az://container/key")


def test_parts_below_the_s3_minimum_are_refused() -> None:
    with pytest.raises(ValueError, match="part_size: 4194304 bytes is below"):
        Limits(part_size=4 * MiB)
