"""A loopback TCP proxy in front of MinIO that fails the first connections, to prove retries, and
records the requests it forwards, to prove which requests a transfer makes."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from urllib.parse import urlparse

CUT_AFTER = 1 << 20  # bytes of an answer a "cut" connection passes on before it closes
SERVICE_UNAVAILABLE = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\n"
    b"Content-Length: 0\r\nConnection: close\r\n\r\n"
)


class FaultyProxy:
    """Forwards to ``upstream``; the first ``failures`` connections are reset (``reset``), get
    a 503 answer to their first request (``503``), or close after ``CUT_AFTER`` bytes of the
    answer (``cut``). ``failed`` counts the failures served;
    ``requests`` holds (method and path, Range header or None) of each request forwarded, read
    from the client's bytes on the assumption that requests carry no body (GET, HEAD)."""

    def __init__(self, upstream: str, failures: int, mode: str) -> None:
        parsed = urlparse(upstream)
        self.upstream = (parsed.hostname or "127.0.0.1", parsed.port or 80)
        self.remaining, self.mode, self.failed = failures, mode, 0
        self.requests: list[tuple[str, str | None]] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with self._lock:
            fail = self.remaining > 0
            self.remaining -= fail
            self.failed += fail
        if fail and self.mode == "reset":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()
            return
        if fail and self.mode == "503":
            _read_headers(conn)
            conn.sendall(SERVICE_UNAVAILABLE)
            conn.close()
            return
        upstream = socket.create_connection(self.upstream)
        limit = CUT_AFTER if fail else None
        threading.Thread(target=_pipe, args=(upstream, conn, limit), daemon=True).start()
        seen = bytearray()
        _pipe(conn, upstream, None, lambda chunk: self._record(seen, chunk))

    def _record(self, seen: bytearray, chunk: bytes) -> None:
        seen += chunk
        while (end := seen.find(b"\r\n\r\n")) >= 0:
            line, *headers = bytes(seen[:end]).decode("latin-1").split("\r\n")
            del seen[: end + 4]
            ranges = [h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("range:")]
            with self._lock:
                target = line.rsplit(" ", 1)[0].split("?", 1)[0]  # a presigned URL's query
                self.requests.append((target, ranges[0] if ranges else None))


def _read_headers(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk


def _pipe(
    src: socket.socket,
    dst: socket.socket,
    limit: int | None = None,
    tap: Callable[[bytes], None] = lambda chunk: None,
) -> None:
    """Copy ``src`` to ``dst`` (at most ``limit`` bytes), then close both."""
    sent = 0
    try:
        while (limit is None or sent < limit) and (chunk := src.recv(1 << 16)):
            chunk = chunk if limit is None else chunk[: limit - sent]
            tap(chunk)
            dst.sendall(chunk)
            sent += len(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@contextmanager
def faulty_proxy(upstream: str, failures: int, mode: str) -> Iterator[FaultyProxy]:
    proxy = FaultyProxy(upstream, failures, mode)
    thread = threading.Thread(target=proxy.serve, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.listener.close()
