"""What the command line needs from user code: a task found by reference, inputs read from text.

A task reference is ``package.module:task`` or ``path/to/file.py:task``. An input is
``name=text``: primitives are parsed strictly from their text (``3``, ``true``,
``2024-05-01T12:00:00Z``), files and directories are their URI, and lists and dicts are JSON.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from containertask.api import values
from containertask.api.errors import SpecError
from containertask.api.types import TypeRef
from containertask.sdk.task import ContainerTask


def load_task(ref: str) -> ContainerTask:
    module_name, sep, attribute = ref.rpartition(":")
    if not sep or not module_name or not attribute:
        raise SpecError("task", "not a task reference", ref, allowed="module:task or file.py:task")
    if module_name.endswith(".py"):
        path = Path(module_name).resolve()
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None or not path.is_file():
            raise SpecError("task", "no such Python file", module_name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_name)
    task = getattr(module, attribute, None)
    if not isinstance(task, ContainerTask):
        raise SpecError("task", f"{module_name} has no ContainerTask named {attribute!r}", task)
    return task


def parse_value(t: TypeRef, text: str, field: str) -> Any:
    """One input value from its command-line text."""
    if t.is_primitive:
        return values.parse_text(t, text, field)
    if t.is_blob:
        return values.from_json(t, text, field)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SpecError(field, f"a {t} is written as JSON ({err.msg})", text) from None
    return values.from_json(t, data, field)


def parse_inputs(task: ContainerTask, pairs: Iterable[str]) -> dict[str, Any]:
    """``name=text`` pairs -> values by name; unknown, repeated and malformed ones are errors."""
    declared = task.input_types
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep:
            raise SpecError("--input", "expected name=value", pair)
        if name not in declared:
            raise SpecError(
                f"--input {name}", "not an input", allowed=", ".join(declared) or "none"
            )
        if name in out:
            raise SpecError(f"--input {name}", "given twice")
        out[name] = parse_value(declared[name], text, f"--input {name}")
    return out
