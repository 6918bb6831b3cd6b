"""``containertask copilot download|upload``: blocks the uploader's wake signals, then runs the
command (:mod:`containertask.copilot.commands`).

The uploader is a native sidecar and the pod's PID 1 in its container. The kubelet sends it
SIGTERM as soon as the main container has exited, which can be well under a second after the
uploader started when the program is quick to fail. The kernel drops a signal sent to a PID 1
that neither handles nor blocks it, so a SIGTERM arriving while Python still imports the commands
(~0.4 s on a loaded node) would be lost and the upload would wait for SIGKILL. The signals are
therefore blocked before anything else is imported; ``sigwait`` collects them later.
"""

from __future__ import annotations

import signal
from typing import Final

WAKE_SIGNALS: Final = frozenset({signal.SIGTERM, signal.SIGINT})


def main(argv: list[str]) -> int:
    # From the raw command line: argparse's parser needs the API's constants, whose import is
    # the delay this guards against. ``--help`` and a bad command line exit before any wait.
    if argv[:1] == ["upload"] and "--no-wait" not in argv:
        signal.pthread_sigmask(signal.SIG_BLOCK, WAKE_SIGNALS)
    from containertask.copilot import commands

    return commands.main(argv)
