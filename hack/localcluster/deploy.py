"""The operator in the local cluster: ``helm upgrade --install`` of ``charts/containertask`` with
the locally built image, and the MinIO credentials task pods need as a Secret.

Needs the real node (the operator and its task pods are real pods) with the images loaded.
"""

from __future__ import annotations

import json
import subprocess

from localcluster import images, node
from localcluster.cluster import Cluster, ClusterError
from localcluster.config import REPO_ROOT, Settings
from localcluster.images import Image
from localcluster.layout import Layout
from localcluster.log import event

CHART = REPO_ROOT / "charts" / "containertask"
RELEASE = "containertask"
NAMESPACE = "containertask-system"
SECRET = "containertask-s3"


def images_on_node(settings: Settings) -> dict[str, Image]:
    """Build the images (cached by content) and load what the node lacks; by name."""
    layout = Layout(settings.run_dir)
    if not node.runs_here(layout):
        raise ClusterError(
            f"no real node runs from {layout.root}: start one with `hack/cluster up` "
            "(not --kwok-only)"
        )
    built = images.build_all(settings)
    node.load_images(settings, layout, built)
    return {image.name: image for image in built}


def s3_secret(cluster: Cluster, namespace: str) -> dict[str, object]:
    """MinIO's credentials as the copilot in a task pod loads them (``envFrom``)."""
    if cluster.pod_s3_endpoint is None:
        raise ClusterError(f"no real node runs from {cluster.run_dir}: pods cannot reach MinIO")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": SECRET, "namespace": namespace},
        "stringData": {
            "AWS_ACCESS_KEY_ID": cluster.s3_access_key,
            "AWS_SECRET_ACCESS_KEY": cluster.s3_secret_key,
            "AWS_ENDPOINT_URL": cluster.pod_s3_endpoint,
            "AWS_REGION": cluster.s3_region,
            # MinIO is plain http, on the bridge's gateway (not loopback as seen from a pod).
            "AWS_ALLOW_HTTP": "true",
        },
    }


def apply_s3_secret(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=json.dumps(s3_secret(cluster, namespace)))


def output_location(cluster: Cluster) -> str:
    return f"s3://{cluster.s3_bucket}/containertask"


def install(
    cluster: Cluster,
    image: Image,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    watch: tuple[str, ...] = ("default",),
) -> None:
    """Install (or upgrade to ``image``) the chart's operator as ``release`` in ``namespace``,
    watching the namespaces ``watch`` (each gets the storage Secret), and wait until it runs.

    Watching named namespaces only keeps it away from the namespaces of tests that run an
    operator of their own on the same cluster."""
    for name in watch:
        cluster.kubectl("create", "namespace", name, check=False)
        apply_s3_secret(cluster, name)
    repository, tag = image.ref.rsplit(":", 1)
    argv = [
        str(cluster.helm_path),
        f"--kubeconfig={cluster.kubeconfig}",
        "upgrade",
        "--install",
        release,
        str(CHART),
        f"--namespace={namespace}",
        "--create-namespace",
        f"--set=image.repository={repository}",
        f"--set=image.tag={tag}",
        # Built locally, imported into the node: there is nothing to pull from.
        "--set=image.pullPolicy=Never",
        f"--set=copilot.storageSecret={SECRET}",
        f"--set=outputLocation={output_location(cluster)}",
        f"--set=watchNamespaces={{{','.join(watch)}}}",
        "--wait",
        "--timeout=180s",
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=240)
    if done.returncode != 0:
        pods = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide", check=False).stdout
        raise ClusterError(
            f"helm install of {CHART.name} with {image.ref} failed: {done.stderr.strip()}\n{pods}"
        )
    event("operator.installed", release=release, namespace=namespace, image=image.ref)


def uninstall(cluster: Cluster, release: str = RELEASE, namespace: str = NAMESPACE) -> None:
    subprocess.run(
        [
            str(cluster.helm_path),
            f"--kubeconfig={cluster.kubeconfig}",
            "uninstall",
            release,
            f"--namespace={namespace}",
            "--ignore-not-found",
            "--wait",
        ],
        capture_output=True,
        check=False,
        timeout=120,
    )
