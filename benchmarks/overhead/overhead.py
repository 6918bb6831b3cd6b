"""What containertask adds to a pod's life on the real node: tasks beside bare pods, same image
and command, one at a time, in one run.

For each run it measures
  start: pod created -> main container started
  end:   main container exited -> task Succeeded (bare pod: pod Succeeded)
and prints p50/p95/min/max of each, and the added time at p50.

"Pod created" and "Succeeded" are when a watch delivers them to this process; "main started" and
"main exited" are the program's own clock readings: ``/proc/uptime`` (busybox's ``date`` has no
``%N``), the kernel's boot-time clock, which this process reads as ``CLOCK_BOOTTIME`` (the node is
this machine). Object timestamps have whole-second resolution, too coarse for this.

Usage (the cluster up with the real node, ``CONTAINERTASK_RUN_DIR`` naming its run directory):

    .venv/bin/python benchmarks/overhead/overhead.py [--runs 20] [--json]

The operator is the chart's (``helm upgrade --install`` with the image built from this worktree),
in a namespace of its own, removed at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from kubernetes import client, config, watch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))

import localcluster
from containertask.api import GROUP, PLURAL, VERSION
from containertask.api.constants import LABEL_TASK
from localcluster import deploy

RELEASE = "containertask-bench"
OPERATOR_NAMESPACE = "containertask-bench"
TASKS = "containertask-bench-tasks"
OUTPUTS = "/var/outputs"
# The program: its start and end on the node's boot-time clock, and one primitive output.
CLOCK = "cut -d' ' -f1 /proc/uptime"
SCRIPT = f"{CLOCK}; echo 1 > {OUTPUTS}/n; {CLOCK}"


def now() -> float:
    """The clock the program reads from /proc/uptime."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


@dataclass
class Seen:
    """When this process first saw each thing happen (:func:`now`), by object name."""

    created: dict[str, float] = field(default_factory=dict)
    succeeded: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def note(self, table: dict[str, Any], name: str, value: Any) -> None:
        with self.changed:
            table.setdefault(name, value)
            self.changed.notify_all()

    def wait(self, what: Callable[[], bool], timeout: float) -> None:
        with self.changed:
            if not self.changed.wait_for(what, timeout):
                raise TimeoutError(f"not after {timeout}s")


def _follow(
    list_call: Callable[..., Any], on_event: Callable[[str, Any], None], *args: Any
) -> None:
    while True:
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            list_call, *args, timeout_seconds=300
        )
        for event in stream:
            on_event(event["type"], event["object"])


def start_watches(api: client.ApiClient, seen: Seen) -> None:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)

    def on_pod(kind: str, pod: Any) -> None:
        name = pod.metadata.name
        seen.note(seen.created, name, now())
        if pod.status.phase == "Succeeded":
            seen.note(seen.succeeded, name, now())
        elif pod.status.phase == "Failed":
            seen.note(seen.failed, name, "pod Failed")

    def on_task(kind: str, task: dict[str, Any]) -> None:
        name, phase = task["metadata"]["name"], (task.get("status") or {}).get("phase")
        if phase == "Succeeded":
            seen.note(seen.succeeded, name, now())
        elif phase in ("Failed", "Cancelled"):
            seen.note(seen.failed, name, json.dumps(task["status"]))

    for target in (
        lambda: _follow(core.list_namespaced_pod, on_pod, TASKS),
        lambda: _follow(
            custom.list_namespaced_custom_object, on_task, GROUP, VERSION, TASKS, PLURAL
        ),
    ):
        threading.Thread(target=target, daemon=True).start()


def program_clock(core: client.CoreV1Api, pod: str) -> tuple[float, float]:
    """The main container's own start and end readings, from its log."""
    lines = core.read_namespaced_pod_log(pod, TASKS, container="main").split()
    return float(lines[0]), float(lines[-1])


def bare_pod(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "command": ["sh", "-c", SCRIPT],
                    "volumeMounts": [{"name": "outputs", "mountPath": OUTPUTS}],
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
                }
            ],
            "volumes": [{"name": "outputs", "emptyDir": {}}],
        },
    }


def task(name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ContainerTask",
        "metadata": {"name": name},
        "spec": {
            "image": image,
            "command": ["sh", "-c", SCRIPT],
            "outputs": [{"name": "n", "type": "int"}],
            "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}},
        },
    }


@dataclass
class Sample:
    start: float  # pod created -> main started
    end: float  # main exited -> Succeeded
    total: float  # submitted -> Succeeded


def run_bare(api: client.ApiClient, seen: Seen, image: str, timeout: float) -> Sample:
    core = client.CoreV1Api(api)
    name = f"bare-{uuid.uuid4().hex[:8]}"
    submitted = now()
    core.create_namespaced_pod(TASKS, bare_pod(name, image))  # type: ignore[arg-type]
    seen.wait(lambda: name in seen.succeeded or name in seen.failed, timeout)
    if name in seen.failed:
        raise RuntimeError(f"{name}: {seen.failed[name]}")
    began, ended = program_clock(core, name)
    core.delete_namespaced_pod(name, TASKS, grace_period_seconds=0)
    done = seen.succeeded[name]
    return Sample(began - seen.created[name], done - ended, done - submitted)


def run_task(api: client.ApiClient, seen: Seen, image: str, timeout: float) -> Sample:
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)
    name = f"task-{uuid.uuid4().hex[:8]}"
    submitted = now()
    custom.create_namespaced_custom_object(GROUP, VERSION, TASKS, PLURAL, task(name, image))
    try:
        seen.wait(lambda: name in seen.succeeded or name in seen.failed, timeout)
    except TimeoutError as late:
        obj = cast(
            Mapping[str, Any],
            custom.get_namespaced_custom_object(GROUP, VERSION, TASKS, PLURAL, name),
        )
        pods = core.list_namespaced_pod(TASKS, label_selector=f"{LABEL_TASK}={name}").items
        states = [_state(p) for p in pods]
        raise RuntimeError(f"{name}: {late}; status {obj.get('status')}; pods {states}") from None
    if name in seen.failed:
        raise RuntimeError(f"{name}: {seen.failed[name]}")
    [pod] = core.list_namespaced_pod(TASKS, label_selector=f"{LABEL_TASK}={name}").items
    assert pod.metadata is not None and pod.metadata.name is not None
    began, ended = program_clock(core, pod.metadata.name)
    custom.delete_namespaced_custom_object(GROUP, VERSION, TASKS, PLURAL, name)
    done = seen.succeeded[name]
    return Sample(began - seen.created[pod.metadata.name], done - ended, done - submitted)


def _state(pod: client.V1Pod) -> tuple[str | None, dict[str, Any]]:
    assert pod.metadata is not None and pod.status is not None
    return pod.metadata.name, pod.status.to_dict()


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "p50": round(statistics.median(ordered), 3),
        "p95": round(p95, 3),
        "min": round(ordered[0], 3),
        "max": round(ordered[-1], 3),
    }


@contextmanager
def chart_operator(cluster: localcluster.Cluster, image: Any) -> Iterator[None]:
    cluster.kubectl("apply", "-f", str(deploy.CHART / "crds"))
    deploy.install(cluster, image, RELEASE, OPERATOR_NAMESPACE, watch=(TASKS,))
    try:
        yield
    except BaseException:
        logs = cluster.kubectl(
            "logs", "-n", OPERATOR_NAMESPACE, f"deploy/{RELEASE}", "--tail=300", check=False
        )
        print(f"the operator's log, last lines:\n{logs.stdout}", file=sys.stderr)
        raise
    finally:
        deploy.uninstall(cluster, RELEASE, OPERATOR_NAMESPACE)
        cluster.kubectl("delete", "namespace", TASKS, OPERATOR_NAMESPACE, "--wait=false")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="tasks and bare pods, each")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per run")
    parser.add_argument("--json", action="store_true", help="one JSON object, not a table")
    args = parser.parse_args()

    settings = localcluster.Settings()
    with localcluster.session(keep=True) as cluster:
        if cluster.node_name is None:
            raise SystemExit(f"no real node runs from {settings.run_dir}")
        images = deploy.images_on_node(settings)
        examples = images["examples"].ref
        api = config.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=str(cluster.kubeconfig)
        )
        with chart_operator(cluster, images["containertask"]):
            seen = Seen()
            start_watches(api, seen)
            run_bare(api, seen, examples, args.timeout)  # warm-up: the image's first use
            run_task(api, seen, examples, args.timeout)
            samples: dict[str, list[Sample]] = {"bare pod": [], "task": []}
            for _ in range(args.runs):  # interleaved, so load changes hit both alike
                samples["bare pod"].append(run_bare(api, seen, examples, args.timeout))
                samples["task"].append(run_task(api, seen, examples, args.timeout))
    report: dict[str, dict[str, Any]] = {
        kind: {
            metric: summary([getattr(s, metric) for s in runs])
            for metric in ("start", "end", "total")
        }
        for kind, runs in samples.items()
    }
    report["added at p50"] = {
        metric: round(report["task"][metric]["p50"] - report["bare pod"][metric]["p50"], 3)
        for metric in ("start", "end", "total")
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(
        f"{args.runs} runs each; seconds; start = pod created -> main started, "
        "end = main exited -> Succeeded, total = submitted -> Succeeded"
    )
    for kind in ("bare pod", "task"):
        for metric, s in report[kind].items():
            print(
                f"{kind:9} {metric:6} p50 {s['p50']:6.3f}  p95 {s['p95']:6.3f}  "
                f"min {s['min']:6.3f}  max {s['max']:6.3f}"
            )
    added = report["added at p50"]
    print("added at p50: " + ", ".join(f"{m} {v:+.3f}" for m, v in added.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
