"""HTTP(S) readiness probes against 127.0.0.1."""

from __future__ import annotations

import http.client
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable

Probe = Callable[[], bool]


def http_ok(url: str, context: ssl.SSLContext | None = None, expect: bytes | None = None) -> Probe:
    """A probe that is true when ``url`` answers 200 (and its body contains ``expect``)."""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2, context=context) as resp:
                body: bytes = resp.read()
                return resp.status == 200 and (expect is None or expect in body)
        except (OSError, http.client.HTTPException, ValueError):  # URLError, SSLError: OSError
            return False

    return probe


def wait_for(probe: Probe, timeout: float, alive: Callable[[], bool]) -> str | None:
    """Poll ``probe``; None when ready, else why not ("timeout" or "exited")."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if probe():
            return None
        if not alive():
            return "exited"
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    return None if probe() else "timeout"
