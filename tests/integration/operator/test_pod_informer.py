"""The operator's informers against the real apiserver: listing, watching, label and field
selection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import kopf
import pytest
from kubernetes import client
from operatorkit import Tasks

import localcluster
from containertask.api import API_VERSION, KIND
from containertask.controller import kube
from containertask.controller.informer import PodInformer
from containertask.controller.podwarnings import WarningInformer
from containertask.controller.ratelimit import TokenBucket
from localcluster import kwok

pytestmark = pytest.mark.integration

SELECTOR = "app.kubernetes.io/managed-by=containertask"


def owned_pod(name: str, task: dict[str, Any], labels: dict[str, str]) -> dict[str, Any]:
    meta = task["metadata"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": API_VERSION,
                    "kind": KIND,
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": kwok.on_kwok({"containers": [{"name": "main", "image": "busybox:1"}]}),
    }


async def until(check: Callable[[], bool], what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        await asyncio.sleep(0.05)


def operator_client() -> kube.Client:
    """The operator's API client, logged in with $KUBECONFIG."""
    return kube.Client(
        lambda: kopf.login_with_kubeconfig(settings=kopf.OperatorSettings()),
        TokenBucket(0, 1),
        timeout=30,
    )


def test_informer_lists_then_follows_its_pods(
    cluster: localcluster.Cluster,
    chart_crd: str,
    api_client: Any,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    core = client.CoreV1Api(api_client)
    tasks = Tasks(api_client, namespace)
    task = tasks.create("owner")
    uid = task["metadata"]["uid"]
    ours = dict([SELECTOR.split("=")])
    core.create_namespaced_pod(namespace, owned_pod("before", task, ours))  # type: ignore[arg-type]
    core.create_namespaced_pod(namespace, owned_pod("not-ours", task, {"app": "other"}))  # type: ignore[arg-type]

    async def scenario() -> list[str]:
        api = operator_client()
        changed: list[str] = []
        informer = PodInformer(api, [namespace], SELECTOR, changed.append, watch_seconds=2)

        def names() -> set[str]:
            return {p["metadata"]["name"] for p in informer.pods_of(uid)}

        running = asyncio.create_task(informer.run())
        try:
            await asyncio.wait_for(informer.synced.wait(), 20)
            assert names() == {"before"}  # listed; the unlabelled pod is not ours
            after = owned_pod("after", task, ours)
            await asyncio.to_thread(lambda: core.create_namespaced_pod(namespace, after))  # type: ignore[arg-type]
            await until(lambda: names() == {"before", "after"}, "the watch never saw 'after'")
            await asyncio.sleep(3)  # the server ends the 2 s watch; the informer resumes
            await asyncio.to_thread(core.delete_namespaced_pod, "before", namespace)
            await until(lambda: names() == {"after"}, "the deletion of 'before' never arrived")
            unlabel = {"metadata": {"labels": None}}
            await asyncio.to_thread(lambda: core.patch_namespaced_pod("after", namespace, unlabel))
            await until(lambda: names() == set(), "a pod that left the selector stayed")
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
            await api.close()
        return changed

    changed = asyncio.run(scenario())
    assert changed and set(changed) == {uid}


def event(
    name: str, namespace: str, pod: dict[str, Any], kind: str, reason: str, message: str
) -> dict[str, Any]:
    meta = pod["metadata"]
    return {
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "namespace": meta["namespace"],
            "name": meta["name"],
            "uid": meta["uid"],
            "fieldPath": "spec.containers{main}",
        },
        "type": kind,
        "reason": reason,
        "message": message,
        "source": {"component": "kubelet"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 1,
    }


def test_warning_informer_follows_the_warnings_about_our_pods(
    cluster: localcluster.Cluster,
    chart_crd: str,
    api_client: Any,
    namespace: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server takes the field selector (only Warning events about pods arrive); the
    latest warning of an owned pod is kept and its task told."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    core = client.CoreV1Api(api_client)
    tasks = Tasks(api_client, namespace)
    task = tasks.create("warned")
    uid = task["metadata"]["uid"]
    ours = dict([SELECTOR.split("=")])
    pod = api_client.sanitize_for_serialization(
        core.create_namespaced_pod(namespace, owned_pod("warned-1", task, ours))  # type: ignore[arg-type]
    )

    async def scenario() -> list[str]:
        api = operator_client()
        pods = PodInformer(api, [namespace], SELECTOR, lambda _: None, watch_seconds=2)
        changed: list[str] = []
        warnings = WarningInformer(api, [namespace], pods.owner_of, changed.append, 2)

        def post(name: str, kind: str, reason: str, message: str) -> None:
            core.create_namespaced_event(
                namespace,
                event(name, namespace, pod, kind, reason, message),  # type: ignore[arg-type]
            )

        running = [asyncio.create_task(pods.run()), asyncio.create_task(warnings.run())]
        try:
            await asyncio.wait_for(pods.synced.wait(), 20)
            await asyncio.to_thread(post, "normal", "Normal", "Pulling", "Pulling")
            await asyncio.to_thread(
                post, "pull", "Warning", "Failed", 'Failed to pull image "nope:1"'
            )
            await until(lambda: warnings.warning_for(pod) is not None, "no warning arrived")
            found = warnings.warning_for(pod)
            assert found is not None
            assert (found.reason, found.container) == ("ErrImagePull", "main")
            assert found.message == 'Failed to pull image "nope:1"'
        finally:
            for job in running:
                job.cancel()
            await asyncio.gather(*running, return_exceptions=True)
            await api.close()
        return changed

    assert asyncio.run(scenario()) == [uid]
