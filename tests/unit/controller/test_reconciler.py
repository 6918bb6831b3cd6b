"""The reconciler's API actions, in order, for each situation (a recording fake client; the real
apiserver is in tests/integration/operator)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from podstates import pod, running, terminated, uploaded

from containertask.api import API_VERSION, KIND
from containertask.api.constants import LABEL_ATTEMPT, TRACKING_FINALIZER
from containertask.controller.clock import format_time
from containertask.controller.kube import ApiError
from containertask.controller.reconciler import PodRefusedError, Reconciler
from containertask.controller.settings import OperatorSettings

pytestmark = pytest.mark.unit

UID = "uid-1"
HELD = [TRACKING_FINALIZER]


class FakeClient:
    """Records calls; ``create_error`` is raised by create_pod; ``existing`` answers reads."""

    def __init__(self, create_error: Exception | None = None) -> None:
        self.calls: list[tuple[str, ...]] = []
        self.create_error = create_error
        self.existing: dict[str, Any] = {}
        self.task: Any = None

    async def create_pod(self, body: Mapping[str, Any]) -> Any:
        self.calls.append(("create", body["metadata"]["name"]))
        if self.create_error is not None:
            raise self.create_error
        return body

    async def find_pod(self, namespace: str, name: str) -> Any:
        self.calls.append(("read", name))
        return self.existing.get(name)

    async def find_task(self, namespace: str, name: str) -> Any:
        self.calls.append(("read-task", name))
        return self.task

    async def write_status(
        self, namespace: str, name: str, version: str, old: Any, new: Mapping[str, Any]
    ) -> Any:
        self.calls.append(("status", str(new["phase"]), str(new.get("reason"))))
        return {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "uid": UID,
                "resourceVersion": str(int(version) + 1),
            },
            "status": dict(new),
        }

    async def delete_pod(self, namespace: str, name: str, grace: int) -> None:
        self.calls.append(("delete", name))

    async def remove_pod_finalizer(self, namespace: str, name: str, finalizer: str) -> None:
        self.calls.append(("release", name))

    async def delete_task(self, namespace: str, name: str, uid: str) -> None:
        self.calls.append(("delete-task", name))

    async def post_event(self, *args: Any) -> None:
        pass


def owned(body: dict[str, Any], attempt: int) -> dict[str, Any]:
    body["metadata"].update(
        namespace="ns",
        labels={LABEL_ATTEMPT: str(attempt)},
        ownerReferences=[{"apiVersion": API_VERSION, "kind": KIND, "uid": UID, "controller": True}],
    )
    return body


def task_body(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "area",
            "namespace": "ns",
            "uid": UID,
            "resourceVersion": "1",
            "creationTimestamp": format_time(datetime.now(UTC)),
        },
        "spec": {"image": "shell:1", **spec},
        "status": status or {},
    }


def started(seconds_ago: float = 60) -> dict[str, Any]:
    start = format_time(datetime.now(UTC) - timedelta(seconds=seconds_ago))
    return {"phase": "Running", "attempts": [{"number": 1, "pod": "area-1", "startedAt": start}]}


def run(
    client: FakeClient, body: dict[str, Any], pods: list[dict[str, Any]]
) -> list[tuple[str, ...]]:
    async def go() -> None:
        reconciler = Reconciler(client, OperatorSettings(), lambda uid: pods)  # type: ignore[arg-type]
        reconciler.observe(body)
        await reconciler.reconcile(UID)
        await reconciler.close()

    asyncio.run(go())
    return client.calls


def test_a_finished_pod_is_released_after_the_status_is_written() -> None:
    done = owned(
        pod("Succeeded", main=terminated(0), uploader=uploaded(ok=True), finalizers=HELD), 1
    )
    calls = run(FakeClient(), task_body(started()), [done])
    assert calls == [("status", "Succeeded", "Succeeded"), ("release", "area-1")]


def test_a_timed_out_pod_is_recorded_then_deleted_then_released() -> None:
    live = owned(pod("Running", main=running(), finalizers=HELD), 1)
    calls = run(FakeClient(), task_body(started(), timeoutSeconds=5), [live])
    assert calls == [("status", "Failed", "Timeout"), ("delete", "area-1"), ("release", "area-1")]


def test_a_pod_missing_from_the_watch_is_read_and_not_replaced_when_it_exists() -> None:
    client = FakeClient()
    client.existing["area-1"] = owned(pod("Running", main=running()), 1)
    calls = run(client, task_body(started()), [])
    assert calls[0] == ("read", "area-1")
    assert [c for c in calls if c[0] == "create"] == []
    assert calls[1:] in ([], [("status", "Running", "Running")])  # conditions filled in


def test_a_pod_confirmed_gone_is_a_disruption_and_replaced() -> None:
    calls = run(FakeClient(), task_body(started(), retries={"limit": 0}), [])
    assert calls == [("read", "area-1"), ("create", "area-2"), ("status", "Pending", "PodCreated")]


def test_a_policy_refusal_fails_the_task_once() -> None:
    forbidden = ApiError(
        403, "POST", "/pods", '{"message": "violates PodSecurity \\"restricted\\""}'
    )
    calls = run(FakeClient(forbidden), task_body(), [])
    assert calls == [("create", "area-1"), ("status", "Failed", "PodRejected")]


def test_a_quota_refusal_is_shown_and_the_pass_retried() -> None:
    quota = ApiError(403, "POST", "/pods", '{"message": "exceeded quota: q"}')
    client = FakeClient(quota)
    with pytest.raises(PodRefusedError):
        run(client, task_body(), [])
    assert client.calls == [("create", "area-1"), ("status", "Pending", "QuotaExceeded")]


def test_a_timeout_creating_a_pod_is_retried() -> None:
    client = FakeClient(TimeoutError())
    with pytest.raises(PodRefusedError):
        run(client, task_body(), [])
    assert client.calls == [("create", "area-1"), ("status", "Pending", "PodCreateFailed")]


@pytest.mark.parametrize(
    ("exists", "released"), [(False, True), (True, False)], ids=["gone", "listed-late"]
)
def test_pods_of_an_unknown_task_are_released_only_once_it_is_gone(
    exists: bool, released: bool
) -> None:
    orphan = owned(pod("Running", main=running(), finalizers=HELD), 1)
    orphan["metadata"]["ownerReferences"][0]["name"] = "area"
    client = FakeClient()
    client.task = {"metadata": {"uid": UID}} if exists else None

    async def go() -> None:
        reconciler = Reconciler(client, OperatorSettings(), lambda uid: [orphan])  # type: ignore[arg-type]
        await reconciler.reconcile(UID)

    asyncio.run(go())
    assert client.calls == [("read-task", "area")] + ([("release", "area-1")] if released else [])


def test_nothing_is_decided_in_a_namespace_whose_pods_are_not_seen() -> None:
    client = FakeClient()

    async def go() -> float | None:
        reconciler = Reconciler(client, OperatorSettings(), lambda uid: [], sees=lambda ns: False)  # type: ignore[arg-type]
        reconciler.observe(task_body())
        return await reconciler.reconcile(UID)

    assert asyncio.run(go()) == 10.0
    assert client.calls == []
