"""One event per line, logfmt style (``ts=... event=... key=value``), on stderr."""

import logging
import sys
import time

logger = logging.getLogger("localcluster")


def _value(v: object) -> str:
    s = str(v)
    if not s or any(c in s for c in ' "=\n\t'):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return s


def event(name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log one structured event; fields keep their keyword order."""
    line = " ".join([f"event={name}", *(f"{k}={_value(v)}" for k, v in fields.items())])
    logger.log(level, line)


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"ts={ts}.{int(record.msecs):03d}Z level={record.levelname.lower()} {record.getMessage()}"


def configure(verbose: bool = False) -> None:
    """Send events to stderr (used by the CLI; pytest captures the logger itself)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
