"""``{{.inputs.x}}`` templates in a task's command and arguments.

Checked when a task is built (an unknown name or a malformed template is an error then, not when the
pod runs) and rendered by the operator into the main container's command line.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

from containertask.api.errors import SpecError
from containertask.api.types import TypeRef
from containertask.api.values import format_text, to_json

_TEMPLATE = re.compile(r"\{\{\s*\.inputs\.(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")


def referenced_inputs(args: Iterable[str], field: str) -> list[tuple[str, str]]:
    """(field of the argument, input name) for every template in ``args``; malformed ones raise."""
    found: list[tuple[str, str]] = []
    for i, arg in enumerate(args):
        where = f"{field}[{i}]"
        rest = _TEMPLATE.sub("", arg)
        if _BRACES.search(rest):
            raise SpecError(
                where, "malformed template", arg, allowed="{{.inputs.<name>}} with a declared input"
            )
        found.extend((where, m.group("name")) for m in _TEMPLATE.finditer(arg))
    return found


def input_path(name: str, t: TypeRef, uri: str | None, input_dir: str, layout: str) -> str:
    """Where an input lands in the container: ``<dir>/<name>``, or for a file in the ``namedDir``
    layout ``<dir>/<name>/<file name>`` so that the program sees the original file name."""
    path = posixpath.join(input_dir, name)
    if layout == "namedDir" and t.name == "file" and uri:
        return posixpath.join(path, posixpath.basename(uri.rstrip("/")) or name)
    return path


def render_value(t: TypeRef, value: Any) -> str:
    """Text substituted for a non-blob input: primitives as their text, collections as JSON."""
    if t.is_primitive:
        return format_text(t, value)
    return json.dumps(to_json(t, value), sort_keys=True)


def render(args: Iterable[str], substitutions: Mapping[str, str]) -> list[str]:
    """Replace every ``{{.inputs.x}}`` with ``substitutions[x]``."""
    return [_TEMPLATE.sub(lambda m: substitutions[m.group("name")], arg) for arg in args]
