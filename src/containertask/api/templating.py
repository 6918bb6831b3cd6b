"""Templates in a task's command and arguments, spelled as Flyte's backend spells them.

Flyte (flyteplugins ``template.go``) matches its templates case-insensitively, with ``.`` or ``$``
and spaces allowed inside the braces: ``{{.inputs.x}}``, ``{{.Inputs.x}}`` and ``{{ $inputs.x }}``
are the same. The names it knows, and what they become here:

- ``{{.inputs.<name>}}``: the input's text (a file or directory input: its path in the container);
- ``{{.input}}``: the inputs.pb LiteralMap (``spec.inputsUri``, else ``<inputPath>/inputs.pb``);
- ``{{.inputPrefix}}``: where the inputs are (the directory of ``spec.inputsUri``, else inputPath);
- ``{{.outputPrefix}}``: the attempt's output prefix in the object store;
- ``{{.rawOutputDataPrefix}}``: a prefix below it for data the program writes itself;
- ``{{.perRetryUniqueKey}}``: unique per attempt (the pod's name).

Templates are checked when a task is built (an unknown input, an unknown name or a stray brace is an
error then, not when the pod runs) and rendered by the operator, which alone knows the attempt.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from containertask.api.errors import SpecError
from containertask.api.types import TypeRef
from containertask.api.values import format_text, to_json

_TEMPLATE = re.compile(r"\{\{\s*[.$](?P<var>[^}\s]+)\s*\}\}")
_BRACES = re.compile(r"\{\{|\}\}")
_INPUTS = "inputs."
# Flyte's other templates, by lower-cased name -> the RuntimeValues attribute that fills it.
RUNTIME_TEMPLATES: Final = {
    "input": "inputs_file",
    "inputprefix": "input_prefix",
    "outputprefix": "output_prefix",
    "rawoutputdataprefix": "raw_output_prefix",
    "perretryuniquekey": "unique_key",
}
# Flyte templates that name things a ContainerTask does not have.
_UNSUPPORTED: Final = ("tasktemplatepath", "prevcheckpointprefix", "checkpointoutputprefix")
ALLOWED: Final = (
    "{{.inputs.<name>}} with a declared input, {{.input}}, {{.inputPrefix}}, {{.outputPrefix}}, "
    "{{.rawOutputDataPrefix}}, {{.perRetryUniqueKey}} (any case, '.' or '$')"
)


@dataclass(frozen=True)
class RuntimeValues:
    """What the templates other than inputs become in one attempt."""

    inputs_file: str
    input_prefix: str
    output_prefix: str
    raw_output_prefix: str
    unique_key: str


def _input_name(var: str) -> str | None:
    return (
        var[len(_INPUTS) :] if var.lower().startswith(_INPUTS) and len(var) > len(_INPUTS) else None
    )


def referenced_inputs(args: Iterable[str], field: str) -> list[tuple[str, str]]:
    """(field of the argument, input name) for every input template in ``args``; malformed or
    unknown templates raise."""
    found: list[tuple[str, str]] = []
    for i, arg in enumerate(args):
        where = f"{field}[{i}]"
        for m in _TEMPLATE.finditer(arg):
            var = m.group("var")
            name = _input_name(var)
            if name is not None:
                found.append((where, name))
            elif var.lower() in _UNSUPPORTED:
                raise SpecError(
                    where,
                    f"{m.group(0)} names a Flyte feature a ContainerTask does not have",
                    arg,
                    allowed=ALLOWED,
                )
            elif var.lower() not in RUNTIME_TEMPLATES:
                raise SpecError(where, f"unknown template {m.group(0)}", arg, allowed=ALLOWED)
        if _BRACES.search(_TEMPLATE.sub("", arg)):
            raise SpecError(where, "malformed template", arg, allowed=ALLOWED)
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


def render(args: Iterable[str], inputs: Mapping[str, str], runtime: RuntimeValues) -> list[str]:
    """Replace every template: inputs by ``inputs[name]``, the others from ``runtime``."""

    def substitute(m: re.Match[str]) -> str:
        var = m.group("var")
        name = _input_name(var)
        if name is not None:
            return inputs[name]
        return str(getattr(runtime, RUNTIME_TEMPLATES[var.lower()]))

    return [_TEMPLATE.sub(substitute, arg) for arg in args]
