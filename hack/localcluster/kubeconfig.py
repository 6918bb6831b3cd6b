"""Kubeconfig files pointing at the local apiserver with a client certificate."""

from __future__ import annotations

import json
from pathlib import Path

from localcluster.pki import Pki


def write_kubeconfig(path: Path, server: str, pki: Pki, identity: str) -> None:
    """Write ``path`` (JSON is valid YAML) for the client certificate named ``identity``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "containertask-local",
                "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": identity,
                "user": {
                    "client-certificate": str(pki.cert(identity)),
                    "client-key": str(pki.key(identity)),
                },
            }
        ],
        "contexts": [
            {
                "name": "containertask-local",
                "context": {"cluster": "containertask-local", "user": identity},
            }
        ],
        "current-context": "containertask-local",
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(config, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)
