"""The local control plane is real: versions, RBAC, CRDs, the scheduler, idempotent startup."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from typing import Any, cast

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.utils import parse_quantity

import localcluster
from localcluster import kwok
from localcluster.config import REPO_ROOT

pytestmark = pytest.mark.integration

VERSION = "v1.37.2"


def test_kubectl_and_apiserver_report_the_pinned_version(cluster: localcluster.Cluster) -> None:
    versions = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert versions["clientVersion"]["gitVersion"] == VERSION
    assert versions["serverVersion"]["gitVersion"] == VERSION


def test_kwok_nodes_are_ready(cluster: localcluster.Cluster, api_client: Any) -> None:
    core = client.CoreV1Api(api_client)
    deadline = time.monotonic() + 30
    while True:
        nodes = core.list_node(label_selector="containertask.io/kwok-node").items
        ready = [
            _metadata(n).name
            for n in nodes
            if any(c.type == "Ready" and c.status == "True" for c in _status(n).conditions or [])
        ]
        if len(ready) >= localcluster.Settings().nodes or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(ready) == localcluster.Settings().nodes
    allocatable = _status(nodes[0]).allocatable
    assert allocatable is not None
    assert parse_quantity(allocatable["pods"]) == 5000  # type: ignore[no-untyped-call]
    assert parse_quantity(allocatable["cpu"]) == 64  # type: ignore[no-untyped-call]


def _metadata(node: client.V1Node) -> client.V1ObjectMeta:
    assert node.metadata is not None
    return node.metadata


def _status(node: client.V1Node) -> client.V1NodeStatus:
    assert node.status is not None
    return node.status


def test_up_is_idempotent(cluster: localcluster.Cluster) -> None:
    result = localcluster.up()
    assert result.started == []
    assert result.cluster == cluster
    assert result.seconds < 15


def test_cli_env_exports_what_the_fixture_uses(cluster: localcluster.Cluster) -> None:
    out = subprocess.run(
        [str(REPO_ROOT / "hack" / "cluster"), "env"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PATH": "/usr/bin:/bin"},  # hack/cluster needs nothing on PATH
    ).stdout
    exported = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines())
    expected = cluster.env()
    assert set(exported) == set(expected)
    assert exported["KUBECONFIG"] == str(cluster.kubeconfig)
    assert exported["AWS_ENDPOINT_URL"] == cluster.s3_endpoint
    assert exported["AWS_REGION"] == "us-east-1"
    assert exported["PATH"].startswith(f"{cluster.bin_dir}:")
    assert cluster.helm_path.exists()
    assert cluster.kubectl_path.exists()


def test_cli_status_reports_every_component_healthy(cluster: localcluster.Cluster) -> None:
    out = subprocess.run(
        [str(REPO_ROOT / "hack" / "cluster"), "status"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split() for line in out.splitlines()[1:]]
    assert {r[0] for r in rows} >= {"etcd", "kube-apiserver", "kwok", "minio"}
    assert all(r[-1] == "ok" for r in rows), out


def test_service_account_without_role_is_denied(
    cluster: localcluster.Cluster, api_client: Any, namespace: str
) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nobody"))
    )
    requested = core.create_namespaced_service_account_token(
        "nobody",
        namespace,
        client.AuthenticationV1TokenRequest(spec={"audiences": []}),  # type: ignore[arg-type]
    ).status
    assert requested is not None
    token = requested.token
    config = client.Configuration()
    config.host = cluster.api_server
    config.ssl_ca_cert = str(cluster.run_dir / "pki" / "ca.crt")
    config.api_key = {"authorization": f"Bearer {token}"}
    with client.ApiClient(config) as as_sa:
        with pytest.raises(ApiException) as denied:
            client.CoreV1Api(as_sa).list_namespaced_pod(namespace)
        assert denied.value.status == 403
        # Authentication itself worked: the API knows who is asking.
        review = client.AuthenticationV1Api(as_sa).create_self_subject_review(
            client.V1SelfSubjectReview()
        )
    assert review.status is not None and review.status.user_info is not None
    assert review.status.user_info.username == f"system:serviceaccount:{namespace}:nobody"
    can_i = cluster.kubectl(
        "auth", "can-i", "create", "pods", "-n", namespace,
        f"--as=system:serviceaccount:{namespace}:nobody", check=False,
    )  # fmt: skip
    assert can_i.stdout.strip() == "no"


def test_crd_becomes_established_and_serves_custom_resources(
    cluster: localcluster.Cluster, api_client: Any, namespace: str
) -> None:
    group = "localcluster.test.containertask.io"
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    cluster.kubectl("apply", "-f", "-", input=json.dumps(crd))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/widgets.{group}", "--timeout=30s")
    custom = client.CustomObjectsApi(api_client)
    body = {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 3},
    }
    deadline = time.monotonic() + 15
    while True:  # discovery of a just-established CRD can lag by a moment
        try:
            custom.create_namespaced_custom_object(group, "v1", namespace, "widgets", body)
            break
        except ApiException as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    got = cast(
        Mapping[str, Any],
        custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", "w1"),
    )
    assert got["spec"] == {"size": 3}


def test_unsatisfiable_node_selector_is_unschedulable(api_client: Any, namespace: str) -> None:
    core = client.CoreV1Api(api_client)
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="nowhere"),
        spec=client.V1PodSpec(
            restart_policy="Never",
            node_selector={"containertask.io/no-such-node": "true"},
            # Tolerate the kwok nodes' taint so that the selector alone rules out every node.
            tolerations=kwok.PLACEMENT["tolerations"],
            containers=[client.V1Container(name="main", image="busybox")],
        ),
    )
    core.create_namespaced_pod(namespace, pod)
    deadline = time.monotonic() + 30
    condition = None
    while time.monotonic() < deadline:
        status = core.read_namespaced_pod_status("nowhere", namespace).status
        assert status is not None
        condition = next((c for c in status.conditions or [] if c.type == "PodScheduled"), None)
        if condition is not None:
            break
        time.sleep(0.2)
    assert condition is not None
    assert (condition.status, condition.reason) == ("False", "Unschedulable")
    assert condition.message is not None
    assert "didn't match Pod's node affinity/selector" in condition.message
