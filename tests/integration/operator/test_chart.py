"""The Helm chart: lint, template, install; then the operator runs under the chart's
ServiceAccount (a TokenRequest token in a kubeconfig), so the chart's RBAC is what is tested."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from operatorkit import CHART, ROOT, Operator, Tasks, helm, run_helm, token_kubeconfig

import localcluster
from containertask.api import GROUP, PLURAL, VERSION, UploadResult

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
        ("ClusterRole", None),
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
    docs = rendered(
        cluster,
        "--set=watchNamespaces={a,b}",
        "--set=copilot.storageSecret=s3",
        "--set=aggregateToDefaultRoles=false",
    )
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
    assert env["CONTAINERTASK_DISRUPTION_LIMIT"] == "5"
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
        "--set=aggregateToDefaultRoles=false",  # cluster-wide: the roles test installs its own
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


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("--set=pendingTimeoutSeconds=0", "pendingTimeoutSeconds"),
        ("--set=uploadTimeoutSeconds=7200", "uploadTimeoutSeconds"),
        ("--set=pendingTimoutSeconds=5", "pendingTimoutSeconds"),
        ("--set=copilot.storageSecrets=s3", "storageSecrets"),
        ("--set=logLevel=TRACE", "logLevel"),
        ("--set=outputLocation=bucket/runs", "outputLocation"),
    ],
    ids=["zero-timeout", "long-upload", "misspelt-key", "misspelt-nested-key", "level", "location"],
)
@pytest.mark.parametrize("command", ["lint", "template"])
def test_values_schema_refuses_bad_values(
    cluster: localcluster.Cluster, command: str, setting: str, complaint: str
) -> None:
    done = run_helm(
        cluster, command, *(["--strict"] if command == "lint" else ["ct"]), str(CHART), setting
    )
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr


def test_documented_values_pass_the_schema(cluster: localcluster.Cluster) -> None:
    rendered(
        cluster,
        "--set=watchNamespaces={a,b}",
        "--set=outputLocation=s3://bucket/runs",
        "--set=copilot.storageSecret=s3-credentials",
        "--set=image.tag=dev",
        "--set=image.pullPolicy=Never",
    )


def test_user_roles_aggregate_into_view_edit_and_admin(cluster: localcluster.Cluster) -> None:
    roles = {
        d["metadata"]["name"]: d
        for d in rendered(cluster, "--set=watchNamespaces={a}")
        if d["kind"] == "ClusterRole"
    }
    labels = {name: set(r["metadata"]["labels"]) for name, r in roles.items()}
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {f"{aggregate}view", f"{aggregate}edit", f"{aggregate}admin"} <= labels[
        "ct-containertask-view"
    ]
    assert {f"{aggregate}edit", f"{aggregate}admin"} <= labels["ct-containertask-edit"]
    assert f"{aggregate}view" not in labels["ct-containertask-edit"]


def user_client(
    cluster: localcluster.Cluster, api_client: Any, namespace: str, user: str, role: str, tmp: Path
) -> Any:
    """A client for a new service account ``user`` bound to the built-in ClusterRole ``role`` in
    ``namespace`` only."""
    core = client.CoreV1Api(api_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": user}})  # type: ignore[arg-type]
    client.RbacAuthorizationV1Api(api_client).create_namespaced_role_binding(
        namespace,
        {  # type: ignore[arg-type]
            "metadata": {"name": f"{user}-{role}"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"kind": "ServiceAccount", "name": user, "namespace": namespace}],
        },
    )
    kubeconfig = token_kubeconfig(cluster, api_client, namespace, user, tmp / f"{user}.kubeconfig")
    return config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(kubeconfig)
    )


def eventually_allowed(call: Callable[[], Any], timeout: float = 60) -> Any:
    """``call`` once RBAC allows it (the aggregation controller fills the roles asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except ApiException as e:
            if e.status != 403 or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_namespace_users_create_and_read_tasks_through_the_aggregated_roles(
    cluster: localcluster.Cluster, api_client: Any, namespace: str, chart_crd: str, tmp_path: Path
) -> None:
    release = f"roles-{namespace}"
    notes = helm(
        cluster,
        "install",
        release,
        str(CHART),
        f"--namespace={namespace}",
        "--skip-crds",
        f"--set=watchNamespaces={{{namespace}}}",
    )
    assert "kubectl apply --server-side --force-conflicts -f <this chart>/crds/" in notes
    try:
        editor = client.CustomObjectsApi(
            user_client(cluster, api_client, namespace, "alice", "edit", tmp_path)
        )
        viewer = client.CustomObjectsApi(
            user_client(cluster, api_client, namespace, "bob", "view", tmp_path)
        )
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "ContainerTask",
            "metadata": {"name": "mine"},
            "spec": {"image": "busybox:1"},
        }
        eventually_allowed(
            lambda: editor.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        )
        found = eventually_allowed(
            lambda: viewer.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
        )
        assert [t["metadata"]["name"] for t in found["items"]] == ["mine"]
        editor.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, "mine", {"spec": {"cancel": True}}
        )
        forbidden: list[Callable[[], object]] = [
            lambda: viewer.create_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, {**body, "metadata": {"name": "theirs"}}
            ),
            lambda: editor.patch_namespaced_custom_object_status(
                GROUP, VERSION, namespace, PLURAL, "mine", {"status": {"phase": "Succeeded"}}
            ),
            lambda: editor.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL),
        ]
        for call in forbidden:
            with pytest.raises(ApiException) as refused:
                call()
            assert refused.value.status == 403
    finally:
        helm(cluster, "uninstall", release, f"--namespace={namespace}")
