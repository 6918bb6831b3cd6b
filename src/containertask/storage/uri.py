"""Object URIs: which store an address names and where in it.

``s3://bucket/key``, ``gs://bucket/key``, ``az://container/key`` name an object in a bucket;
``file:///abs/path`` and plain paths name a local file. Keys are ``/``-separated, with no leading
slash; a local path's key is its absolute path without the leading slash (the store is rooted at ``/``).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Final

REMOTE_SCHEMES: Final = ("s3", "gs", "az")
ALLOWED: Final = (
    "s3://bucket/key, gs://bucket/key, az://container/key, file:///path or a local path"
)


@dataclass(frozen=True)
class Location:
    """A parsed URI: ``scheme`` is ``file`` for local paths; ``bucket`` is empty for them."""

    scheme: str
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> Location:
        if not isinstance(uri, str) or not uri:
            raise ValueError(f"not an object URI: {uri!r}; allowed: {ALLOWED}")
        scheme, sep, rest = uri.partition("://")
        if not sep:
            return cls("file", "", os.path.abspath(uri).lstrip("/"))  # noqa: PTH100
        if scheme == "file":
            if not rest.startswith("/"):
                raise ValueError(f"a file:// URI needs an absolute path: {uri!r}")
            return cls("file", "", posixpath.normpath(rest).lstrip("/"))
        if scheme not in REMOTE_SCHEMES:
            raise ValueError(f"unsupported scheme {scheme!r} in {uri!r}; allowed: {ALLOWED}")
        bucket, _, key = rest.partition("/")
        if not bucket:
            raise ValueError(f"no bucket in {uri!r}; allowed: {ALLOWED}")
        return cls(scheme, bucket, key.strip("/") if key.endswith("/") else key.lstrip("/"))

    @property
    def store_url(self) -> str:
        """The root of the store this object lives in."""
        return "file:///" if self.scheme == "file" else f"{self.scheme}://{self.bucket}"

    def uri(self, key: str | None = None) -> str:
        """The URI of ``key`` (default: this location's own key) in the same store."""
        key = self.key if key is None else key
        return f"file:///{key}" if self.scheme == "file" else f"{self.store_url}/{key}"

    def child(self, relative: str) -> Location:
        """``relative`` (a ``/``-separated path) below this location."""
        key = posixpath.join(self.key, relative) if self.key else relative
        return Location(self.scheme, self.bucket, key)

    @property
    def dir_prefix(self) -> str:
        """The key prefix under which a directory's objects live (``key/``)."""
        return f"{self.key}/" if self.key else ""


def join(base: str, *parts: str) -> str:
    """``base`` with ``parts`` appended by ``/``, whether or not ``base`` ends with one."""
    return "/".join([base.rstrip("/"), *(p.strip("/") for p in parts)])
