"""Python types of a task's interface, mapped to and from the resource's type names (TypeRef).

``int``, ``float``, ``str``, ``bool``, ``datetime``, ``timedelta``, :class:`File`, :class:`Directory`
(``pathlib.Path`` is a file), and ``list[T]`` / ``dict[str, T]`` of them (``typing.List`` and
``typing.Dict`` too). Anything else is an error that names the input and lists what is allowed.
"""

from __future__ import annotations

import pathlib
import typing
from datetime import datetime, timedelta
from typing import Any, Final

from containertask.api.errors import SpecError
from containertask.api.types import Directory, File, TypeRef

ALLOWED: Final = (
    "int, float, str, bool, datetime, timedelta, File, Directory, pathlib.Path, "
    "list[T] and dict[str, T] of them"
)

_SCALARS: Final[dict[type, str]] = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
    datetime: "datetime",
    timedelta: "timedelta",
    File: "file",
    Directory: "directory",
}
_PYTHON: Final[dict[str, type]] = {name: py for py, name in _SCALARS.items()}


def type_ref(py_type: Any, field: str) -> TypeRef:
    """The TypeRef of a Python type annotation; ``field`` names the input or output in errors."""
    if isinstance(py_type, TypeRef):
        return py_type
    if isinstance(py_type, type):
        if py_type in _SCALARS:
            return TypeRef(_SCALARS[py_type])
        if issubclass(py_type, pathlib.PurePath):
            return TypeRef("file")
    origin, args = typing.get_origin(py_type), typing.get_args(py_type)
    if origin is list and len(args) == 1:
        return TypeRef("list", type_ref(args[0], f"{field}[item]"))
    if origin is dict and len(args) == 2:
        if args[0] is not str:
            raise SpecError(field, "dict keys must be str", _describe(py_type), allowed=ALLOWED)
        return TypeRef("dict", type_ref(args[1], f"{field}[value]"))
    problem = "unsupported type"
    if py_type in (list, dict, typing.List, typing.Dict):  # noqa: UP006
        problem = "a collection needs its item type, e.g. list[int] or dict[str, float]"
    raise SpecError(field, problem, _describe(py_type), allowed=ALLOWED)


def python_type(t: TypeRef) -> Any:
    """The Python annotation of a TypeRef (files as File, never pathlib.Path)."""
    if t.item is not None:
        item = python_type(t.item)
        return list[item] if t.name == "list" else dict[str, item]  # type: ignore[valid-type]
    return _PYTHON[t.name]


def _describe(py_type: Any) -> str:
    if isinstance(py_type, type) and not typing.get_args(py_type):
        return py_type.__qualname__
    return repr(py_type).removeprefix("typing.")
