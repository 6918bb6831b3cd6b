"""Shared test setup: makes ``hack/`` importable so tests can use ``localcluster`` and
``localengine``, and the repository root so they can import ``examples``."""

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]
for _path in (str(_ROOT / "hack"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
