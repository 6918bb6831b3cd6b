"""Structured logs of the copilot: one JSON object per line on stderr, so ``kubectl logs`` of the
downloader or uploader reads as a list of events (``{"event": "downloaded", "input": ...}``)."""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def emit(event: str, **fields: Any) -> None:
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stderr.write(json.dumps(record, default=str, sort_keys=False) + "\n")
    sys.stderr.flush()
