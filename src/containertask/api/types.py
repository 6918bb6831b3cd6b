"""The type names a ContainerTask declares: primitives, file/directory blobs, and lists/dicts of them.

A type is written as text in the resource (``float``, ``list[file]``, ``dict[str, int]``) and parsed
into a :class:`TypeRef`. File and directory values are :class:`File` and :class:`Directory`, which
carry a URI (in the object store) or a local path (inside the task's container).
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Final, Self

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


class _Blob:
    """What files and directories share: a ``path`` that is an object-store URI or a local path."""

    path: str

    @property
    def uri(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        """The last part of the path (Flyte's ``File.name``)."""
        return posixpath.basename(self.path.rstrip("/"))

    @property
    def is_local(self) -> bool:
        """Whether the path is on this machine (a plain path or ``file://``)."""
        return "://" not in self.path or self.path.startswith("file://")

    def __fspath__(self) -> str:
        return self.path.removeprefix("file://")

    def __await__(self) -> Generator[Any, None, Self]:
        """Flyte's ``from_local`` is a coroutine; awaiting the value returns it unchanged, so both
        ``File.from_local(p)`` and ``await File.from_local(p)`` work."""
        yield from ()
        return self

    @classmethod
    def from_existing_remote(cls, remote_path: str, *_: Any, **__: Any) -> Self:
        """A reference to data already in an object store (``s3://bucket/key``)."""
        return cls(remote_path)  # type: ignore[call-arg]

    @classmethod
    def from_local(cls, local_path: str | os.PathLike[str], *_: Any, **__: Any) -> Self:
        """Local data: mounted as it is in a local run, uploaded to the object store when the
        task is submitted to a cluster."""
        return cls(os.path.abspath(os.fspath(local_path)))  # type: ignore[call-arg]  # noqa: PTH100

    from_local_sync = from_local


@dataclass(frozen=True)
class File(_Blob):
    """A single file: ``File(path="s3://b/k")``, a ``file://`` URI or a local path."""

    path: str


@dataclass(frozen=True)
class Dir(_Blob):
    """A directory (many files under one prefix): an object-store URI or a local path."""

    path: str


Directory = Dir  # the name used before Flyte's
