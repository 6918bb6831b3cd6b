"""How fast the operator turns N ContainerTasks (default 1,000, created at once) into Succeeded, next
to the same number of Jobs through the real Job controller and the raw pod-create rate.

Usage: .venv/bin/python benchmarks/reconcile/bench_reconcile.py [--tasks 1000] [-- operator flags]
Brings the local cluster up if needed (and leaves it as it found it); runs the operator as a
subprocess watching the benchmark's namespace; prints one JSON object:

- raw_pods: N pods of the task pod's shape created directly (64 at a time): the apiserver's limit;
- tasks: seconds from the first create until all N are Succeeded, tasks/s, and the latency from a
  task's create response to its pod's ADDED event on a watch (p50/p99), the operator's peak RSS;
- jobs: N one-pod Jobs with the same pod, seconds until all are Complete, jobs/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import kopf
import psutil

from containertask.api import GROUP, PLURAL, VERSION, TaskSpec, UploadResult
from containertask.api.constants import CRD_NAME
from containertask.controller import kube, pods
from containertask.controller.ratelimit import TokenBucket
from containertask.controller.settings import OperatorSettings

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "hack"))

import localcluster  # noqa: E402 - from hack/

CONCURRENCY = 64
SIM = {
    "sim.containertask.io/run-seconds": "1",
    "sim.containertask.io/message.uploader": UploadResult(ok=True, outputs={"n": 1}).to_message(),
}
SPEC: dict[str, Any] = {
    "image": "busybox:1",
    "command": ["sh", "-c", "echo {{.inputs.a}} > /var/outputs/n"],
    "inputs": [{"name": "a", "type": "int", "value": 1}],
    "outputs": [{"name": "n", "type": "int"}],
    "podTemplate": {"metadata": {"annotations": SIM}},
}


def pod_shape(namespace: str) -> dict[str, Any]:
    """The pod the operator builds for SPEC, without owner or operator labels."""
    pod = pods.build_pod(
        pods.Owner("shape", namespace, "none"), TaskSpec.from_dict(SPEC), 1, OperatorSettings()
    )
    pod["metadata"].pop("ownerReferences")
    pod["metadata"]["labels"] = {}
    return pod


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def in_parallel(n: int, make: Callable[[int], Awaitable[None]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await make(i)

    await asyncio.gather(*(one(i) for i in range(n)))


def login() -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())


async def watch_added(path: str, seen: dict[str, float]) -> None:
    """Record when each object's ADDED event arrives on a watch of ``path`` (until cancelled)."""
    info = login()
    assert info is not None
    connector = aiohttp.TCPConnector(ssl=kube.ssl_context(info))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.get(
            info.server + path,
            params={"watch": "1"},
            timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
        ) as response,
    ):
        buffer = b""
        async for chunk in response.content.iter_any():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                event = json.loads(line)
                if event["type"] == "ADDED":
                    seen.setdefault(event["object"]["metadata"]["name"], time.monotonic())


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step did not finish in time")
        await asyncio.sleep(0.5)


async def count(api: kube.Client, path: str, done: Callable[[Mapping[str, Any]], bool]) -> int:
    items = (await api.request("GET", path))["items"]
    return sum(1 for item in items if done(item))


async def raw_pods(api: kube.Client, namespace: str, n: int) -> dict[str, Any]:
    shape = pod_shape(namespace)

    async def create(i: int) -> None:
        pod = json.loads(json.dumps(shape))
        pod["metadata"]["name"] = f"raw-{i}"
        await api.create_pod(pod)

    started = time.monotonic()
    await in_parallel(n, create)
    seconds = time.monotonic() - started
    return {"pods": n, "seconds": round(seconds, 2), "pods_per_second": round(n / seconds, 1)}


async def tasks(
    api: kube.Client, namespace: str, n: int, operator: psutil.Process
) -> dict[str, Any]:
    created: dict[str, float] = {}
    added: dict[str, float] = {}
    watcher = asyncio.create_task(watch_added(f"/api/v1/namespaces/{namespace}/pods", added))
    await asyncio.sleep(0.5)
    peak = [operator.memory_info().rss]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            peak[0] = max(peak[0], operator.memory_info().rss)

    threading.Thread(target=sample, daemon=True).start()
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"

    async def create(i: int) -> None:
        name = f"t-{i}"
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ContainerTask",
            "metadata": {"name": name},
            "spec": SPEC,
        }
        await api.request("POST", path, body)
        created[name] = time.monotonic()

    started = time.monotonic()
    await in_parallel(n, create)
    created_in = time.monotonic() - started

    async def all_succeeded() -> bool:
        return (
            await count(api, path, lambda t: (t.get("status") or {}).get("phase") == "Succeeded")
            == n
        )

    await wait_until(all_succeeded, timeout=600)
    seconds = time.monotonic() - started
    sampling.set()
    if watcher.done():
        watcher.result()  # a watch that died says why
    watcher.cancel()
    latencies = [
        (added[f"{name}-1"] - at) * 1000 for name, at in created.items() if f"{name}-1" in added
    ]
    return {
        "tasks": n,
        "create_seconds": round(created_in, 2),
        "seconds_to_all_succeeded": round(seconds, 2),
        "tasks_per_second": round(n / seconds, 1),
        "pod_created_latency_ms": {
            "measured": len(latencies),
            "p50": round(statistics.median(latencies), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "operator_peak_rss_mib": round(peak[0] / 2**20, 1),
        "operator_cpu_seconds": round(sum(operator.cpu_times()[:2]), 1),
    }


async def jobs(api: kube.Client, namespace: str, n: int) -> dict[str, Any]:
    shape = pod_shape(namespace)
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs"

    async def create(i: int) -> None:
        template = {"metadata": {"annotations": SIM}, "spec": shape["spec"]}
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"j-{i}"},
            "spec": {"backoffLimit": 0, "template": template},
        }
        await api.request("POST", path, job)

    def complete(job: Mapping[str, Any]) -> bool:
        conditions = (job.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    started = time.monotonic()
    await in_parallel(n, create)
    created_in = time.monotonic() - started

    async def all_complete() -> bool:
        return await count(api, path, complete) == n

    await wait_until(all_complete, timeout=900)
    seconds = time.monotonic() - started
    return {
        "jobs": n,
        "create_seconds": round(created_in, 2),
        "seconds_to_all_complete": round(seconds, 2),
        "jobs_per_second": round(n / seconds, 1),
    }


async def run(n: int, operator_args: list[str], cluster: localcluster.Cluster) -> dict[str, Any]:
    env = {**cluster.env(), "KUBECONFIG": str(cluster.kubeconfig)}
    api = kube.Client(login, TokenBucket(0, 1), timeout=120)
    suffix = uuid.uuid4().hex[:6]
    spaces = {part: f"bench-{part}-{suffix}" for part in ("raw", "tasks", "jobs")}
    for space in spaces.values():
        await api.request("POST", "/api/v1/namespaces", {"metadata": {"name": space}})
    await asyncio.sleep(2)  # the namespaces' default service accounts
    command = [
        str(Path(sys.executable).parent / "containertask"),
        "operator",
        f"--namespace={spaces['tasks']}",
        "--listen-address=127.0.0.1",
        "--metrics-port=0",
        "--liveness-port=0",
        "--log-level=WARNING",
        *operator_args,
    ]
    log = Path(f"/tmp/bench-operator-{suffix}.log")
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=out)
    try:
        await asyncio.sleep(3)  # operator startup: login, discovery, initial listings
        result = {
            "raw_pods": await raw_pods(api, spaces["raw"], n),
            "tasks": await tasks(api, spaces["tasks"], n, psutil.Process(process.pid)),
            "jobs": await jobs(api, spaces["jobs"], n),
            "operator_flags": operator_args,
        }
    finally:
        process.terminate()
        process.wait(timeout=30)
        for space in spaces.values():
            await api.request("DELETE", f"/api/v1/namespaces/{space}")
        await api.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("operator_args", nargs="*", help="extra operator flags (after --)")
    args = parser.parse_args()
    settings = localcluster.Settings()
    up = localcluster.up(settings)
    crd = ROOT / "charts" / "containertask" / "crds"
    up.cluster.kubectl("apply", "-f", str(crd), check=False)
    up.cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    try:
        os.environ["KUBECONFIG"] = str(up.cluster.kubeconfig)
        print(json.dumps(asyncio.run(run(args.tasks, args.operator_args, up.cluster)), indent=2))
    finally:
        if up.started:
            localcluster.down(settings, components=up.started)


if __name__ == "__main__":
    main()
