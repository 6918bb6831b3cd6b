"""The cluster's processes: how each is started and how its readiness is probed."""

from __future__ import annotations

import json
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from localcluster.config import Settings
from localcluster.kwok import NODE_LABEL
from localcluster.layout import Layout
from localcluster.nodenet import SERVICE_CIDR
from localcluster.pki import Pki
from localcluster.probes import Probe, http_ok
from localcluster.state import State

SA_ISSUER = "https://kubernetes.default.svc.cluster.local"
# Fake pod IPs that kwok hands out; loopback, so nothing can ever route traffic off the machine.
POD_CIDR = "127.64.0.0/16"


@dataclass(frozen=True)
class Context:
    settings: Settings
    layout: Layout
    pki: Pki
    state: State

    def port(self, name: str) -> int:
        return self.state.ports[name]

    @property
    def apiserver_url(self) -> str:
        return f"https://127.0.0.1:{self.port('kube-apiserver')}"

    def tls(self, client: str | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        if client:
            context.load_cert_chain(self.pki.cert(client), self.pki.key(client))
        return context


@dataclass(frozen=True)
class Component:
    """``ports`` maps port names to preferred ports; the first is named after the component and
    is the one probed."""

    name: str
    binary: str
    ports: dict[str, int]
    argv: Callable[[Context], list[str]]
    probe: Callable[[Context, int], Probe]
    needs: tuple[str, ...] = ()
    env: Callable[[Context], dict[str, str]] = field(default=lambda _: {})
    before_start: Callable[[Context], None] = field(default=lambda _: None)
    # Around stopping a process this run directory started (not run for one found dead).
    before_stop: Callable[[Context], None] = field(default=lambda _: None)
    after_stop: Callable[[Context], None] = field(default=lambda _: None)
    timeout: float = 60.0


def _serving(ctx: Context, name: str) -> list[str]:
    return [
        "--bind-address=127.0.0.1",
        f"--tls-cert-file={ctx.pki.cert(name)}",
        f"--tls-private-key-file={ctx.pki.key(name)}",
    ]


def _delegated_auth(ctx: Context, identity: str) -> list[str]:
    kubeconfig = ctx.layout.component_kubeconfig(identity)
    return [f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}"]


def _etcd(ctx: Context) -> list[str]:
    client, peer = ctx.port("etcd"), ctx.port("etcd.peer")
    return [
        "--name=containertask",
        f"--data-dir={ctx.layout.data('etcd')}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=containertask=http://127.0.0.1:{peer}",
        # Test data only: skipping fsync keeps the apiserver fast on a small VM disk.
        "--unsafe-no-fsync=true",
    ]


def _apiserver(ctx: Context) -> list[str]:
    pki = ctx.pki
    return [
        f"--etcd-servers=http://127.0.0.1:{ctx.port('etcd')}",
        f"--secure-port={ctx.port('kube-apiserver')}",
        "--advertise-address=127.0.0.1",
        *_serving(ctx, "apiserver"),
        f"--client-ca-file={pki.ca_cert}",
        f"--service-account-issuer={SA_ISSUER}",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=RBAC",
        "--allow-privileged=true",
        # The `kubernetes` Service would get 127.0.0.1 endpoints, which validation rejects.
        "--endpoint-reconciler-type=none",
        "--profiling=false",
        # What `kubectl logs/exec` need from a real kubelet: its InternalIP (never a name the
        # machine's resolver would be asked for), our client certificate, and its CA.
        "--kubelet-preferred-address-types=InternalIP",
        f"--kubelet-client-certificate={pki.cert('apiserver-kubelet-client')}",
        f"--kubelet-client-key={pki.key('apiserver-kubelet-client')}",
        f"--kubelet-certificate-authority={pki.ca_cert}",
    ]


def _controller_manager(ctx: Context) -> list[str]:
    pki = ctx.pki
    return [
        f"--kubeconfig={ctx.layout.component_kubeconfig('controller-manager')}",
        *_delegated_auth(ctx, "controller-manager"),
        f"--secure-port={ctx.port('kube-controller-manager')}",
        *_serving(ctx, "controller-manager-serving"),
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        "--use-service-account-credentials=true",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        "--leader-elect=false",
        # Same client limits as upstream's published Job-controller figures.
        "--kube-api-qps=100",
        "--kube-api-burst=200",
        "--profiling=false",
    ]


def _scheduler(ctx: Context) -> list[str]:
    config = ctx.layout.config("kube-scheduler.yaml")
    config.write_text(
        json.dumps(
            {
                "apiVersion": "kubescheduler.config.k8s.io/v1",
                "kind": "KubeSchedulerConfiguration",
                "clientConnection": {
                    "kubeconfig": str(ctx.layout.component_kubeconfig("scheduler")),
                    "qps": 100,
                    "burst": 200,
                },
                "leaderElection": {"leaderElect": False},
                "enableProfiling": False,
            },
            indent=2,
        )
    )
    return [
        f"--config={config}",
        *_delegated_auth(ctx, "scheduler"),
        f"--secure-port={ctx.port('kube-scheduler')}",
        *_serving(ctx, "scheduler-serving"),
    ]


def _kwok(ctx: Context) -> list[str]:
    return [
        f"--kubeconfig={ctx.layout.component_kubeconfig('kwok')}",
        f"--config={ctx.layout.config('kwok.yaml')}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        f"--server-address=127.0.0.1:{ctx.port('kwok')}",
        "--node-ip=127.0.0.1",
        f"--cidr={POD_CIDR}",
        "--node-lease-duration-seconds=40",
    ]


def _release_node_leases(ctx: Context) -> None:
    """Delete the node leases a previous kwok process held.

    kwok's lease holder identity is new per process, and it only drives pods on nodes whose
    lease it holds: a restarted kwok would otherwise idle until the old leases expire (40 s).
    """
    kubectl = [str(ctx.settings.binary("kubectl")), f"--kubeconfig={ctx.layout.kubeconfig}"]
    nodes = subprocess.run(
        [*kubectl, "get", "nodes", "-l", NODE_LABEL, "-o", "name"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    if nodes:
        names = [n.removeprefix("node/") for n in nodes]
        subprocess.run(
            [*kubectl, "delete", "lease", "-n", "kube-node-lease", "--ignore-not-found", *names],
            capture_output=True,
            check=True,
        )


def _minio(ctx: Context) -> list[str]:
    return ["server", str(ctx.layout.data("minio")), f"--address=127.0.0.1:{ctx.port('minio')}"]


def _minio_env(ctx: Context) -> dict[str, str]:
    return {
        "MINIO_ROOT_USER": ctx.state.s3_access_key,
        "MINIO_ROOT_PASSWORD": ctx.state.s3_secret_key,
        "MINIO_BROWSER": "off",
        "MINIO_UPDATE": "off",
        "MINIO_REGION": "us-east-1",
    }


def http_probe(
    path: str, tls: bool = True, client: str | None = None, expect: bytes | None = None
) -> Callable[[Context, int], Probe]:
    def make(ctx: Context, port: int) -> Probe:
        scheme, context = ("https", ctx.tls(client)) if tls else ("http", None)
        return http_ok(f"{scheme}://127.0.0.1:{port}{path}", context, expect)

    return make


# Started in this order; a component starts once everything it `needs` is ready.
COMPONENTS: tuple[Component, ...] = (
    Component(
        "etcd",
        "etcd",
        {"etcd": 23790, "etcd.peer": 23800},
        _etcd,
        http_probe("/health", tls=False, expect=b'"health":"true"'),
    ),
    Component(
        "minio",
        "minio",
        {"minio": 19000},
        _minio,
        http_probe("/minio/health/ready", tls=False),
        env=_minio_env,
    ),
    Component(
        "kube-apiserver",
        "kube-apiserver",
        {"kube-apiserver": 16443},
        _apiserver,
        http_probe("/readyz", client="admin"),
        needs=("etcd",),
        timeout=90.0,
    ),
    Component(
        "kube-controller-manager",
        "kube-controller-manager",
        {"kube-controller-manager": 10257},
        _controller_manager,
        http_probe("/healthz"),
        needs=("kube-apiserver",),
    ),
    Component(
        "kube-scheduler",
        "kube-scheduler",
        {"kube-scheduler": 10259},
        _scheduler,
        http_probe("/healthz"),
        needs=("kube-apiserver",),
    ),
    Component(
        "kwok",
        "kwok",
        {"kwok": 10247},
        _kwok,
        http_probe("/healthz", tls=False),
        needs=("kube-apiserver",),
        env=lambda ctx: {"KWOK_WORKDIR": str(ctx.layout.data("kwok"))},
        before_start=_release_node_leases,
    ),
)
COMPONENTS_BY_NAME = {c.name: c for c in COMPONENTS}
