"""kwok's configuration (our Stages from hack/kwok/stages) and the fake nodes it manages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localcluster.config import KWOK_DIR

NODE_LABEL = "containertask.io/kwok-node"
# kwok nodes run no containers: a pod lands on one only if it asks (see PLACEMENT), so pods that
# name no node go to the real node.
TAINT = {"key": NODE_LABEL, "value": "true", "effect": "NoSchedule"}
# What a pod spec (or a ContainerTask's spec: same field names) adds to run on a kwok node.
PLACEMENT: dict[str, Any] = {
    "nodeSelector": {NODE_LABEL: "true"},
    "tolerations": [{"key": NODE_LABEL, "operator": "Exists", "effect": "NoSchedule"}],
}


def on_kwok(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` (a pod spec as a dict) with PLACEMENT added: its pod runs on a kwok node."""
    return {
        **spec,
        "nodeSelector": {**(spec.get("nodeSelector") or {}), **PLACEMENT["nodeSelector"]},
        "tolerations": [*(spec.get("tolerations") or []), *PLACEMENT["tolerations"]],
    }


# Room for a 1,000-pod benchmark on the default two nodes.
ALLOCATABLE = {"cpu": "64", "memory": "256Gi", "pods": "5000"}

# A config document skips kwok's defaulting of these, so all are set.
_HEADER = """\
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  podPlayStageParallelism: 8
  nodePlayStageParallelism: 4
  nodeLeaseParallelism: 4
  podsOnNodeSyncParallelism: 2
"""


def write_config(path: Path) -> None:
    """One multi-document file: KwokConfiguration followed by every stage in hack/kwok/stages."""
    stages = [p.read_text() for p in sorted((KWOK_DIR / "stages").glob("*.yaml"))]
    path.write_text("\n---\n".join([_HEADER, *stages]))


def node_name(index: int) -> str:
    return f"kwok-node-{index}"


def node_manifest(count: int) -> str:
    """A v1 List of ``count`` Node objects for ``kubectl apply`` (status is kept on create)."""
    nodes = [
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node_name(i),
                "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                "labels": {
                    NODE_LABEL: "true",
                    "kubernetes.io/arch": "amd64",
                    "kubernetes.io/hostname": node_name(i),
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/role": "agent",
                    "type": "kwok",
                },
            },
            "spec": {"taints": [TAINT]},
            "status": {"allocatable": ALLOCATABLE, "capacity": ALLOCATABLE},
        }
        for i in range(count)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes})
