"""The real node: containerd (Debian's, with runc), a kubelet and kube-proxy from the cluster's
Kubernetes release, CNI bridge networking (``nodenet``), and two forwarders that put the apiserver
and MinIO (both on 127.0.0.1) on the bridge's gateway address for pods.

Only one real node can run on a machine (port 10250, the bridge, the kubelet's host paths): the
run directory that starts it claims it in ``CLAIM``; ``up`` from another run directory fails with
that directory's name. Settings this host needs (cgroup v1, no systemd, no CAP_SYS_RESOURCE) are
explained where they are set; ``../shared/notes/real-node.md`` has the measurements behind them.
"""

from __future__ import annotations

import fcntl
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from localcluster import images, nodenet, packages, processes
from localcluster.components import Component, Context, http_probe
from localcluster.config import Settings
from localcluster.layout import Layout
from localcluster.log import event
from localcluster.nodenet import NODE_IP, NODE_NAME, POD_SUBNET
from localcluster.probes import Probe

CLAIM_DIR = Path("/run/containertask")
CLAIM = CLAIM_DIR / "real-node.json"
NODE_LABEL = "containertask.io/real-node"
KUBELET_PORT = 10250


class NodeError(RuntimeError):
    pass


# --- paths --------------------------------------------------------------------------------------


def node_dir(layout: Layout) -> Path:
    return layout.root / "node"


def _path(ctx: Context, *parts: str) -> Path:
    path = node_dir(ctx.layout).joinpath(*parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def socket_path(layout: Layout) -> Path:
    return node_dir(layout) / "containerd" / "containerd.sock"


def ctr(settings: Settings, layout: Layout) -> list[str]:
    """``ctr`` against the node's containerd, in the namespace the kubelet uses."""
    binary = settings.binary("ctr")
    return [str(binary), "--address", str(socket_path(layout)), "--namespace", "k8s.io"]


def load_images(settings: Settings, layout: Layout, built: list[images.Image]) -> list[str]:
    """Import into the node's containerd what it lacks; returns the references imported."""
    return images.load(ctr(settings, layout), built, layout.log("images"))


def _host_state(layout: Layout) -> Path:
    return node_dir(layout) / "host-before.json"


def _kubectl(ctx: Context, *args: str, input: str | None = None, check: bool = True) -> str:
    done = subprocess.run(
        [str(ctx.settings.binary("kubectl")), f"--kubeconfig={ctx.layout.kubeconfig}", *args],
        input=input,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if check and done.returncode != 0:
        raise NodeError(f"kubectl {' '.join(args[:3])}: {done.stderr.strip()}")
    return done.stdout


# --- one node per machine -----------------------------------------------------------------------


@contextmanager
def _claim_lock() -> Iterator[None]:
    CLAIM_DIR.mkdir(parents=True, exist_ok=True)
    with (CLAIM_DIR / "real-node.lock").open("w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _busy(layout: Layout) -> bool:
    """An ``up`` or ``down`` holds the run directory's lock (its node may be starting)."""
    if not layout.lock.exists():
        return False
    with layout.lock.open("a") as fd:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def owner() -> Path | None:
    """The run directory whose node runs (or is being started) on this machine, if any."""
    try:
        layout = Layout(Path(json.loads(CLAIM.read_text())["run_dir"]))
    except (OSError, ValueError, KeyError):
        return None
    return layout.root if runs_here(layout) or _busy(layout) else None


def claim(layout: Layout) -> None:
    """Claim the machine's real node for ``layout``'s run directory, or fail naming its owner."""
    with _claim_lock():
        current = owner()
        if current is not None and current != layout.root:
            raise NodeError(
                f"the real node of this machine runs from {current} (one per machine: port "
                f"{KUBELET_PORT}, bridge {nodenet.BRIDGE}); stop it with "
                f"`CONTAINERTASK_RUN_DIR={current} hack/cluster down`, or start this cluster "
                "without one: `hack/cluster up --kwok-only` (CONTAINERTASK_REAL_NODE=0)"
            )
        CLAIM.write_text(json.dumps({"run_dir": str(layout.root)}) + "\n")


def release(layout: Layout) -> None:
    with _claim_lock():
        try:
            if Path(json.loads(CLAIM.read_text())["run_dir"]) == layout.root:
                CLAIM.unlink()
        except (OSError, ValueError, KeyError):
            pass


def runs_here(layout: Layout) -> bool:
    """True if this run directory's node daemons run."""
    return any(processes.running(layout.pid(c.name), layout.root) for c in COMPONENTS)


# --- containerd ---------------------------------------------------------------------------------


def _containerd_config(ctx: Context) -> Path:
    root = node_dir(ctx.layout) / "containerd"
    cni = node_dir(ctx.layout) / "cni"
    (cni / "net.d").mkdir(parents=True, exist_ok=True)
    (cni / "net.d" / f"10-{nodenet.BRIDGE}.conflist").write_text(
        json.dumps(nodenet.cni_config(cni / "ipam"), indent=2) + "\n"
    )
    cni_bin = ctx.settings.binary("bridge").parent
    config = _path(ctx, "containerd", "config.toml")
    config.write_text(f"""\
version = 2
root = "{root / "root"}"
state = "{root / "state"}"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{socket_path(ctx.layout)}"
[metrics]
  address = "127.0.0.1:{ctx.port("containerd")}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{images.pause(ctx.settings).ref}"
  stream_server_address = "127.0.0.1"
  # No CAP_SYS_RESOURCE here: runc cannot lower oom_score_adj (pause wants -998), and every
  # sandbox would fail with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false  # no systemd: cgroupfs, as the kubelet
        Root = "{root / "runc"}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{cni / "net.d"}"
""")
    return config


def _containerd(ctx: Context) -> list[str]:
    return ["--config", str(_containerd_config(ctx))]


# Pulls of images that are not on the node go to a proxy that refuses them: they fail at once,
# with no registry name ever resolved through the machine's resolver (nothing leaves the machine).
_REFUSING_PROXY = "http://127.0.0.1:1"
NO_PULLS = {
    "HTTP_PROXY": _REFUSING_PROXY,
    "HTTPS_PROXY": _REFUSING_PROXY,
    "NO_PROXY": "",
    "http_proxy": _REFUSING_PROXY,
    "https_proxy": _REFUSING_PROXY,
    "no_proxy": "",
}


def _before_containerd(ctx: Context) -> None:
    packages.ensure(packages.NODE, ctx.settings.cache_root / "logs" / "apt.log")
    nodenet.setup(_host_state(ctx.layout))


def _netns_file(layout: Layout) -> Path:
    return node_dir(layout) / "netns.json"


def _remove_containers(ctx: Context) -> None:
    """Kill what the kubelet left (containerd keeps shims and containers across its own exit);
    remembers their network namespaces for :func:`teardown`."""
    if not socket_path(ctx.layout).exists():
        return
    cmd = ctr(ctx.settings, ctx.layout)

    def ids(kind: str) -> list[str]:
        done = subprocess.run([*cmd, kind, "ls", "-q"], capture_output=True, text=True)
        return done.stdout.split() if done.returncode == 0 else []

    netns = []
    for container in ids("containers"):
        info = subprocess.run(
            [*cmd, "containers", "info", container], capture_output=True, text=True
        )
        if info.returncode == 0:
            spaces = json.loads(info.stdout)["Spec"]["linux"].get("namespaces", [])
            netns += [n["path"] for n in spaces if n["type"] == "network" and n.get("path")]
    for task in ids("tasks"):
        subprocess.run([*cmd, "tasks", "kill", "--signal", "SIGKILL", task], capture_output=True)
    for container in ids("containers"):
        for _ in range(50):
            done = subprocess.run([*cmd, "tasks", "delete", container], capture_output=True)
            if done.returncode == 0 or b"not found" in done.stderr:
                break
            time.sleep(0.1)
        subprocess.run([*cmd, "containers", "delete", container], capture_output=True)
    _netns_file(ctx.layout).write_text(json.dumps(sorted(set(netns))))


# --- kubelet ------------------------------------------------------------------------------------


def _apply_rbac(ctx: Context) -> None:
    """RBAC only (no Node authorizer): the built-in roles bound to the node's identities.
    (system:kube-proxy is bound to system:node-proxier by the bootstrap policy.)"""
    bindings = [
        ("containertask-node:kubelet", "system:node", f"system:node:{NODE_NAME}"),
        (
            "containertask-node:apiserver",
            "system:kubelet-api-admin",
            "kube-apiserver-kubelet-client",
        ),
    ]
    items = [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": {NODE_LABEL: "true"}},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": role,
            },
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
        }
        for name, role, user in bindings
    ]
    _kubectl(
        ctx,
        "apply",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
    )


def _kubelet(ctx: Context) -> list[str]:
    pki, kubelet = ctx.pki, node_dir(ctx.layout) / "kubelet"
    config = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # This host has cgroup v1 and no systemd.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{socket_path(ctx.layout)}",
        "address": NODE_IP,
        "port": KUBELET_PORT,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": ctx.port("kubelet"),
        "tlsCertFile": str(pki.cert("kubelet-serving")),
        "tlsPrivateKeyFile": str(pki.key("kubelet-serving")),
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True, "cacheTTL": "30s"},
            "x509": {"clientCAFile": str(pki.ca_cert)},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDomain": "cluster.local",
        # Pods never get the machine's resolver: no name leaves the machine.
        "resolvConf": "",
        # Locally built images cannot be pulled again: never collect them.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "50Mi",
            "nodefs.available": "1%",
            "nodefs.inodesFree": "1%",
            "imagefs.available": "1%",
        },
        "serializeImagePulls": False,
        "maxPods": 110,
        "kubeAPIQPS": 50,
        "kubeAPIBurst": 100,
    }
    path = _path(ctx, "kubelet", "config.json")
    path.write_text(json.dumps(config, indent=2) + "\n")
    return [
        f"--config={path}",
        f"--kubeconfig={ctx.layout.component_kubeconfig('kubelet')}",
        f"--hostname-override={NODE_NAME}",
        # The bridge's address (loopback is not allowed as a node IP; eth0 is not ours to use).
        f"--node-ip={NODE_IP}",
        f"--node-labels={NODE_LABEL}=true",
        f"--root-dir={kubelet / 'root'}",
        f"--cert-dir={kubelet / 'pki'}",
        "--v=2",
    ]


def _before_kubelet(ctx: Context) -> None:
    load_images(ctx.settings, ctx.layout, [images.pause(ctx.settings)])
    _apply_rbac(ctx)


# --- forwarders ---------------------------------------------------------------------------------


def _forward(target: str) -> Callable[[Context], list[str]]:
    def argv(ctx: Context) -> list[str]:
        name = f"{target}-forward"
        return [
            # -lf names the run directory on the command line, which identifies the process.
            "-lf",
            str(ctx.layout.log(name)),
            f"TCP-LISTEN:{ctx.port(name)},bind={NODE_IP},reuseaddr,fork",
            f"TCP:127.0.0.1:{ctx.port(target)}",
        ]

    return argv


def _tcp_probe(ctx: Context, port: int) -> Probe:
    def probe() -> bool:
        try:
            with socket.create_connection((NODE_IP, port), timeout=2):
                return True
        except OSError:
            return False

    return probe


def _apiserver_endpoints(ctx: Context) -> None:
    """The ``kubernetes`` Service's endpoints: the forwarder (the apiserver runs
    ``--endpoint-reconciler-type=none``, and its 127.0.0.1 would be rejected anyway)."""
    slice_ = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "kubernetes",
            "namespace": "default",
            "labels": {
                "kubernetes.io/service-name": "kubernetes",
                "endpointslice.kubernetes.io/managed-by": "localcluster.containertask.io",
                NODE_LABEL: "true",
            },
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": [NODE_IP], "conditions": {"ready": True}}],
        "ports": [{"name": "https", "port": ctx.port("kube-apiserver-forward"), "protocol": "TCP"}],
    }
    _kubectl(ctx, "apply", "-f", "-", input=json.dumps(slice_))


# --- kube-proxy ---------------------------------------------------------------------------------


def _kube_proxy(ctx: Context) -> list[str]:
    config = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(ctx.layout.component_kubeconfig("kube-proxy"))},
        "hostnameOverride": NODE_NAME,
        "mode": "nftables",
        "clusterCIDR": POD_SUBNET,
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{ctx.port('kube-proxy')}",
        "metricsBindAddress": f"127.0.0.1:{ctx.port('kube-proxy.metrics')}",
        # Node ports only on the bridge, never on eth0 or loopback; no conntrack sysctl changes.
        "nodePortAddresses": [POD_SUBNET],
        "conntrack": {"maxPerCore": 0},
    }
    path = _path(ctx, "kube-proxy", "config.json")
    path.write_text(json.dumps(config, indent=2) + "\n")
    return [f"--config={path}", "--v=2"]


def _kube_proxy_cleanup(ctx: Context) -> None:
    """Its nftables (and any iptables) rules: they outlive the process."""
    subprocess.run(
        [str(ctx.settings.binary("kube-proxy")), "--cleanup"], capture_output=True, check=False
    )


# --- the node as a whole ------------------------------------------------------------------------


COMPONENTS: tuple[Component, ...] = (
    Component(
        "containerd",
        "containerd",
        {"containerd": 10280},
        _containerd,
        http_probe("/v1/metrics", tls=False),
        env=lambda _: NO_PULLS,
        before_start=_before_containerd,
        before_stop=_remove_containers,
    ),
    Component(
        "kube-apiserver-forward",
        "socat",
        {"kube-apiserver-forward": 6443},
        _forward("kube-apiserver"),
        _tcp_probe,
        needs=("kube-apiserver", "containerd"),  # containerd's start made the bridge
        before_start=_apiserver_endpoints,
    ),
    Component(
        "minio-forward",
        "socat",
        {"minio-forward": 9000},
        _forward("minio"),
        _tcp_probe,
        needs=("minio", "containerd"),
    ),
    Component(
        "kubelet",
        "kubelet",
        {"kubelet": 10248},
        _kubelet,
        http_probe("/healthz", tls=False),
        needs=("kube-apiserver", "containerd"),
        before_start=_before_kubelet,
    ),
    Component(
        "kube-proxy",
        "kube-proxy",
        {"kube-proxy": 10256, "kube-proxy.metrics": 10249},
        _kube_proxy,
        http_probe("/healthz", tls=False),
        needs=("kube-apiserver", "kubelet"),
        after_stop=_kube_proxy_cleanup,
    ),
)
NAMES = frozenset(c.name for c in COMPONENTS)


def wait_ready(ctx: Context, timeout: float = 120) -> None:
    """The Node is Ready (the kubelet registered it and its runtime and network are up)."""
    done = subprocess.run(
        [
            str(ctx.settings.binary("kubectl")),
            f"--kubeconfig={ctx.layout.kubeconfig}",
            "wait",
            "--for=condition=Ready",
            f"node/{NODE_NAME}",
            f"--timeout={timeout:.0f}s",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise NodeError(
            f"node {NODE_NAME} not Ready after {timeout:.0f}s: {done.stderr.strip()}; "
            f"see {ctx.layout.log('kubelet')}"
        )
    _kubectl(ctx, "uncordon", NODE_NAME)


def drain(ctx: Context, apiserver_up: bool) -> None:
    """Delete the node's pods while its kubelet still runs, so it stops their containers and
    releases their network; cordoned first so that no replacement lands on it meanwhile."""
    if not apiserver_up or not processes.running(ctx.layout.pid("kubelet"), ctx.layout.root):
        return
    _kubectl(ctx, "cordon", NODE_NAME, check=False)
    _kubectl(
        ctx,
        "delete",
        "pods",
        "--all-namespaces",
        f"--field-selector=spec.nodeName={NODE_NAME}",
        "--grace-period=1",
        "--wait=true",
        "--timeout=60s",
        check=False,
    )


def teardown(ctx: Context, apiserver_up: bool) -> list[str]:
    """After the node's daemons stopped: the host as it was before ``up``, the node's API objects
    gone, the machine's claim released. Returns what could not be removed."""
    netns_file = _netns_file(ctx.layout)
    netns = json.loads(netns_file.read_text()) if netns_file.exists() else []
    left = nodenet.restore(_host_state(ctx.layout), node_dir(ctx.layout), netns)
    netns_file.unlink(missing_ok=True)
    if apiserver_up:
        _kubectl(
            ctx, "delete", "node", NODE_NAME, "--ignore-not-found", "--wait=false", check=False
        )
        _kubectl(
            ctx,
            "delete",
            "endpointslice,clusterrolebinding",
            "--all-namespaces",
            "-l",
            NODE_LABEL,
            "--ignore-not-found",
            check=False,
        )
    release(ctx.layout)
    if left:
        event("node.left_behind", items=",".join(left))
    return left


def pod_s3_endpoint(ctx: Context) -> str:
    """MinIO as pods reach it: through the forwarder on the bridge's gateway."""
    return f"http://{NODE_IP}:{ctx.port('minio-forward')}"


# What starting the node may raise besides OSError; the starter names the component and its log.
ERRORS = (NodeError, nodenet.NetError, packages.PackageError, images.ImageError)
