"""Build tool binaries with ``go build`` into a per-version cache, once.

A build is valid when its directory holds every binary plus a stamp naming the version and the
go.sum digest it was built from; timestamps are never consulted. A file lock serialises builds so
concurrent callers (two pytest sessions, a CLI) build each component once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from localcluster.config import TOOLS_BY_NAME, Settings, Tool
from localcluster.log import event

STAMP = ".stamp.json"


class BuildError(RuntimeError):
    pass


def _expected_stamp(tool: Tool) -> dict[str, object]:
    go_sum = (tool.module_dir / "go.sum").read_bytes()
    return {
        "tool": tool.name,
        "version": tool.version,
        "go_sum_sha256": hashlib.sha256(go_sum).hexdigest(),
        "ldflags": tool.render_ldflags(),
        "binaries": sorted(tool.binaries),
    }


def is_built(settings: Settings, tool: Tool) -> bool:
    directory = settings.tool_dir(tool)
    try:
        stamp = json.loads((directory / STAMP).read_text())
    except (OSError, ValueError):
        return False
    expected = _expected_stamp(tool)
    if any(stamp.get(k) != v for k, v in expected.items()):
        return False
    return all(os.access(directory / b, os.X_OK) for b in tool.binaries)


@contextmanager
def _lock(settings: Settings) -> Iterator[None]:
    settings.bin_root.mkdir(parents=True, exist_ok=True)
    with (settings.bin_root / ".build.lock").open("w") as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            event("build.waiting_for_lock", lock=settings.bin_root / ".build.lock")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _build(settings: Settings, tool: Tool) -> float:
    log_path = settings.bin_root / "logs" / f"{tool.name}-{tool.version}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    go = shutil.which("go")
    if go is None:
        message = (
            f"building {tool.name} {tool.version}: Go toolchain not found on PATH "
            f"(needs the go version in {tool.module_dir}/go.mod or newer)"
        )
        log_path.write_text(message + "\n")
        raise BuildError(f"{message}; see {log_path}")
    final = settings.tool_dir(tool)
    partial = final.with_name(f"{final.name}.partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    if len(tool.binaries) == 1:
        [(name, package)] = tool.binaries.items()
        outputs = ["-o", str(partial / name), package]
    else:
        outputs = ["-o", f"{partial}/", *tool.binaries.values()]
    argv = [go, "build", "-trimpath", "-ldflags", tool.render_ldflags(), *outputs]
    env = {**os.environ, "CGO_ENABLED": "0"}
    event("build.start", tool=tool.name, version=tool.version, log=log_path)
    started = time.monotonic()
    with log_path.open("w") as log:
        log.write(f"# cwd={tool.module_dir}\n# {' '.join(argv)}\n")
        log.flush()
        result = subprocess.run(
            argv, cwd=tool.module_dir, env=env, stdout=log, stderr=subprocess.STDOUT, check=False
        )
    seconds = round(time.monotonic() - started, 1)
    if result.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        raise BuildError(
            f"building {tool.name} {tool.version} failed (go build exit {result.returncode}); "
            f"see {log_path}"
        )
    stamp = {**_expected_stamp(tool), "build_seconds": seconds, "built_at": time.time()}
    (partial / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    event("build.done", tool=tool.name, version=tool.version, seconds=seconds, dir=final)
    return seconds


def ensure_built(settings: Settings, names: Iterable[str] | None = None) -> dict[str, float]:
    """Build the named tools (default: those ``settings`` needs) that are missing; returns
    seconds per tool built."""
    tools = [TOOLS_BY_NAME[n] for n in names] if names is not None else list(settings.tools)
    missing = [t for t in tools if not is_built(settings, t)]
    if not missing:
        return {}
    built: dict[str, float] = {}
    with _lock(settings):
        for tool in missing:
            if not is_built(settings, tool):  # another process may have built it meanwhile
                built[tool.name] = _build(settings, tool)
    return built


def stamp_of(settings: Settings, tool: Tool) -> dict[str, object]:
    path: Path = settings.tool_dir(tool) / STAMP
    return dict(json.loads(path.read_text())) if path.exists() else {}
