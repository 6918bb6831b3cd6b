"""How fast the local cluster runs an indexed Job of N kwok pods (default 1,000), and its RSS.

Usage: .venv/bin/python benchmarks/cluster/job_throughput.py [--pods 1000] [--parallelism 1000]
Brings the cluster up if needed (and leaves it as it found it). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path

import psutil
from kubernetes import client, config

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "hack"))

import localcluster
from localcluster import kwok
from localcluster.components import COMPONENTS
from localcluster.layout import Layout
from localcluster.processes import running


def cluster_rss_mib(settings: localcluster.Settings) -> dict[str, float]:
    layout = Layout(settings.run_dir)
    rss = {}
    for comp in COMPONENTS:
        found = running(layout.pid(comp.name), layout.root)
        if found:
            proc = psutil.Process(found[0])
            total = proc.memory_info().rss + sum(
                c.memory_info().rss for c in proc.children(recursive=True)
            )
            rss[comp.name] = round(total / 2**20, 1)
    return rss


def run(pods: int, parallelism: int) -> dict[str, object]:
    settings = localcluster.Settings()
    result = localcluster.up(settings)
    api = config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(result.cluster.kubeconfig)
    )
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    ns = f"bench-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    while not core.list_namespaced_service_account(ns).items:
        time.sleep(0.1)
    idle_rss = cluster_rss_mib(settings)
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="bench"),
        spec=client.V1JobSpec(
            completions=pods,
            parallelism=parallelism,
            completion_mode="Indexed",
            backoff_limit=0,
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(annotations={"sim.containertask.io/run-seconds": "1"}),
                spec=client.V1PodSpec(
                    restart_policy="Never",
                    node_selector=kwok.PLACEMENT["nodeSelector"],
                    tolerations=kwok.PLACEMENT["tolerations"],
                    containers=[client.V1Container(name="main", image="busybox")],
                ),
            ),
        ),
    )
    started = time.monotonic()
    batch.create_namespaced_job(ns, job)
    peak_rss: dict[str, float] = {}
    while True:
        status = batch.read_namespaced_job_status("bench", ns).status
        assert status is not None
        if any(
            c.type in ("Complete", "Failed") and c.status == "True" for c in status.conditions or []
        ):
            break
        for name, mib in cluster_rss_mib(settings).items():
            peak_rss[name] = max(peak_rss.get(name, 0.0), mib)
        time.sleep(0.5)
    seconds = time.monotonic() - started
    assert status.conditions is not None
    outcome = [c.type for c in status.conditions if c.status == "True"]
    core.delete_namespace(ns)
    if result.started:
        localcluster.down(settings, components=result.started)
    return {
        "pods": pods,
        "parallelism": parallelism,
        "outcome": outcome,
        "succeeded": status.succeeded,
        "seconds": round(seconds, 1),
        "pods_per_second": round(pods / seconds, 1),
        "rss_mib_idle": idle_rss,
        "rss_mib_idle_total": round(sum(idle_rss.values()), 1),
        "rss_mib_peak": peak_rss,
        "rss_mib_peak_total": round(sum(peak_rss.values()), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pods", type=int, default=1000)
    parser.add_argument("--parallelism", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.pods, args.parallelism), indent=2))


if __name__ == "__main__":
    main()
