"""The operator's process: what it loads before it runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

# Bad flags make the entry point stop right after its imports, before kopf would run.
PROBE = """
import json, sys
from containertask.cli import main
try:
    main(["operator", "--no-such-flag"])
except SystemExit as stop:
    code = stop.code
loaded = lambda prefix: sorted(m for m, v in sys.modules.items() if m.split(".")[0] == prefix and v)
print(json.dumps({"code": code, "kopf": bool(loaded("kopf")), "kubernetes": loaded("kubernetes"),
                  "sdk": [m for m in sys.modules if m.startswith("containertask.sdk")]}))
"""


def test_the_operator_runs_kopf_without_the_kubernetes_client_or_the_sdk() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    seen = json.loads(out.stdout)
    assert seen == {"code": 2, "kopf": True, "kubernetes": [], "sdk": []}
    assert "--no-such-flag" in out.stderr
