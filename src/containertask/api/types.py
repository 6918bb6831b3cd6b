"""The type names a ContainerTask declares: primitives, file/directory blobs, and lists/dicts of them.

A type is written as text in the resource (``float``, ``list[file]``, ``dict[str, int]``) and parsed
into a :class:`TypeRef`. File and directory values are :class:`File` and :class:`Directory`, which
carry a URI (in the object store) or a local path (inside the task's container).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from containertask.api.errors import SpecError

PRIMITIVES: Final = ("int", "float", "str", "bool", "datetime", "timedelta")
BLOBS: Final = ("file", "directory")
SCALARS: Final = PRIMITIVES + BLOBS
ALLOWED_TYPES: Final = ", ".join(SCALARS) + ", list[T], dict[str, T]"

_LIST = re.compile(r"^list\[(?P<item>.+)\]$")
_DICT = re.compile(r"^dict\[\s*str\s*,\s*(?P<item>.+)\]$")


@dataclass(frozen=True)
class TypeRef:
    """A parsed type: a scalar name, or ``list``/``dict`` with the type of their items."""

    name: str
    item: TypeRef | None = None

    @classmethod
    def parse(cls, text: str, field: str = "type") -> TypeRef:
        if not isinstance(text, str):
            raise SpecError(field, "type must be a string", text, allowed=ALLOWED_TYPES)
        stripped = text.strip()
        if stripped in SCALARS:
            return cls(stripped)
        for name, pattern in (("list", _LIST), ("dict", _DICT)):
            match = pattern.match(stripped)
            if match:
                return cls(name, cls.parse(match.group("item"), field))
        raise SpecError(field, "unknown type", text, allowed=ALLOWED_TYPES)

    def __str__(self) -> str:
        if self.name == "list":
            return f"list[{self.item}]"
        if self.name == "dict":
            return f"dict[str, {self.item}]"
        return self.name

    @property
    def is_primitive(self) -> bool:
        return self.name in PRIMITIVES

    @property
    def is_blob(self) -> bool:
        return self.name in BLOBS

    @property
    def is_collection(self) -> bool:
        return self.item is not None

    @property
    def contains_blob(self) -> bool:
        return self.is_blob or (self.item is not None and self.item.contains_blob)


@dataclass(frozen=True)
class File:
    """A single file: an object-store URI (``s3://b/k``), a ``file://`` URI or a local path."""

    uri: str

    def __fspath__(self) -> str:
        return self.uri.removeprefix("file://")


@dataclass(frozen=True)
class Directory:
    """A directory (many files under one prefix): an object-store URI or a local path."""

    uri: str

    def __fspath__(self) -> str:
        return self.uri.removeprefix("file://")
