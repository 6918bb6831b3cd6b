"""Where things live inside a run directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def pki_dir(self) -> Path:
        return self.root / "pki"

    @property
    def kubeconfig(self) -> Path:
        """The admin kubeconfig (group system:masters)."""
        return self.root / "kubeconfig"

    @property
    def bin_dir(self) -> Path:
        """Symlinks to the user-facing binaries (kubectl, helm, s5cmd), for PATH."""
        return self.root / "bin"

    @property
    def state(self) -> Path:
        return self.root / "cluster.json"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def component_kubeconfig(self, identity: str) -> Path:
        return self.root / "kubeconfigs" / f"{identity}.kubeconfig"

    def data(self, component: str) -> Path:
        return self.root / "data" / component

    def log(self, component: str) -> Path:
        return self.root / "logs" / f"{component}.log"

    def pid(self, component: str) -> Path:
        return self.root / "pids" / f"{component}.pid"

    def config(self, name: str) -> Path:
        return self.root / "config" / name

    def make_dirs(self) -> None:
        for sub in ("kubeconfigs", "data", "logs", "pids", "config", "bin"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
