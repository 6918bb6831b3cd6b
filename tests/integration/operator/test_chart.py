"""The Helm chart: lint, template, install; then the operator runs under the chart's
ServiceAccount (a TokenRequest token in a kubeconfig), so the chart's RBAC is what is tested."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from operatorkit import CHART, ROOT, Operator, Tasks, helm, token_kubeconfig

import localcluster
from containertask.api import UploadResult

pytestmark = pytest.mark.integration


def rendered(cluster: localcluster.Cluster, *args: str) -> list[dict[str, Any]]:
    text = helm(cluster, "template", "ct", str(CHART), "--namespace=ops", *args)
    return [d for d in yaml.safe_load_all(text) if d]


def kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return sorted((d["kind"], d["metadata"].get("namespace")) for d in docs)


def test_chart_lints(cluster: localcluster.Cluster) -> None:
    helm(cluster, "lint", "--strict", str(CHART))


def test_chart_crd_is_the_generated_one() -> None:
    chart_copy = CHART / "crds" / "containertask.io_containertasks.yaml"
    assert (
        chart_copy.read_text()
        == (ROOT / "crds" / "containertask.io_containertasks.yaml").read_text()
    )


def test_template_cluster_wide(cluster: localcluster.Cluster) -> None:
    docs = rendered(cluster, "--include-crds")
    assert kinds(docs) == [
        ("ClusterRole", None),
        ("ClusterRoleBinding", None),
        ("CustomResourceDefinition", None),
        ("Deployment", "ops"),
        ("ServiceAccount", "ops"),
    ]
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert "--all-namespaces" in container["args"]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True


def test_template_per_namespace_has_nothing_cluster_wide(cluster: localcluster.Cluster) -> None:
    docs = rendered(cluster, "--set=watchNamespaces={a,b}", "--set=copilot.storageSecret=s3")
    assert kinds(docs) == [
        ("Deployment", "ops"),
        ("Role", "a"),
        ("Role", "b"),
        ("RoleBinding", "a"),
        ("RoleBinding", "b"),
        ("ServiceAccount", "ops"),
    ]
    container = next(d for d in docs if d["kind"] == "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert [a for a in container["args"] if a.startswith("--namespace")] == [
        "--namespace=a",
        "--namespace=b",
    ]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["CONTAINERTASK_COPILOT_SECRET"] == "s3"
    assert env["CONTAINERTASK_COPILOT_IMAGE"] == "ghcr.io/containertask/containertask:0.1.0"


def test_operator_runs_with_only_the_charts_rbac(
    cluster: localcluster.Cluster,
    api_client: Any,
    namespace: str,
    start_operator: Callable[..., Operator],
    tasks: Tasks,
    tmp_path: Path,
) -> None:
    helm(
        cluster,
        "install",
        "ct",
        str(CHART),
        f"--namespace={namespace}",
        "--skip-crds",
        f"--set=watchNamespaces={{{namespace}}}",
    )
    kubeconfig = token_kubeconfig(
        cluster, api_client, namespace, "ct-containertask", tmp_path / "sa.kubeconfig"
    )
    operator = start_operator(kubeconfig=kubeconfig)
    message = UploadResult(ok=True, outputs={"n": 1}).to_message()
    tasks.create("ok", sim={"message.uploader": message}, outputs=[{"name": "n", "type": "int"}])
    assert tasks.wait_phase("ok", "Succeeded")["outputs"] == {"n": 1}
    tasks.create("stopped", sim={"run-seconds": "120"})
    tasks.wait_phase("stopped", "Running")
    tasks.patch_spec("stopped", {"cancel": True})
    tasks.wait_phase("stopped", "Cancelled")
    tasks.wait_gone("stopped-1")
    assert "PodCreated" in [reason for _, reason, _ in tasks.events("ok")]
    log = operator.log.read_text()
    assert "403" not in log and "Forbidden" not in log
