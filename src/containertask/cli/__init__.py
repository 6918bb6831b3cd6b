"""The ``containertask`` command: render, run and inspect tasks; start the operator or copilot.

``operator`` and ``copilot`` hand the rest of the command line to their own entry points before
anything else is imported, so those long-running processes load neither the SDK nor the
Kubernetes client; every other subcommand is the SDK's (:mod:`containertask.cli.tasks`).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# Subcommands handled by other packages' entry points: ``main(argv) -> int``.
ENTRY_POINTS: dict[str, str] = {
    "operator": "containertask.controller.entrypoint",
    "copilot": "containertask.copilot.entrypoint",
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ENTRY_POINTS:
        entrypoint = importlib.import_module(ENTRY_POINTS[argv[0]])
        return int(entrypoint.main(argv[1:]) or 0)
    from containertask.cli import tasks

    return tasks.main(argv)
