"""List, then watch, one kind of object in each namespace, for ever: client-go's reflector.

Each namespace is listed (in pages) and watched on its own, from the version its listing ended
at; a watch the server ends is resumed where it stopped, a version too old is listed again at
once, and any other failure is listed again after a pause. Subclasses say what an event means
(:meth:`ListWatch.apply`) and what a listing (or a failure to list) means for what they keep.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Final

from containertask.controller.kube import ApiError, Client

logger = logging.getLogger(__name__)

PAGE_SIZE: Final = 500
RETRY_SECONDS: Final = (1.0, 2.0, 5.0, 10.0)
GONE: Final = 410  # the watch's resourceVersion is too old: list again


class ListWatch(ABC):
    """``resource`` (a core/v1 plural) in ``namespaces`` (empty: all), narrowed by ``selectors``
    (``labelSelector``, ``fieldSelector``), kept current until :meth:`run` is cancelled."""

    def __init__(
        self,
        client: Client,
        namespaces: Iterable[str],
        resource: str,
        selectors: Mapping[str, str],
        watch_seconds: int,
    ) -> None:
        self._client = client
        self._namespaces: list[str | None] = [*namespaces] or [None]  # None: all namespaces
        self._resource = resource
        self._selectors = dict(selectors)
        self._watch_seconds = watch_seconds

    @abstractmethod
    def apply(self, kind: str, obj: Mapping[str, Any]) -> Hashable:
        """Record one ADDED, MODIFIED or DELETED object; the key it is known by."""

    @abstractmethod
    def listed(self, namespace: str | None, seen: set[Hashable]) -> None:
        """A listing of ``namespace`` is complete: ``seen`` are the keys it had."""

    @abstractmethod
    def failed(self, namespace: str | None, why: str) -> None:
        """Listing or watching ``namespace`` failed; it is listed again after a pause."""

    async def run(self) -> None:
        """List and watch every namespace until cancelled."""
        await asyncio.gather(*(self._list_and_watch(ns) for ns in self._namespaces))

    def _path(self, namespace: str | None) -> str:
        where = f"/namespaces/{namespace}" if namespace else ""
        return f"/api/v1{where}/{self._resource}"

    async def _list_and_watch(self, namespace: str | None) -> None:
        path = self._path(namespace)
        failures = 0
        while True:
            try:
                version = await self._list(namespace, path)
                failures = 0
                while True:  # resume where the last watch ended, until the version is too old
                    version = await self._watch(path, version)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # never stop watching: list again, after a pause
                if isinstance(error, ApiError) and error.status == GONE:
                    continue  # at once
                self.failed(namespace, str(error))
                failures += 1
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
                logger.warning("%s: %r; listing again in %.0fs", path, error, delay)
                await asyncio.sleep(delay)

    async def _list(self, namespace: str | None, path: str) -> str:
        """Every object of ``namespace``, applied as ADDED; the listing's resourceVersion."""
        seen: set[Hashable] = set()
        params = {**self._selectors, "limit": str(PAGE_SIZE)}
        while True:
            page = await self._client.request("GET", path, params=params)
            for obj in page.get("items") or ():
                seen.add(self.apply("ADDED", obj))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
            params = {**params, "continue": token}
        self.listed(namespace, seen)
        return str(page["metadata"]["resourceVersion"])

    async def _watch(self, path: str, version: str) -> str:
        """Apply events from ``version`` on until the server ends the watch; the last version."""
        params = {
            **self._selectors,
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(self._watch_seconds),
        }
        async for event in self._client.watch(path, params):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(int(obj.get("code") or 500), "WATCH", path, str(obj.get("message")))
            version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                self.apply(kind, obj)
        return version
