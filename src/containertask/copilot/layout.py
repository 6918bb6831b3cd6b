"""Where values live on disk inside the task's pod, in both directions. Pure: no transfers here.

Inputs (:func:`plan_inputs`): each input becomes ``<input dir>/<name>`` — a primitive as its text,
a file as the file (``namedDir`` layout: ``<name>/<original file name>``, the same path
:func:`containertask.api.templating.input_path` renders into the command line), a directory as a
directory, a list as a directory of numbered entries ``0``, ``1``, … and a dict as a directory of
entries named by key, recursively.

Outputs (:func:`read_outputs`): the same shapes read back from ``<output dir>/<name>``; blobs are
given their object-store URIs below the attempt's output prefix. Only regular files and
directories are outputs, read without following links (:mod:`containertask.copilot.outputdir`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from containertask.api import templating
from containertask.api.errors import SpecError
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import format_text, parse_text
from containertask.copilot import outputdir
from containertask.storage import Location, Opener, join

_BAD_KEYS: Final = ("", ".", "..")


@dataclass(frozen=True)
class Transfer:
    """One blob to move: ``field`` names it in errors (``inputs.data[0]``)."""

    field: str
    uri: str
    path: Path


@dataclass
class Plan:
    """What to write or move for a set of values, and the values as the other side sees them
    (inputs: local paths, for inputs.json; outputs: URIs, for outputs.pb)."""

    texts: list[tuple[Path, str]] = field(default_factory=list)
    dirs: list[Path] = field(default_factory=list)
    files: list[Transfer] = field(default_factory=list)
    directories: list[Transfer] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def transfer_for(self, uri: str) -> Transfer | None:
        return next((t for t in (*self.files, *self.directories) if t.uri == uri), None)


class OutputError(Exception):
    """The program's outputs are wrong (missing, unparsable, too large): a user error."""


# --- inputs --------------------------------------------------------------------------------------


def plan_inputs(
    types: Mapping[str, TypeRef], values: Mapping[str, Any], input_dir: str, layout: str
) -> Plan:
    plan = Plan()
    for name, t in types.items():
        if name not in values or values[name] is None:
            raise SpecError(f"inputs.{name}", "has no value")
        plan.values[name] = _plan_input(
            plan, t, values[name], name, input_dir, layout, f"inputs.{name}"
        )
    return plan


def _plan_input(
    plan: Plan, t: TypeRef, value: Any, name: str, parent: str, layout: str, where: str
) -> Any:
    uri = value.uri if isinstance(value, File | Directory) else None
    path = Path(templating.input_path(name, t, uri, parent, layout))
    if t.is_primitive:
        plan.texts.append((path, format_text(t, value)))
        return value
    if t.is_blob:
        assert uri is not None
        try:
            Location.parse(uri)
        except ValueError as e:
            raise SpecError(where, str(e)) from e
        transfers = plan.files if t.name == "file" else plan.directories
        transfers.append(Transfer(where, uri, path))
        return File(str(path)) if t.name == "file" else Directory(str(path))
    assert t.item is not None
    plan.dirs.append(path)
    if t.name == "list":
        return [
            _plan_input(plan, t.item, v, str(i), str(path), layout, f"{where}[{i}]")
            for i, v in enumerate(value)
        ]
    for key in value:
        _check_key(key, where)
    return {
        key: _plan_input(plan, t.item, v, key, str(path), layout, f"{where}[{key!r}]")
        for key, v in value.items()
    }


def _check_key(key: str, where: str) -> None:
    if key in _BAD_KEYS or "/" in key or "\0" in key:
        raise SpecError(
            f"{where}[{key!r}]",
            "a dict key becomes a file name",
            key,
            allowed="a non-empty name without '/' that is not '.' or '..'",
        )


# --- outputs -------------------------------------------------------------------------------------


def read_outputs(
    types: Mapping[str, TypeRef], output_dir: str, prefix: str, inline_limit: int
) -> Plan:
    """Read every declared output; all problems are collected into one :class:`OutputError`.
    Only regular files and directories are read, never through a link
    (:mod:`containertask.copilot.outputdir`); a directory output becomes one file transfer per
    file below it."""
    root = Path(output_dir)
    if outputdir.under_kernel_paths(root):
        raise OutputError(f"the output directory {root} is in a kernel file system")
    reader = _Reader(root, outputdir.opener(root), inline_limit)
    plan = Plan()
    problems: list[str] = []
    for name, t in types.items():
        try:
            plan.values[name] = reader.read(
                plan, t, root / name, join(prefix, name), f"output {name!r}"
            )
        except OutputError as e:
            problems.append(str(e))
        except outputdir.UnsafeEntryError as e:
            problems.append(f"output {name!r}: {e}")
    if problems:
        raise OutputError("; ".join(problems))
    return plan


@dataclass(frozen=True)
class _Reader:
    root: Path
    open: Opener
    limit: int

    def read(self, plan: Plan, t: TypeRef, path: Path, uri: str, where: str) -> Any:
        found = outputdir.kind(path)
        if found is None:
            raise OutputError(f"{where}: missing, expected at {path}")
        if t.is_primitive:
            if found != "file":
                raise OutputError(f"{where}: expected a file holding a {t} at {path}")
            return self._primitive(t, path, where)
        if t.name == "file":
            if found != "file":
                raise OutputError(f"{where}: expected a file at {path}")
            plan.files.append(Transfer(where, uri, path))
            return File(uri)
        if found != "directory":
            raise OutputError(f"{where}: expected a directory at {path}")
        if t.name == "directory":
            for f in outputdir.files_below(self.root, path):
                relative = f.relative_to(path).as_posix()
                plan.files.append(Transfer(f"{where}/{relative}", join(uri, relative), f))
            return Directory(uri)
        assert t.item is not None
        entries = sorted(p.name for p in path.iterdir())
        if t.name == "dict":
            return {
                key: self.read(plan, t.item, path / key, join(uri, key), f"{where}[{key!r}]")
                for key in entries
            }
        expected = [str(i) for i in range(len(entries))]
        if sorted(entries, key=_numeric) != expected:
            raise OutputError(
                f"{where}: list entries must be named 0 to {len(entries) - 1}, got {entries[:10]}"
            )
        return [self.read(plan, t.item, path / e, join(uri, e), f"{where}[{e}]") for e in expected]

    def _primitive(self, t: TypeRef, path: Path, where: str) -> Any:
        with self.open(path) as f:
            size = os.fstat(f.fileno()).st_size
            data = f.read(self.limit + 1)  # bounded: the file may still grow
        if max(size, len(data)) > self.limit:
            raise OutputError(
                f"{where}: {max(size, len(data))} bytes is more than the inline limit of "
                f"{self.limit} bytes for a {t}; write large data as a file output"
            )
        try:
            return parse_text(t, data.decode("utf-8"), where)
        except UnicodeDecodeError as e:
            raise OutputError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from e
        except SpecError as e:
            raise OutputError(str(e)) from e


def _numeric(name: str) -> tuple[int, str]:
    return (int(name), "") if name.isdigit() else (-1, name)
