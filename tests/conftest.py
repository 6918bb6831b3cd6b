"""Shared test setup: makes ``hack/`` importable so tests can use ``localcluster``."""

import sys
from pathlib import Path

_HACK = str(Path(__file__).resolve().parents[1] / "hack")
if _HACK not in sys.path:
    sys.path.insert(0, _HACK)
