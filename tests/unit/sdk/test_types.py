"""Python types of an interface map to the resource's type names, and back."""

from __future__ import annotations

import pathlib
import typing
from datetime import datetime, timedelta
from typing import Any

import pytest

from containertask import Directory, File, SpecError
from containertask.api import TypeRef
from containertask.sdk.types import python_type, type_ref

pytestmark = pytest.mark.unit

MAPPED = [
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (bool, "bool"),
    (datetime, "datetime"),
    (timedelta, "timedelta"),
    (File, "file"),
    (Directory, "directory"),
    (pathlib.Path, "file"),
    (pathlib.PurePosixPath, "file"),
    (list[int], "list[int]"),
    (typing.List[float], "list[float]"),  # noqa: UP006
    (dict[str, File], "dict[str, file]"),
    (typing.Dict[str, typing.List[Directory]], "dict[str, list[directory]]"),  # noqa: UP006
    (list[dict[str, list[bool]]], "list[dict[str, list[bool]]]"),
    (TypeRef.parse("list[timedelta]"), "list[timedelta]"),
]


@pytest.mark.parametrize(
    ("py", "name"), MAPPED, ids=[n + "-" + str(i) for i, (_, n) in enumerate(MAPPED)]
)
def test_python_types_map_to_type_names(py: Any, name: str) -> None:
    assert str(type_ref(py, "inputs.x")) == name


@pytest.mark.parametrize("name", ["int", "file", "list[directory]", "dict[str, list[datetime]]"])
def test_python_type_round_trips(name: str) -> None:
    t = TypeRef.parse(name)
    assert type_ref(python_type(t), "x") == t


UNSUPPORTED = [
    (set[int], "unsupported type", "set[int]"),
    (list, "needs its item type", "list"),
    (dict, "needs its item type", "dict"),
    (typing.Optional[int], "unsupported type", "Optional[int]"),  # noqa: UP045
    (dict[int, str], "dict keys must be str", "dict[int, str]"),
    (list[complex], "unsupported type", "complex"),
    (bytes, "unsupported type", "bytes"),
    (None, "unsupported type", "None"),
]


@pytest.mark.parametrize(
    ("py", "problem", "shown"), UNSUPPORTED, ids=[s for _, _, s in UNSUPPORTED]
)
def test_unsupported_types_name_the_input_and_what_is_allowed(
    py: Any, problem: str, shown: str
) -> None:
    with pytest.raises(SpecError) as info:
        type_ref(py, "inputs.x")
    message = str(info.value)
    assert message.startswith("inputs.x")
    assert problem in message and shown in message
    assert "allowed: int, float, str, bool, datetime, timedelta, File, Directory" in message
