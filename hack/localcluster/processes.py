"""Start detached processes, record their pids, and stop exactly those processes later.

A pid file records the pid and the binary it ran. That alone is not proof: before signalling,
the pid must still run that binary with a command line naming this run directory (pids are
reused; two run directories share binaries).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from localcluster.log import event


def free_port(preferred: int | None, taken: set[int]) -> int:
    """``preferred`` if it can be bound on 127.0.0.1 (and is not in ``taken``), else a free one."""
    for port in [preferred or 0] + [0] * 20:
        if port and port in taken:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                event("port.busy", port=port)
                continue
            chosen = int(sock.getsockname()[1])
        if chosen not in taken:
            return chosen
    raise OSError("no free TCP port on 127.0.0.1")


def start(
    name: str, argv: list[str], log_path: Path, pid_path: Path, env: dict[str, str] | None = None
) -> int:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        log.write(f"\n# {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=pid_path.parent,
            env={**os.environ, **(env or {})},
            start_new_session=True,  # own process group: survives the CLI, killed as a group
        )
    pid_path.write_text(f"{proc.pid}\n{argv[0]}\n")
    event("process.started", component=name, pid=proc.pid, log=log_path)
    return proc.pid


def read_pid(pid_path: Path) -> tuple[int, Path] | None:
    """(pid, binary) from a pid file written by :func:`start`."""
    try:
        pid, binary = pid_path.read_text().split("\n")[:2]
        return int(pid), Path(binary)
    except (OSError, ValueError):
        return None


def running(pid_path: Path, marker: Path) -> tuple[int, Path] | None:
    """The recorded (pid, binary) if that process is still ours and alive."""
    recorded = read_pid(pid_path)
    if recorded and is_ours(*recorded, marker):
        return recorded
    return None


def _child(pid: int) -> bool | None:
    """For a child of this process: True while it runs, False once it exited (and is reaped
    now). None if ``pid`` is not our child."""
    try:
        exited, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return exited == 0


def _exists(pid: int) -> bool:
    """From /proc: ``pid`` exists and has not exited (a zombie has)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def _alive(pid: int) -> bool:
    child = _child(pid)
    return _exists(pid) if child is None else child


def is_ours(pid: int, binary: Path, marker: Path) -> bool:
    """True if ``pid`` is alive, runs ``binary`` and names ``marker`` on its command line.

    A child of this process is what this process started, and alive until waitpid says it
    exited; only other processes are identified through /proc. (Identifying our own children
    through /proc once made ``up`` report a running component as exited right after starting
    it, and leave it behind.)"""
    child = _child(pid)
    if child is not None:
        return child
    if not _exists(pid):
        return False
    proc = Path("/proc") / str(pid)
    try:
        exe = str((proc / "exe").readlink()).removesuffix(" (deleted)")
        cmdline = proc.joinpath("cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False
    return exe == str(binary.resolve()) and str(marker) in cmdline


def stop(name: str, pid: int, binary: Path, marker: Path, timeout: float = 15.0) -> bool:
    """SIGTERM the process group, SIGKILL after ``timeout``; False if it was not ours to stop."""
    if not is_ours(pid, binary, marker):
        return False
    group = os.getpgid(pid) == pid
    kill = os.killpg if group else os.kill
    kill(pid, signal.SIGTERM)
    # Until the process is gone, not merely unreadable: an exiting apiserver still holds its port.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            event("process.stopped", component=name, pid=pid)
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        kill(pid, signal.SIGKILL)
    while _alive(pid):
        time.sleep(0.05)
    event("process.killed", component=name, pid=pid, after_seconds=timeout)
    return True
