"""Paths, settings and the pinned tool modules (versions come from each tool's go.mod)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLS_DIR = REPO_ROOT / "hack" / "tools"
KWOK_DIR = REPO_ROOT / "hack" / "kwok"

DEFAULT_NODES = 2
S3_BUCKET = "containertask-test"
S3_REGION = "us-east-1"


def _cache_root() -> Path:
    return Path(os.environ.get("CONTAINERTASK_CACHE_DIR", Path.home() / ".cache" / "containertask"))


@dataclass(frozen=True)
class Tool:
    """A Go tool module under hack/tools/<name> and the binaries built from it.

    ``ldflags`` may use ``{version}``, ``{major}`` and ``{minor}`` (from the module version).
    """

    name: str
    module: str
    binaries: dict[str, str]
    ldflags: str = "-s -w"

    @property
    def module_dir(self) -> Path:
        return TOOLS_DIR / self.name

    @cached_property
    def version(self) -> str:
        gomod = (self.module_dir / "go.mod").read_text()
        match = re.search(rf"^\s*(?:require\s+)?{re.escape(self.module)}\s+(v\S+)", gomod, re.M)
        if not match:
            raise ValueError(f"{self.module_dir}/go.mod: no requirement on {self.module}")
        return match.group(1)

    def render_ldflags(self) -> str:
        major, minor = self.version.lstrip("v").split(".")[:2]
        return self.ldflags.format(version=self.version, major=major, minor=minor)


_K8S_VERSION_FLAGS = " ".join(
    f"-X {pkg}.gitVersion={{version}} -X {pkg}.gitMajor={{major}} -X {pkg}.gitMinor={{minor}}"
    f" -X {pkg}.gitTreeState=clean"
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
)

# Built in this order, one after another (the machine has 2 cores).
TOOLS: tuple[Tool, ...] = (
    Tool(
        "kubernetes",
        "k8s.io/kubernetes",
        {
            name: f"k8s.io/kubernetes/cmd/{name}"
            for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        },
        # Same string as the warm-up build, so Go's build cache is reused.
        "-s -w " + _K8S_VERSION_FLAGS,
    ),
    Tool("etcd", "go.etcd.io/etcd/server/v3", {"etcd": "go.etcd.io/etcd/server/v3"}),
    Tool("kwok", "sigs.k8s.io/kwok", {"kwok": "sigs.k8s.io/kwok/cmd/kwok"}),
    Tool("minio", "github.com/minio/minio", {"minio": "github.com/minio/minio"}),
    Tool(
        "helm",
        "helm.sh/helm/v3",
        {"helm": "helm.sh/helm/v3/cmd/helm"},
        "-s -w -X helm.sh/helm/v3/internal/version.version={version}",
    ),
    Tool(
        "s5cmd",
        "github.com/peak/s5cmd/v2",
        {"s5cmd": "github.com/peak/s5cmd/v2"},
        "-s -w -X github.com/peak/s5cmd/v2/version.Version={version}",
    ),
)
# The real node's binaries, built only when the node is on (their own modules, so adding them
# changes no control-plane stamp).
NODE_TOOLS: tuple[Tool, ...] = (
    Tool(
        "kubelet",
        "k8s.io/kubernetes",
        {name: f"k8s.io/kubernetes/cmd/{name}" for name in ("kubelet", "kube-proxy")},
        "-s -w " + _K8S_VERSION_FLAGS,
    ),
    Tool(
        "cni",
        "github.com/containernetworking/plugins",
        {
            name: f"github.com/containernetworking/plugins/plugins/{kind}/{name}"
            for kind, name in (
                ("main", "bridge"),
                ("ipam", "host-local"),
                ("main", "loopback"),
                ("meta", "portmap"),
            )
        },
    ),
)
ALL_TOOLS = TOOLS + NODE_TOOLS
TOOLS_BY_NAME = {t.name: t for t in ALL_TOOLS}
# From Debian packages (installed by localcluster.packages when missing).
SYSTEM_BINARIES = {
    name: Path("/usr/bin") / name
    for name in ("containerd", "containerd-shim-runc-v2", "ctr", "socat")
}
# Put on PATH by ``hack/cluster env`` (through symlinks in <run>/bin).
USER_BINARIES = ("kubectl", "helm", "s5cmd")


def _real_node_from_env() -> bool:
    raw = os.environ.get("CONTAINERTASK_REAL_NODE", "1").strip()
    if raw not in ("0", "1"):
        raise ValueError(
            f"CONTAINERTASK_REAL_NODE={raw!r}: expected 1 (a real node) or 0 (kwok only)"
        )
    return raw == "1"


def _nodes_from_env() -> int:
    raw = os.environ.get("CONTAINERTASK_KWOK_NODES", str(DEFAULT_NODES))
    if not raw.strip().isdigit():
        raise ValueError(f"CONTAINERTASK_KWOK_NODES={raw!r}: expected a whole number >= 1")
    return int(raw)


@dataclass(frozen=True)
class Settings:
    run_dir: Path = field(
        default_factory=lambda: Path(
            os.environ.get("CONTAINERTASK_RUN_DIR", _cache_root() / "run")
        ).expanduser()
    )
    bin_root: Path = field(default_factory=lambda: _cache_root() / "bin")
    nodes: int = field(default_factory=lambda: _nodes_from_env())
    real_node: bool = field(default_factory=lambda: _real_node_from_env())

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ValueError(f"nodes={self.nodes}: expected a whole number >= 1")

    @property
    def cache_root(self) -> Path:
        return self.bin_root.parent

    @property
    def tools(self) -> tuple[Tool, ...]:
        """The tools ``up`` needs: the node's only when the real node is on."""
        return ALL_TOOLS if self.real_node else TOOLS

    def tool_dir(self, tool: Tool) -> Path:
        return self.bin_root / f"{tool.name}-{tool.version}"

    def binary(self, name: str) -> Path:
        for tool in ALL_TOOLS:
            if name in tool.binaries:
                return self.tool_dir(tool) / name
        if name in SYSTEM_BINARIES:
            return SYSTEM_BINARIES[name]
        raise KeyError(f"binary {name!r}: not built by any tool in {TOOLS_DIR}")
