"""The machine's own limits, measured with the most trivial clients: what no transfer tool can beat.

- ``disk_write``: 32 KiB ``os.write`` calls into a new file: page cache speed unless it fills.
  32 KiB is what both s5cmd (Go's ``io.Copy``) and containertask write, and on these VMs the
  fastest size (see ``_WRITE_SIZE`` in ``containertask.storage.store``): with 1 MiB writes this
  "limit" was slower than the tools it was meant to bound.
- ``get``/``put``: one plain HTTP/1.1 request on one connection to a presigned URL (boto3 signs
  it, nothing else of boto3 runs): a GET read with ``readinto`` into one reused buffer and
  thrown away, a PUT sent from the file with ``sendfile`` (no copy in user space). These are
  MinIO's raw single-stream speeds on this machine.
- ``get`` with a ``path``: the same GET, each piece written to the file as it comes: the
  simplest download there is, network and page cache sharing the same 2 cores.
- ``get_many``/``put_many``: many small objects through presigned URLs, ``threads`` keep-alive
  connections, bodies kept in memory: MinIO's request rate with a client that does nothing else.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MiB = 1024 * 1024
PIECE = 32 * 1024


def disk_write(path: Path, size: int) -> float:
    """Seconds to write ``size`` bytes to a new file in ``PIECE`` writes (no fsync)."""
    block = os.urandom(PIECE)
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        for _ in range(size // PIECE):
            os.write(fd, block)
    finally:
        os.close(fd)
    return time.perf_counter() - start


class Presigner:
    """Presigned GET/PUT URLs for ``s3://bucket/key`` from the environment's AWS_* settings."""

    def __init__(self) -> None:
        import boto3
        from botocore.config import Config

        self._client = boto3.client("s3", config=Config(signature_version="s3v4"))

    def url(self, method: str, uri: str) -> str:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        op = "get_object" if method == "GET" else "put_object"
        url: str = self._client.generate_presigned_url(
            op, Params={"Bucket": bucket, "Key": key}, ExpiresIn=3600
        )
        return url


def get(url: str, path: Path | None = None) -> int:
    """GET ``url`` into a reused buffer (1 MiB; ``PIECE`` when each piece is written to
    ``path``); returns the bytes read."""
    conn, target = _connect(url)
    conn.request("GET", target)
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"raw GET: HTTP {response.status}: {response.read()[:300]!r}")
    buffer = memoryview(bytearray(MiB if path is None else PIECE))
    total = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) if path else None
    try:
        while n := response.readinto(buffer):
            if fd is not None:
                os.write(fd, buffer[:n])
            total += n
    finally:
        if fd is not None:
            os.close(fd)
    conn.close()
    return total


def put(url: str, path: Path) -> None:
    """PUT the file at ``path`` to ``url`` with sendfile."""
    conn, target = _connect(url)
    size = path.stat().st_size
    conn.putrequest("PUT", target, skip_accept_encoding=True)
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    with path.open("rb") as f:
        assert conn.sock is not None
        conn.sock.sendfile(f)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise SystemExit(f"raw PUT: HTTP {response.status}: {data[:300]!r}")
    conn.close()


def put_many(urls: list[str], body: bytes, threads: int) -> None:
    _many(threads, urls, lambda conn, target: _request(conn, "PUT", target, body))


def get_many(urls: list[str], threads: int) -> None:
    _many(threads, urls, lambda conn, target: _request(conn, "GET", target, None))


def _many(
    threads: int, urls: Iterable[str], call: Callable[[http.client.HTTPConnection, str], None]
) -> None:
    local = threading.local()

    def one(url: str) -> None:
        if not hasattr(local, "conn"):
            local.conn = _connect(url)[0]
        call(local.conn, _target(url))

    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(one, urls):
            pass


def _request(conn: http.client.HTTPConnection, method: str, target: str, body: Any) -> None:
    conn.request(method, target, body=body)
    response = conn.getresponse()
    data = response.read()  # the whole body: the connection is reused
    if response.status != 200:
        raise SystemExit(f"raw {method}: HTTP {response.status}: {data[:300]!r}")


def _connect(url: str) -> tuple[http.client.HTTPConnection, str]:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise SystemExit(f"the raw client speaks plain http only, not {url}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=60), _target(url)


def _target(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
