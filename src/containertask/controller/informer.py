"""The operator's pods, kept current by list + watch: client-go's informer, for one resource.

kopf would pass every pod event through its per-object machinery (a queue and a worker per
object, wrappers, loggers) and hold whole events until then; all the operator needs is a small,
current view of each of its pods. Measured with 1,000 tasks created at once, kopf's backlog of
whole pod events was most of the operator's peak memory. Here each event is trimmed as soon as
it is read, so memory follows the number of pods, not the number of events in flight.

Reconciles must not start before the first listing is complete (a restarted operator would
otherwise not see the pods it already made): :attr:`PodInformer.synced` says when every namespace
has been listed or has failed to list once, and :meth:`PodInformer.sees` whether a namespace's
pods are known. Each namespace is listed and watched on its own, so one the operator may not read
(RBAC denies it there) holds up only its own tasks; :attr:`PodInformer.blind` says when no
namespace can be read at all, which the liveness probe reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from containertask.controller.kube import ApiError, Client
from containertask.controller.views import POD_FIELDS, owner_uid, slim

logger = logging.getLogger(__name__)

PAGE_SIZE: Final = 500
RETRY_SECONDS: Final = (1.0, 2.0, 5.0, 10.0)
GONE: Final = 410  # the watch's resourceVersion is too old: list again

PodKey = tuple[str, str]  # (namespace, name)


class PodInformer:
    """Our pods (by label selector) in ``namespaces`` (empty: all), grouped by the uid of the
    ContainerTask controlling each; ``on_change(uid)`` is called for every change to one."""

    def __init__(
        self,
        client: Client,
        namespaces: Iterable[str],
        selector: str,
        on_change: Callable[[str], None],
        watch_seconds: int,
    ) -> None:
        self._client = client
        self._namespaces: list[str | None] = [*namespaces] or [None]  # None: all namespaces
        self._selector = selector
        self._on_change = on_change
        self._watch_seconds = watch_seconds
        self._owner_of: dict[PodKey, str] = {}
        self._by_owner: dict[str, dict[PodKey, dict[str, Any]]] = {}
        self._untried = set(self._namespaces)
        self._listed: set[str | None] = set()
        self._failing: dict[str | None, str] = {}  # namespace -> why its last listing failed
        self.synced = asyncio.Event()

    def pods_of(self, uid: str) -> Iterable[Mapping[str, Any]]:
        return tuple(self._by_owner.get(uid, {}).values())

    def sees(self, namespace: str) -> bool:
        """Whether the pods of ``namespace`` are known: listed, and the listing not failing."""
        key = None if self._namespaces == [None] else namespace
        return key in self._listed and key not in self._failing

    @property
    def blind(self) -> str | None:
        """Why no pods can be seen anywhere (every namespace's listing fails); None if some can."""
        if len(self._failing) < len(self._namespaces):
            return None
        return "; ".join(f"{ns or 'all namespaces'}: {why}" for ns, why in self._failing.items())

    async def run(self) -> None:
        """List and watch every namespace until cancelled."""
        await asyncio.gather(*(self._list_and_watch(ns) for ns in self._namespaces))

    async def _list_and_watch(self, namespace: str | None) -> None:
        path = f"/api/v1/namespaces/{namespace}/pods" if namespace else "/api/v1/pods"
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
                self._failing[namespace] = str(error)
                self._tried(namespace)
                failures += 1
                delay = RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1]
                logger.warning("pods at %s: %r; listing again in %.0fs", path, error, delay)
                await asyncio.sleep(delay)

    async def _list(self, namespace: str | None, path: str) -> str:
        """Replace what is known of ``namespace`` with a fresh listing; its resourceVersion."""
        seen: set[PodKey] = set()
        params = {"labelSelector": self._selector, "limit": str(PAGE_SIZE)}
        while True:
            page = await self._client.request("GET", path, params=params)
            for pod in page.get("items") or ():
                seen.add(self.apply("ADDED", pod))
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                break
            params = {**params, "continue": token}
        gone = [k for k in self._owner_of if k not in seen and namespace in (None, k[0])]
        for key in gone:
            self._forget(key)  # deleted while nobody watched
        self._listed.add(namespace)
        self._failing.pop(namespace, None)
        self._tried(namespace)
        return str(page["metadata"]["resourceVersion"])

    def _tried(self, namespace: str | None) -> None:
        self._untried.discard(namespace)
        if not self._untried:
            self.synced.set()

    async def _watch(self, path: str, version: str) -> str:
        """Apply events from ``version`` on until the server ends the watch; the last version."""
        params = {
            "labelSelector": self._selector,
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

    def apply(self, kind: str, pod: Mapping[str, Any]) -> PodKey:
        """Record one pod event; the owner (if it changed) hears of it."""
        meta = pod.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        owner = owner_uid(pod)
        if kind == "DELETED" or owner is None:
            self._forget(key)
            return key
        if self._owner_of.get(key, owner) != owner:
            self._forget(key)
        self._owner_of[key] = owner
        self._by_owner.setdefault(owner, {})[key] = slim(pod, POD_FIELDS)
        self._on_change(owner)
        return key

    def _forget(self, key: PodKey) -> None:
        owner = self._owner_of.pop(key, None)
        if owner is None:
            return
        owned = self._by_owner.get(owner, {})
        owned.pop(key, None)
        if not owned:
            self._by_owner.pop(owner, None)
        self._on_change(owner)
