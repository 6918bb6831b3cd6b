"""A local container engine for tests: dockerd or Podman's Docker-compatible service.

Everything lives under ``<run dir>/engine/<kind>/`` (the run dir of ``hack/cluster``,
``$CONTAINERTASK_RUN_DIR``): data, sockets, pid file, log. Containers get no network (dockerd runs
with ``--bridge none`` and no iptables rules, Podman with ``netns = "none"``), so nothing a test
runs can reach off the machine, and the host's firewall is left alone. Only processes this module
started (pid file + binary + run dir on the command line) are ever stopped.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from localcluster import archive, packages, processes
from localcluster.config import Settings
from localcluster.log import event
from localengine import mkimage

KINDS: Final = ("docker", "podman")
BINARIES: Final = {"docker": "dockerd", "podman": "podman"}
# Debian 12 versions these tests ran with (see localcluster.packages for how pins are treated).
ENGINE_PACKAGES: Final = {
    "docker": {"docker.io": "20.10.24+dfsg1-1+deb12u1+b6"},
    "podman": {
        packages.OCI_RUNTIME: packages.IMAGES[packages.OCI_RUNTIME],
        "podman": packages.IMAGES["podman"],
    },
}
# What the test images are made of (mkimage): Debian's busybox and Python 3.11.
IMAGE_PACKAGES: Final = {
    "busybox-static": packages.IMAGES["busybox-static"],
    "python3": "3.11.2-1+b1",
}
_PODMAN_CONF: Final = f"""[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "none"

[engine]
events_logger = "file"
cgroup_manager = "cgroupfs"
runtime = "{packages.OCI_RUNTIME}"
"""


@dataclass(frozen=True)
class Engine:
    kind: str
    directory: Path

    @classmethod
    def of(cls, kind: str, run_dir: Path | None = None) -> Engine:
        if kind not in KINDS:
            raise ValueError(f"unknown engine {kind!r}; allowed: {', '.join(KINDS)}")
        return cls(kind, (run_dir or Settings().run_dir) / "engine" / kind)

    @property
    def socket(self) -> Path:
        return self.directory / f"{self.kind}.sock"

    @property
    def host(self) -> str:
        """The ``DOCKER_HOST`` of this engine."""
        return f"unix://{self.socket}"

    @property
    def log(self) -> Path:
        return self.directory / "engine.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "engine.pid"

    @property
    def runroot(self) -> Path:
        """Podman's run root, which it wants at most 50 characters long: named after our
        directory's hash."""
        digest = hashlib.sha256(str(self.directory).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"containertask-podman-{digest}"

    def running(self) -> bool:
        return processes.running(self.pid_file, self.directory) is not None

    def argv(self) -> list[str]:
        d = self.directory
        if self.kind == "docker":
            return [
                _binary("docker", self.log),
                f"--data-root={d}/data",
                f"--exec-root={d}/exec",
                f"--pidfile={d}/dockerd.pid",
                f"--host={self.host}",
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-masq=false",
                "--userland-proxy=false",
                "--storage-driver=overlay2",
            ]
        return [
            _binary("podman", self.log),
            f"--root={d}/store/root",
            f"--runroot={self.runroot}",
            f"--tmpdir={d}/store/tmp",
            "--storage-driver=overlay",
            "--cgroup-manager=cgroupfs",
            "--events-backend=file",
            "system",
            "service",
            "--time=0",
            self.host,
        ]

    def up(self, timeout: float = 120.0) -> str:
        """Start the engine unless it runs; returns its DOCKER_HOST once it answers."""
        if self.running():
            return self.host
        self.directory.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        conf = self.directory / "containers.conf"
        conf.write_text(_PODMAN_CONF)
        processes.start(
            self.kind,
            self.argv(),
            self.directory / "engine.log",
            self.pid_file,
            env={"CONTAINERS_CONF": str(conf)},
        )
        deadline = time.monotonic() + timeout
        while not _answers(self.host):
            if not self.running():
                log = (self.directory / "engine.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.kind} exited while starting; its log ends:\n{log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.kind} did not answer at {self.host} in {timeout}s")
            time.sleep(0.5)
        event("engine.up", kind=self.kind, host=self.host)
        return self.host

    def down(self) -> bool:
        """Stop the engine if this run dir started it; False if it was not running."""
        recorded = processes.running(self.pid_file, self.directory)
        if recorded is None:
            return False
        pid, binary = recorded
        processes.stop(self.kind, pid, binary, self.directory, timeout=30.0)
        self.pid_file.unlink(missing_ok=True)
        self._unmount_storage()
        return True

    def _unmount_storage(self) -> None:
        """Podman's overlay storage mounts its own directory (a private bind mount) and leaves it
        when the service stops; undo that, so nothing of ours stays mounted."""
        mounts = Path("/proc/self/mounts").read_text().split("\n")
        ours = [m.split()[1] for m in mounts if m and m.split()[1].startswith(str(self.directory))]
        for mount_point in sorted(ours, reverse=True):
            subprocess.run(["umount", mount_point], check=False)

    def load_images(self, names: tuple[str, ...] = tuple(mkimage.ALL)) -> list[str]:
        """Make the test images (cached under the engine's directory) and load them."""
        import docker

        packages.ensure(IMAGE_PACKAGES, self.log)
        client = docker.DockerClient(base_url=self.host)
        loaded = []
        try:
            for name in names:
                image = mkimage.ALL[name]()
                archive = self.directory / "images" / f"{name}-{_MKIMAGE_DIGEST}.tar"
                if not archive.exists():
                    mkimage.write_archive(image, archive)
                with archive.open("rb") as f:
                    client.images.load(f)
                loaded.append(image.tag)
        finally:
            client.close()
        return loaded


# Archives are remade when the image writer changes.
_MKIMAGE_DIGEST: Final = hashlib.sha256(
    Path(mkimage.__file__).read_bytes() + Path(archive.__file__).read_bytes()
).hexdigest()[:12]


def _answers(host: str) -> bool:
    import docker

    try:
        client = docker.DockerClient(base_url=host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except docker.errors.DockerException:
        return False


def _binary(kind: str, log: Path) -> str:
    """The engine's binary, installed from Debian's packages when missing (CI starts bare)."""
    packages.ensure(ENGINE_PACKAGES[kind], log)
    found = shutil.which(BINARIES[kind], path="/usr/sbin:/usr/bin:/sbin:/bin")
    if not found:
        raise FileNotFoundError(f"{BINARIES[kind]} is missing after installing its package")
    return found


@contextmanager
def session(kind: str, keep: bool = False) -> Iterator[Engine]:
    """The engine for a test session: started (and its images loaded) if needed, and stopped at
    the end only if this session started it and ``keep`` is False."""
    engine = Engine.of(kind)
    started = not engine.running()
    engine.up()
    try:
        engine.load_images()
        yield engine
    finally:
        if started and not keep:
            engine.down()
