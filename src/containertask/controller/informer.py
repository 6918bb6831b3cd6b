"""The operator's pods, kept current by list + watch: client-go's informer, for one resource.

kopf would pass every pod event through its per-object machinery (a queue and a worker per
object, wrappers, loggers) and hold whole events until then; all the operator needs is a small,
current view of each of its pods. Measured with 1,000 tasks created at once, kopf's backlog of
whole pod events was most of the operator's peak memory. Here each event is trimmed as soon as
it is read, so memory follows the number of pods, not the number of events in flight. The list
and watch themselves are :class:`~containertask.controller.listwatch.ListWatch`'s.

Reconciles must not start before the first listing is complete (a restarted operator would
otherwise not see the pods it already made): :attr:`PodInformer.synced` says when every namespace
has been listed or has failed to list once, and :meth:`PodInformer.sees` whether a namespace's
pods are known. Each namespace is listed and watched on its own, so one the operator may not read
(RBAC denies it there) holds up only its own tasks; :attr:`PodInformer.blind` says when no
namespace can be read at all, which the liveness probe reports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any

from containertask.controller.kube import Client
from containertask.controller.listwatch import ListWatch
from containertask.controller.views import POD_FIELDS, owner_uid, slim

PodKey = tuple[str, str]  # (namespace, name)


class PodInformer(ListWatch):
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
        super().__init__(client, namespaces, "pods", {"labelSelector": selector}, watch_seconds)
        self._on_change = on_change
        self._owner_of: dict[PodKey, str] = {}
        self._by_owner: dict[str, dict[PodKey, dict[str, Any]]] = {}
        self._untried = set(self._namespaces)
        self._listed: set[str | None] = set()
        self._failing: dict[str | None, str] = {}  # namespace -> why its last listing failed
        self.synced = asyncio.Event()

    def pods_of(self, uid: str) -> Iterable[Mapping[str, Any]]:
        return tuple(self._by_owner.get(uid, {}).values())

    def owner_of(self, namespace: str, name: str, uid: str) -> str | None:
        """The task controlling the pod ``namespace/name`` if it is ours and has ``uid``."""
        owner = self._owner_of.get((namespace, name))
        pod = self._by_owner.get(owner or "", {}).get((namespace, name))
        return owner if pod is not None and pod["metadata"].get("uid") == uid else None

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

    def listed(self, namespace: str | None, seen: set[Hashable]) -> None:
        gone = [k for k in self._owner_of if k not in seen and namespace in (None, k[0])]
        for key in gone:
            self._forget(key)  # deleted while nobody watched
        self._listed.add(namespace)
        self._failing.pop(namespace, None)
        self._tried(namespace)

    def failed(self, namespace: str | None, why: str) -> None:
        self._failing[namespace] = why
        self._tried(namespace)

    def _tried(self, namespace: str | None) -> None:
        self._untried.discard(namespace)
        if not self._untried:
            self.synced.set()

    def apply(self, kind: str, obj: Mapping[str, Any]) -> PodKey:
        """Record one pod event; the owner (if it changed) hears of it."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace")), str(meta.get("name")))
        owner = owner_uid(obj)
        if kind == "DELETED" or owner is None:
            self._forget(key)
            return key
        if self._owner_of.get(key, owner) != owner:
            self._forget(key)
        self._owner_of[key] = owner
        self._by_owner.setdefault(owner, {})[key] = slim(obj, POD_FIELDS)
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
