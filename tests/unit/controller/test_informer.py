"""The pod informer's bookkeeping: listings replace, watches update, stale versions list again.

The client is scripted (the real list + watch is in tests/integration/operator/test_pod_informer.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest

from containertask.api import API_VERSION, KIND
from containertask.controller.informer import PodInformer
from containertask.controller.kube import ApiError

pytestmark = pytest.mark.unit


def pod(name: str, owner: str | None, phase: str = "Pending", rv: str = "1") -> dict[str, Any]:
    refs = [
        {"apiVersion": API_VERSION, "kind": KIND, "name": "t", "uid": owner, "controller": True}
    ]
    return {
        "metadata": {
            "name": name,
            "namespace": "ns",
            "resourceVersion": rv,
            "ownerReferences": refs if owner else [],
            "managedFields": [{"manager": "kwok", "fieldsV1": {"f:status": {}}}],
        },
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
        "status": {"phase": phase},
    }


class ScriptedClient:
    """Answers lists from ``pages`` and watches from ``watches``, in order; records calls."""

    def __init__(self, pages: list[dict[str, Any]], watches: list[list[dict[str, Any]]]) -> None:
        self.pages, self.watches = pages, watches
        self.calls: list[tuple[str, dict[str, str]]] = []

    async def request(self, method: str, path: str, params: Mapping[str, str]) -> Any:
        self.calls.append(("list", dict(params)))
        return self.pages.pop(0)

    async def watch(self, path: str, params: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        self.calls.append(("watch", dict(params)))
        if not self.watches:
            await asyncio.Event().wait()  # a watch that stays open
        for event in self.watches.pop(0):
            yield event


def page(items: list[dict[str, Any]], rv: str, token: str = "") -> dict[str, Any]:
    return {"items": items, "metadata": {"resourceVersion": rv, "continue": token}}


def run_until_idle(informer: PodInformer) -> None:
    """Run the informer until it has nothing left to do, then cancel it."""

    async def drive() -> None:
        task = asyncio.create_task(informer.run())
        for _ in range(50):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(drive())


def informer_for(client: ScriptedClient, changed: list[str]) -> PodInformer:
    return PodInformer(client, ["ns"], "app=x", changed.append, 300)  # type: ignore[arg-type]


def test_listing_pages_group_pods_by_owner_and_set_synced() -> None:
    client = ScriptedClient(
        [page([pod("a-1", "A")], "5", token="next"), page([pod("b-1", "B"), pod("x", None)], "6")],
        [],
    )
    changed: list[str] = []
    informer = informer_for(client, changed)
    run_until_idle(informer)
    assert informer.synced.is_set()
    assert [p["metadata"]["name"] for p in informer.pods_of("A")] == ["a-1"]
    assert [p["metadata"]["name"] for p in informer.pods_of("B")] == ["b-1"]
    assert set(changed) == {"A", "B"}
    assert client.calls[1] == (
        "list",
        {"labelSelector": "app=x", "limit": "500", "continue": "next"},
    )
    assert client.calls[2][1]["resourceVersion"] == "6"  # the watch starts where the list ended


def test_views_keep_what_decisions_read_and_drop_the_rest() -> None:
    client = ScriptedClient([page([pod("a-1", "A", "Running")], "5")], [])
    informer = informer_for(client, [])
    run_until_idle(informer)
    (view,) = informer.pods_of("A")
    assert view["status"] == {"phase": "Running"}
    assert "managedFields" not in view["metadata"] and "spec" not in view


def test_watch_events_update_and_delete_and_tell_the_owner() -> None:
    client = ScriptedClient(
        [page([pod("a-1", "A")], "5")],
        [
            [
                {"type": "MODIFIED", "object": pod("a-1", "A", "Running", rv="7")},
                {"type": "ADDED", "object": pod("a-2", "A", rv="8")},
                {"type": "DELETED", "object": pod("a-1", "A", rv="9")},
                {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "12"}}},
            ]
        ],
    )
    changed: list[str] = []
    informer = informer_for(client, changed)
    run_until_idle(informer)
    assert [p["metadata"]["name"] for p in informer.pods_of("A")] == ["a-2"]
    assert changed == ["A"] * 4
    assert client.calls[-1][1]["resourceVersion"] == "12"  # resumed after the bookmark


def test_a_stale_version_lists_again_and_forgets_pods_deleted_meanwhile() -> None:
    gone = {"type": "ERROR", "object": {"code": 410, "message": "too old resource version"}}
    client = ScriptedClient(
        [page([pod("a-1", "A"), pod("b-1", "B")], "5"), page([pod("b-1", "B")], "20")],
        [[gone]],
    )
    changed: list[str] = []
    informer = informer_for(client, changed)
    run_until_idle(informer)
    assert list(informer.pods_of("A")) == []
    assert len(list(informer.pods_of("B"))) == 1
    assert changed.count("A") == 2  # listed, then gone
    assert [c[0] for c in client.calls] == ["list", "watch", "list", "watch"]


def test_a_namespace_that_cannot_be_listed_is_not_seen_and_blinds_a_lone_informer() -> None:
    class Failing(ScriptedClient):
        async def request(self, method: str, path: str, params: Mapping[str, str]) -> Any:
            raise ApiError(403, method, path, "forbidden")

    informer = informer_for(Failing([], []), [])
    run_until_idle(informer)
    assert informer.synced.is_set()  # tried: reconciles may start, not in this namespace
    assert not informer.sees("ns")
    assert informer.blind is not None and "HTTP 403" in informer.blind


def test_one_namespace_denied_does_not_hold_up_the_others() -> None:
    class DeniedInB(ScriptedClient):
        async def request(self, method: str, path: str, params: Mapping[str, str]) -> Any:
            if "/namespaces/b/" in path:
                raise ApiError(403, method, path, 'pods is forbidden: cannot list resource "pods"')
            return await super().request(method, path, params)

    client = DeniedInB([page([pod("a-1", "A")], "5")], [])
    informer = PodInformer(client, ["a", "b"], "app=x", lambda _: None, 300)  # type: ignore[arg-type]
    run_until_idle(informer)
    assert informer.synced.is_set()
    assert (informer.sees("a"), informer.sees("b")) == (True, False)
    assert [p["metadata"]["name"] for p in informer.pods_of("A")] == ["a-1"]
    assert informer.blind is None


def test_a_dropped_connection_does_not_stop_the_informer() -> None:
    class Dropping(ScriptedClient):
        async def watch(
            self, path: str, params: Mapping[str, str]
        ) -> AsyncIterator[dict[str, Any]]:
            self.calls.append(("watch", dict(params)))
            raise aiohttp.ServerDisconnectedError()
            yield {}  # pragma: no cover - makes this an async generator

    client = Dropping([page([pod("a-1", "A")], "5")], [])
    informer = informer_for(client, [])
    run_until_idle(informer)  # cancelled while it waits to list again, not crashed
    assert [c[0] for c in client.calls] == ["list", "watch"]
    assert informer.synced.is_set()
