"""The copilot and the storage layer against the cluster's MinIO: every type both ways through the
real entry point, large and many-file transfers, and retries through a connection-breaking proxy."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import obstore
import pytest
from faulty_proxy import faulty_proxy
from flyteidl2.core import literals_pb2
from obstore.store import S3Store

from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.api.contract import CopilotConfig, UploadResult
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_literal_map, to_json
from containertask.copilot.entrypoint import main
from containertask.storage import Limits, NotFoundError, Storage, StorageError, signedget

pytestmark = pytest.mark.integration

MiB = 1024 * 1024
SCALARS: dict[str, Any] = {
    "i": ("int", 7),
    "x": ("float", 2.25),
    "s": ("str", "héllo"),
    "b": ("bool", False),
    "t": ("datetime", datetime(2024, 5, 1, 12, 30, tzinfo=UTC)),
    "d": ("timedelta", timedelta(minutes=3)),
    "li": ("list[int]", [1, 2, 3]),
    "ms": ("dict[str, str]", {"k": "v"}),
}


def config_for(
    tmp_path: Path, prefix: str, inputs: list[dict[str, Any]], outputs: dict[str, str], **dl: str
) -> CopilotConfig:
    document = {
        "inputs": inputs,
        "outputs": [{"name": n, "type": t} for n, t in outputs.items()],
        "dataLoading": {
            "inputPath": str(tmp_path / "inputs"),
            "outputPath": str(tmp_path / "outputs"),
            **dl,
        },
        "outputPrefix": f"{prefix}/attempt-1",
    }
    return CopilotConfig.from_json(json.dumps(document))


def run_copilot(command: str, config: CopilotConfig, tmp_path: Path) -> int:
    os.environ[COPILOT_CONFIG_ENV] = config.to_json()
    try:
        extra = ["--no-wait"] if command == "upload" else []
        return main([command, "--termination-log", str(tmp_path / f"{command}.log"), *extra])
    finally:
        del os.environ[COPILOT_CONFIG_ENV]


@pytest.mark.parametrize("layout", ["direct", "namedDir"])
def test_every_type_both_ways(s3_prefix: str, tmp_path: Path, layout: str) -> None:
    storage = Storage()
    storage.write_bytes(f"{s3_prefix}/src/data.csv", b"a,b\n1,2\n")
    storage.write_bytes(f"{s3_prefix}/src/tree/one", b"1")
    storage.write_bytes(f"{s3_prefix}/src/tree/sub/two", b"2")
    blobs = {
        "f": ("file", File(f"{s3_prefix}/src/data.csv")),
        "dir": ("directory", Directory(f"{s3_prefix}/src/tree")),
        "lf": ("list[file]", [File(f"{s3_prefix}/src/data.csv")]),
    }
    values = {**SCALARS, **blobs}
    inputs = []
    for name, (type_, value) in values.items():
        plain = to_json(TypeRef.parse(type_), value)
        key = "uri" if type_ in ("file", "directory") else "value"
        inputs.append({"name": name, "type": type_, key: plain})
    config = config_for(
        tmp_path, s3_prefix, inputs, {n: t for n, (t, _) in values.items()}, fileInputLayout=layout
    )

    assert run_copilot("download", config, tmp_path) == 0
    local = json.loads((tmp_path / "inputs" / "inputs.json").read_text())
    (tmp_path / "outputs").mkdir()
    for name, (type_, _) in values.items():  # the "program": every input back out unchanged
        source, target = Path(tmp_path / "inputs" / name), tmp_path / "outputs" / name
        if type_ == "file":
            shutil.copyfile(local[name], target)
        elif type_ == "list[file]":
            target.mkdir()
            shutil.copyfile(local[name][0], target / "0")
        elif source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copyfile(source, target)
    assert run_copilot("upload", config, tmp_path) == 0

    result = UploadResult.from_message((tmp_path / "upload.log").read_text())
    assert result.ok and result.outputs_uri == f"{s3_prefix}/attempt-1/outputs.pb"
    types = {n: TypeRef.parse(t) for n, (t, _) in values.items()}
    stored = from_literal_map(
        types, literals_pb2.LiteralMap.FromString(storage.read_bytes(result.outputs_uri)), "out"
    )
    out = f"{s3_prefix}/attempt-1"
    assert {n: stored[n] for n in SCALARS} == {n: v for n, (_, v) in SCALARS.items()}
    assert stored["f"] == File(f"{out}/f")
    assert storage.read_bytes(f"{out}/f") == b"a,b\n1,2\n"
    assert storage.list(f"{out}/dir") == [f"{out}/dir/one", f"{out}/dir/sub/two"]
    assert stored["lf"] == [File(f"{out}/lf/0")]
    assert json.loads(storage.read_bytes(f"{out}/outputs.json"))["i"] == 7


def test_failed_download_names_input_and_uri(s3_prefix: str, tmp_path: Path) -> None:
    missing = f"{s3_prefix}/nothing-here.csv"
    config = config_for(tmp_path, s3_prefix, [{"name": "data", "type": "file", "uri": missing}], {})
    assert run_copilot("download", config, tmp_path) == 1
    message = (tmp_path / "download.log").read_text()
    assert "inputs.data" in message and missing in message


def test_large_file_and_many_files(s3_prefix: str, tmp_path: Path) -> None:
    storage = Storage(
        Limits(part_size=5 * MiB, part_concurrency=3, range_size=4 * MiB, concurrency=16)
    )
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(23 * MiB + 11))  # a multipart upload and ranged download
    many = tmp_path / "many"
    for i in range(300):
        (many / f"g{i % 7}").mkdir(parents=True, exist_ok=True)
        (many / f"g{i % 7}" / f"f{i}").write_bytes(os.urandom(i))

    storage.upload_file(big, f"{s3_prefix}/big.bin")
    storage.download_file(f"{s3_prefix}/big.bin", tmp_path / "big.back")
    assert storage.upload_dir(many, f"{s3_prefix}/many") == 300
    assert storage.download_dir(f"{s3_prefix}/many", tmp_path / "many.back") == 300

    assert (tmp_path / "big.back").read_bytes() == big.read_bytes()
    for f in many.rglob("f*"):
        assert (tmp_path / "many.back" / f.relative_to(many)).read_bytes() == f.read_bytes()
    assert storage.exists(f"{s3_prefix}/big.bin")
    assert len(storage.list(f"{s3_prefix}/many")) == 300
    with pytest.raises(NotFoundError, match=f"{s3_prefix}/absent"):
        storage.read_bytes(f"{s3_prefix}/absent")


def test_a_large_download_asks_for_each_range_once(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first ranged answer tells the size: no HEAD, no whole-object GET thrown away."""
    data = os.urandom(10 * MiB + 5)
    Storage().write_bytes(f"{s3_prefix}/big", data)
    limits = Limits(range_size=4 * MiB, range_concurrency=2)

    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=0, mode="reset") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        Storage(limits).download_file(f"{s3_prefix}/big", tmp_path / "big")

    assert (tmp_path / "big").read_bytes() == data
    path = "GET /" + s3_prefix.removeprefix("s3://") + "/big"
    assert sorted(proxy.requests) == [
        (path, "bytes=0-4194303"),
        (path, "bytes=4194304-8388607"),
        (path, "bytes=8388608-10485764"),
    ]


def test_behind_a_proxy_every_range_goes_through_obstore(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """obstore honours HTTPS_PROXY/NO_PROXY, http.client does not: no presigned ranges then."""
    data = os.urandom(10 * MiB + 5)
    Storage().write_bytes(f"{s3_prefix}/big", data)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # unused: NO_PROXY covers MinIO
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")

    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=0, mode="reset") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        Storage(Limits(range_size=4 * MiB)).download_file(f"{s3_prefix}/big", tmp_path / "big")

    assert (tmp_path / "big").read_bytes() == data
    ranges = [r for _, r in proxy.requests if r is not None]
    assert len(ranges) == len(proxy.requests)  # each request asked for a range
    assert sorted(ranges) == [
        "bytes=0-4194303",
        "bytes=4194304-8388607",
        "bytes=8388608-10485764",
    ]


def test_an_empty_object_downloads_with_one_more_request(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Storage().write_bytes(f"{s3_prefix}/empty", b"")

    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=0, mode="reset") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        assert Storage().download_file(f"{s3_prefix}/empty", tmp_path / "empty") == 0

    assert (tmp_path / "empty").read_bytes() == b""
    path = "GET /" + s3_prefix.removeprefix("s3://") + "/empty"
    assert proxy.requests == [(path, f"bytes=0-{Limits().range_size - 1}"), (path, None)]


@pytest.mark.parametrize("mode", ["reset", "503"])
def test_transient_errors_are_retried(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    (tmp_path / "outputs").mkdir()
    (tmp_path / "outputs" / "report").write_bytes(b"R" * 1000)
    (tmp_path / "outputs" / "n").write_text("3")
    config = config_for(tmp_path, s3_prefix, [], {"report": "file", "n": "int"})

    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=3, mode=mode) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        assert run_copilot("upload", config, tmp_path) == 0

    assert proxy.failed == 3
    result = UploadResult.from_message((tmp_path / "upload.log").read_text())
    assert result.ok


def test_persistent_failure_is_reported_after_retries(
    s3_prefix: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=1000, mode="503") as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        storage = Storage(Limits(max_retries=2, retry_timeout_seconds=10))
        with pytest.raises(StorageError, match=f"{s3_prefix}/x"):
            storage.write_bytes(f"{s3_prefix}/x", b"x")
    assert proxy.failed == 3  # the first try and two retries


def _signed(endpoint: str, uri: str) -> tuple[str, str | None]:
    """A presigned GET URL of ``uri`` through ``endpoint``, and the object's ETag (read from
    MinIO itself: a proxy in ``endpoint`` sees only the presigned requests)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")

    def store(at: str) -> S3Store:
        return S3Store(bucket, config={"endpoint": at}, client_options={"allow_http": True})

    e_tag = obstore.head(store(os.environ["AWS_ENDPOINT_URL"]), key)["e_tag"]
    return obstore.sign(store(endpoint), "GET", key, timedelta(minutes=5)), e_tag


def _fetch_into(buffer: bytearray, url: str, e_tag: str | None, retries: int = 3) -> None:
    def write_at(data: memoryview, offset: int) -> int:
        buffer[offset : offset + len(data)] = data
        return offset + len(data)

    signedget.fetch(
        url, write_at, 0, len(buffer), e_tag=e_tag, piece=32768, retries=retries, retry_seconds=30
    )


def test_a_presigned_range_resumes_where_a_dropped_connection_stopped(s3_prefix: str) -> None:
    data = os.urandom(5 * MiB + 3)
    Storage().write_bytes(f"{s3_prefix}/big", data)
    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=2, mode="cut") as proxy:
        url, e_tag = _signed(proxy.endpoint, f"{s3_prefix}/big")
        back = bytearray(len(data))
        _fetch_into(back, url, e_tag)
    assert back == data
    assert proxy.failed == 2
    ranges = [r for _, r in proxy.requests]
    starts = [int(r.removeprefix("bytes=").split("-")[0]) for r in ranges if r]
    assert len(ranges) == 3 and all(r and r.endswith(f"-{len(data) - 1}") for r in ranges)
    assert starts[0] == 0 < starts[1] < starts[2] < len(data)  # each resumes where it was cut


def test_a_presigned_range_of_a_replaced_object_fails(s3_prefix: str) -> None:
    Storage().write_bytes(f"{s3_prefix}/obj", b"one" * 1000)
    url, e_tag = _signed(os.environ["AWS_ENDPOINT_URL"], f"{s3_prefix}/obj")
    Storage().write_bytes(f"{s3_prefix}/obj", b"two" * 1000)
    with pytest.raises(signedget.RangeError, match="HTTP 412"):
        _fetch_into(bytearray(3000), url, e_tag)


def test_a_presigned_range_gives_up_after_its_retries(s3_prefix: str) -> None:
    Storage().write_bytes(f"{s3_prefix}/obj", b"x" * 3000)
    with faulty_proxy(os.environ["AWS_ENDPOINT_URL"], failures=1000, mode="503") as proxy:
        url, e_tag = _signed(proxy.endpoint, f"{s3_prefix}/obj")
        with pytest.raises(ConnectionError, match="HTTP 503"):
            _fetch_into(bytearray(3000), url, e_tag, retries=2)
    assert proxy.failed == 3  # the first try and two retries
