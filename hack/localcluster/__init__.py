"""Local test cluster: real Kubernetes control plane, kwok nodes and MinIO on 127.0.0.1.

Entry points: ``hack/cluster`` (CLI) and the pytest fixture in ``tests/integration/conftest.py``.
"""

from localcluster.build import BuildError, ensure_built
from localcluster.cluster import Cluster, ClusterError, down, info, session, status, up
from localcluster.config import Settings

__all__ = [
    "BuildError",
    "Cluster",
    "ClusterError",
    "Settings",
    "down",
    "ensure_built",
    "info",
    "session",
    "status",
    "up",
]
