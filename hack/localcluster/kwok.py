"""kwok's configuration (our Stages from hack/kwok/stages) and the fake nodes it manages."""

from __future__ import annotations

import json
from pathlib import Path

from localcluster.config import KWOK_DIR

NODE_LABEL = "containertask.io/kwok-node"
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
            "status": {"allocatable": ALLOCATABLE, "capacity": ALLOCATABLE},
        }
        for i in range(count)
    ]
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": nodes})
