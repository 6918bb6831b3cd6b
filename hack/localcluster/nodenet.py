"""The real node's network on the host: one bridge, confined to the machine, and its undoing.

Pods get addresses on ``BRIDGE`` (``POD_SUBNET``), a route to the Service range through the
gateway and no default route; the bridge plugin masquerades nothing (``ipMasq: false``), and a
table of our own drops whatever is forwarded from the bridge to any other interface. The gateway
address is the node's InternalIP, where the kubelet serves and where forwarders expose the
apiserver and MinIO (both listen on 127.0.0.1 only) to pods.

``HostState`` records what the machine looked like before the node started (ip_forward, the
nftables tables, host directories the kubelet and containerd create outside the run directory) so
that :func:`restore` leaves it as found.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from localcluster.log import event

NODE_NAME = "containertask-node"
BRIDGE = "ctask0"
POD_SUBNET = "10.244.0.0/24"
NODE_IP = "10.244.0.1"  # the bridge's address: gateway for pods, InternalIP of the node
SERVICE_CIDR = "10.96.0.0/16"
NFT_TABLE = "containertask-node"  # family inet
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
# Created by the kubelet, containerd and CNI outside the run directory (paths compiled in).
HOST_DIRS = ("/var/lib/kubelet", "/var/lib/cni", "/run/containerd", "/run/netns")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Chains the kubelet creates with iptables (kube-proxy --cleanup leaves them): (table, chain).
KUBELET_CHAINS = (
    ("filter", "KUBE-FIREWALL"),
    ("filter", "KUBE-KUBELET-CANARY"),
    ("nat", "KUBE-KUBELET-CANARY"),
    ("mangle", "KUBE-KUBELET-CANARY"),
    ("mangle", "KUBE-IPTABLES-HINT"),
)


class NetError(RuntimeError):
    pass


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise NetError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done


def _nft_tables() -> list[str]:
    """Tables as ``family name``."""
    out = _run("nft", "list", "tables").stdout
    return [line.removeprefix("table ").strip() for line in out.splitlines() if line.strip()]


@dataclass
class HostState:
    """The machine before the node started; saved once, until :func:`restore` has run."""

    ip_forward: str
    nft_tables: list[str]
    host_dirs: list[str] = field(default_factory=list)

    @classmethod
    def capture(cls) -> HostState:
        return cls(
            ip_forward=IP_FORWARD.read_text().strip(),
            nft_tables=_nft_tables(),
            host_dirs=[d for d in HOST_DIRS if Path(d).exists()],
        )

    @classmethod
    def load(cls, path: Path) -> HostState | None:
        return cls(**json.loads(path.read_text())) if path.exists() else None

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")


def cni_config(ipam_dir: Path) -> dict[str, object]:
    """The bridge network: no default route for pods (only the Service range), no masquerade."""
    return {
        "cniVersion": "1.0.0",
        "name": BRIDGE,
        "plugins": [
            {
                "type": "bridge",
                "bridge": BRIDGE,
                "isGateway": True,
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                    "routes": [{"dst": SERVICE_CIDR, "gw": NODE_IP}],
                    "dataDir": str(ipam_dir),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }


def setup(state_file: Path) -> None:
    """Bridge with the gateway address (the kubelet needs its node IP up front) and the rule that
    keeps pod traffic on the machine. Idempotent; the first call records the host's state."""
    if HostState.load(state_file) is None:
        HostState.capture().save(state_file)
    if _run("ip", "link", "show", BRIDGE, check=False).returncode != 0:
        _run("ip", "link", "add", BRIDGE, "type", "bridge")
    prefix = POD_SUBNET.split("/")[1]
    _run("ip", "addr", "replace", f"{NODE_IP}/{prefix}", "dev", BRIDGE)
    _run("ip", "link", "set", BRIDGE, "up")
    # A table of our own: a drop in any forward hook is final, whatever other tables accept.
    rules = (
        f"table inet {NFT_TABLE} {{\n"
        "  chain forward {\n"
        "    type filter hook forward priority filter; policy accept;\n"
        f'    iifname "{BRIDGE}" oifname != "{BRIDGE}" drop\n'
        "  }\n"
        "}\n"
    )
    _run("nft", "delete", "table", "inet", NFT_TABLE, check=False)
    done = subprocess.run(["nft", "-f", "-"], input=rules, capture_output=True, text=True)
    if done.returncode != 0:
        raise NetError(f"nft: table inet {NFT_TABLE}: {done.stderr.strip()}")
    event("node.network_ready", bridge=BRIDGE, gateway=NODE_IP)


def _netns_delete(paths: list[str]) -> None:
    for path in paths:
        if Path(path).exists():
            _run("ip", "netns", "delete", Path(path).name, check=False)


def _unmount_under(root: Path) -> list[str]:
    """Unmount everything mounted at or below ``root`` (deepest first)."""
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    ours = sorted({m for m in mounts if m == str(root) or m.startswith(f"{root}/")}, reverse=True)
    for mount in ours:
        _run("umount", "-l", mount, check=False)
    return ours


def _remove_cgroups() -> list[str]:
    """The kubelet's ``kubepods`` trees (empty once every container is gone); what stayed."""
    left = []
    for tree in CGROUP_ROOT.glob("*/kubepods"):
        for directory in sorted(
            (p for p in tree.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            directory.rmdir()
        tree.rmdir()
        if tree.exists():
            left.append(str(tree))
    return left


def _delete_kubelet_chains() -> None:
    for tool in ("iptables", "ip6tables"):
        for hook in ("INPUT", "OUTPUT"):
            _run(tool, "-t", "filter", "-D", hook, "-j", "KUBE-FIREWALL", check=False)
        for table, chain in KUBELET_CHAINS:
            _run(tool, "-t", table, "-F", chain, check=False)
            _run(tool, "-t", table, "-X", chain, check=False)


def _has_rules(family: str, name: str) -> bool:
    listing = _run("nft", "-a", "list", "table", family, name, check=False).stdout
    return any(
        "# handle" in line and not line.strip().startswith(("table", "chain"))
        for line in listing.splitlines()
    )


def _delete_empty_new_tables(before: list[str]) -> None:
    """Tables that appeared while the node ran (iptables-nft leaves them behind empty)."""
    for table in _nft_tables():
        family, name = table.split(" ", 1)
        if table not in before and (name == NFT_TABLE or not _has_rules(family, name)):
            _run("nft", "delete", "table", family, name, check=False)


def _remove_host_dir(path: Path) -> list[str]:
    """A host directory that did not exist before the node started. Shared ones (containerd's
    shim sockets, CNI's cache, network namespaces: another engine on the machine may use them
    meanwhile) go only once empty; the kubelet's is ours alone (one kubelet per machine)."""
    if not path.exists():
        return []
    _unmount_under(path)
    if path == Path("/var/lib/kubelet"):
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=False)
        return []
    for directory in sorted(
        (p for p in path.rglob("*") if p.is_dir() and not p.is_symlink()),
        key=lambda p: len(p.parts),
        reverse=True,
    ):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        path.rmdir()
    return [f"{path} (not empty)"] if path.exists() else []


def _remove_cni_results() -> None:
    """containerd's CNI result cache for our network (the path is compiled into libcni)."""
    results = Path("/var/lib/cni/results")
    if results.is_dir():
        for entry in results.glob(f"{BRIDGE}-*"):
            entry.unlink(missing_ok=True)


def restore(state_file: Path, node_dir: Path, netns: list[str]) -> list[str]:
    """Undo :func:`setup` and what the node's daemons left on the host; returns what could not
    be removed (empty when the machine is as it was)."""
    before = HostState.load(state_file)
    _netns_delete(netns)
    _remove_cni_results()
    _unmount_under(node_dir)
    _run("ip", "link", "delete", BRIDGE, check=False)
    _delete_kubelet_chains()
    left: list[str] = []
    try:
        left += _remove_cgroups()
    except OSError as exc:
        left.append(f"cgroup: {exc}")
    if before is not None:
        _delete_empty_new_tables(before.nft_tables)
        for directory in HOST_DIRS:
            if directory not in before.host_dirs:
                left += _remove_host_dir(Path(directory))
        if IP_FORWARD.read_text().strip() != before.ip_forward:
            IP_FORWARD.write_text(before.ip_forward + "\n")
        state_file.unlink()
    else:
        _run("nft", "delete", "table", "inet", NFT_TABLE, check=False)
    if _run("ip", "link", "show", BRIDGE, check=False).returncode == 0:
        left.append(f"bridge {BRIDGE}")
    event("node.network_removed", bridge=BRIDGE, left=",".join(left) or "-")
    return left
