"""How fast the operator turns N ContainerTasks (default 1,000, created at once) into Succeeded, next
to the same number of Jobs through the real Job controller and the raw pod-create rate.

Usage: .venv/bin/python benchmarks/reconcile/bench_reconcile.py [--tasks 1000] [--rate R]
       [--parts raw_pods,tasks,jobs] [-- operator flags]
Brings the local cluster up if needed (and leaves it as it found it); runs the operator as a
subprocess watching the benchmark's namespace; prints one JSON object:

- raw_pods: N pods of the task pod's shape created directly (64 at a time): the apiserver's limit;
- tasks: seconds from the first create until all N are Succeeded, tasks/s, the latency from a
  task's ADDED event to its pod's ADDED event, both seen by one watching process (p50/p99/max),
  the operator's peak RSS and CPU seconds;
- jobs: N one-pod Jobs with the same pod, seconds until all are Complete, jobs/s, and the same
  latency (Job ADDED → its pod ADDED) for the Job controller.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
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
from localcluster import kwok  # noqa: E402

CONCURRENCY = 64
PARTS = ("raw_pods", "tasks", "jobs")
SIM = {
    "sim.containertask.io/run-seconds": "1",
    "sim.containertask.io/message.uploader": UploadResult(ok=True, outputs={"n": 1}).to_message(),
}
SPEC: dict[str, Any] = {
    "image": "busybox:1",
    "command": ["sh", "-c", "echo {{.inputs.a}} > /var/outputs/n"],
    "inputs": [{"name": "a", "type": "int", "value": 1}],
    "outputs": [{"name": "n", "type": "int"}],
    "podTemplate": {"metadata": {"annotations": SIM}, "spec": kwok.on_kwok({})},
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


async def in_parallel(n: int, make: Callable[[int], Awaitable[None]], rate: float = 0) -> None:
    """``make(i)`` for i < n, 64 at a time; with ``rate``, the i-th starts no sooner than i/rate
    seconds after the first."""
    gate = asyncio.Semaphore(CONCURRENCY)
    start = time.monotonic()

    async def one(i: int) -> None:
        if rate:
            await asyncio.sleep(start + i / rate - time.monotonic())
        async with gate:
            await make(i)

    await asyncio.gather(*(one(i) for i in range(n)))


def login() -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(settings=kopf.OperatorSettings())


def _key(meta: Mapping[str, Any]) -> str:
    """A pod is known by the name of the object controlling it (its task or Job), so that each
    owner's ADDED can be matched with its first pod's."""
    for ref in meta.get("ownerReferences") or ():
        if ref.get("controller"):
            return str(ref["name"])
    return str(meta["name"])


async def watch_added(path: str, seen: dict[str, float]) -> None:
    """Record when each object's ADDED event arrives on a watch of ``path`` (until cancelled).

    The apiserver closes a watch whose reader falls behind, so the watch resumes from the last
    resourceVersion it saw; nothing is missed."""
    info = login()
    assert info is not None
    connector = aiohttp.TCPConnector(ssl=kube.ssl_context(info))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.get(info.server + path) as listing:
            version = (await listing.json())["metadata"]["resourceVersion"]
        while True:
            async with session.get(
                info.server + path,
                params={"watch": "1", "resourceVersion": version},
                timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
            ) as response:
                response.raise_for_status()
                buffer = b""
                async for chunk in response.content.iter_any():
                    buffer += chunk
                    *lines, buffer = buffer.split(b"\n")
                    for line in lines:
                        event = json.loads(line)
                        if event["type"] == "ERROR":
                            raise RuntimeError(f"watch of {path} failed: {event['object']}")
                        meta = event["object"]["metadata"]
                        version = meta["resourceVersion"]
                        if event["type"] == "ADDED":
                            seen.setdefault(_key(meta), time.monotonic())


async def _observe(paths: tuple[str, str], ready: Any, stop: Any, found: Any) -> None:
    seen: list[dict[str, float]] = [{}, {}]
    watches = [asyncio.create_task(watch_added(p, s)) for p, s in zip(paths, seen, strict=True)]
    await asyncio.sleep(0.5)  # the watches are open
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.1)
        for watch in watches:
            if watch.done():
                watch.result()  # a watch that died says why
    for watch in watches:
        watch.cancel()
    found.put(seen)


def _observer(paths: tuple[str, str], ready: Any, stop: Any, found: Any) -> None:
    asyncio.run(_observe(paths, ready, stop, found))


class PodLatency:
    """Owner ADDED → first pod ADDED, both seen by one process of its own, so the times are not
    held up by this process's event loop (busy with 64 creates at once)."""

    def __init__(self, owners_path: str, namespace: str) -> None:
        spawn = multiprocessing.get_context("spawn")
        self._ready, self._stop, self._found = spawn.Event(), spawn.Event(), spawn.Queue()
        paths = (owners_path, f"/api/v1/namespaces/{namespace}/pods")
        self._process = spawn.Process(
            target=_observer, args=(paths, self._ready, self._stop, self._found)
        )

    def __enter__(self) -> PodLatency:
        self._process.start()
        if not self._ready.wait(60):
            raise TimeoutError("the watching process did not start")
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._process.join(60)

    def figures(self) -> dict[str, Any]:
        self._stop.set()
        owners, pods = self._found.get(timeout=60)
        latencies = [(pods[name] - at) * 1000 for name, at in owners.items() if name in pods]
        return {
            "measured": len(latencies),
            "p50": round(statistics.median(latencies), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        }


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


async def create_and_wait(
    api: kube.Client,
    path: str,
    n: int,
    make: Callable[[int], dict[str, Any]],
    done: Callable[[Mapping[str, Any]], bool],
    rate: float,
) -> tuple[float, float]:
    """Create ``make(i)`` for i < n at ``path`` (at once, or ``rate`` per second); wait until
    ``done`` holds for all. Returns (seconds to create, seconds until all done)."""

    async def create(i: int) -> None:
        await api.request("POST", path, make(i))

    async def all_done() -> bool:
        return await count(api, path, done) == n

    started = time.monotonic()
    await in_parallel(n, create, rate)
    created_in = time.monotonic() - started
    await wait_until(all_done, timeout=900)
    return created_in, time.monotonic() - started


async def tasks(
    api: kube.Client, namespace: str, n: int, rate: float, operator: psutil.Process
) -> dict[str, Any]:
    path = f"/apis/{GROUP}/{VERSION}/namespaces/{namespace}/{PLURAL}"
    peak = [operator.memory_info().rss]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            peak[0] = max(peak[0], operator.memory_info().rss)

    def task(i: int) -> dict[str, Any]:
        return {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ContainerTask",
            "metadata": {"name": f"t-{i}"},
            "spec": SPEC,
        }

    def succeeded(task: Mapping[str, Any]) -> bool:
        return (task.get("status") or {}).get("phase") == "Succeeded"

    threading.Thread(target=sample, daemon=True).start()
    with PodLatency(path, namespace) as latency:
        created_in, seconds = await create_and_wait(api, path, n, task, succeeded, rate)
        sampling.set()
        return {
            "tasks": n,
            "create_seconds": round(created_in, 2),
            "seconds_to_all_succeeded": round(seconds, 2),
            "tasks_per_second": round(n / seconds, 1),
            "pod_created_latency_ms": latency.figures(),
            "operator_peak_rss_mib": round(peak[0] / 2**20, 1),
            "operator_cpu_seconds": round(sum(operator.cpu_times()[:2]), 1),
        }


async def jobs(api: kube.Client, namespace: str, n: int, rate: float) -> dict[str, Any]:
    shape = pod_shape(namespace)
    path = f"/apis/batch/v1/namespaces/{namespace}/jobs"

    def job(i: int) -> dict[str, Any]:
        template = {"metadata": {"annotations": SIM}, "spec": shape["spec"]}
        return {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": f"j-{i}"},
            "spec": {"backoffLimit": 0, "template": template},
        }

    def complete(job: Mapping[str, Any]) -> bool:
        conditions = (job.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Complete" and c["status"] == "True" for c in conditions)

    with PodLatency(path, namespace) as latency:
        created_in, seconds = await create_and_wait(api, path, n, job, complete, rate)
        return {
            "jobs": n,
            "create_seconds": round(created_in, 2),
            "seconds_to_all_complete": round(seconds, 2),
            "jobs_per_second": round(n / seconds, 1),
            "pod_created_latency_ms": latency.figures(),
        }


async def run(
    n: int, rate: float, parts: set[str], operator_args: list[str], cluster: localcluster.Cluster
) -> dict[str, Any]:
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
        result: dict[str, Any] = {"operator_flags": operator_args, "rate": rate or "at once"}
        if "raw_pods" in parts:
            result["raw_pods"] = await raw_pods(api, spaces["raw"], n)
        if "tasks" in parts:
            result["tasks"] = await tasks(
                api, spaces["tasks"], n, rate, psutil.Process(process.pid)
            )
        if "jobs" in parts:
            result["jobs"] = await jobs(api, spaces["jobs"], n, rate)
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
    parser.add_argument(
        "--rate",
        type=float,
        default=0,
        help="create tasks and Jobs at this many per second (default: all at once)",
    )
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"comma-separated subset of {','.join(PARTS)} (for iterating on one of them)",
    )
    parser.add_argument("operator_args", nargs="*", help="extra operator flags (after --)")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--parts: {args.parts!r}; allowed: {', '.join(PARTS)}")
    settings = localcluster.Settings()
    up = localcluster.up(settings)
    crd = ROOT / "charts" / "containertask" / "crds"
    up.cluster.kubectl("apply", "-f", str(crd), check=False)
    up.cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAME}")
    try:
        os.environ["KUBECONFIG"] = str(up.cluster.kubeconfig)
        print(
            json.dumps(
                asyncio.run(run(args.tasks, args.rate, parts, args.operator_args, up.cluster)),
                indent=2,
            )
        )
    finally:
        if up.started:
            localcluster.down(settings, components=up.started)


if __name__ == "__main__":
    main()
