"""Debian packages the real node and the image builds need: pinned, installed with apt-get when
missing (a fresh machine has none of them). An installed package of another version is used as it
is, with a warning: replacing a machine's containerd is not ours to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from localcluster.log import event

# Debian 12 (bookworm) versions the recipe was measured with.
NODE: dict[str, str] = {
    "containerd": "1.6.20~ds1-1+deb12u3",
    "runc": "1.1.5+ds1-1+deb12u1",
    "iptables": "1.8.9-2",
    "nftables": "1.0.6-2+deb12u2",
    "conntrack": "1:1.4.7-1+b2",
    "iproute2": "6.1.0-3",
    "socat": "1.7.4.4-2",
}
# The OCI runtime buildah and podman run containers with. Debian's podman and buildah accept
# crun or runc and apt picks crun when neither is installed; crun 1.8 refuses a host whose
# cgroup v2 mount holds a controller beside the v1 hierarchies ("cgroups in hybrid mode not
# supported", seen on a fresh machine with hugetlb on /sys/fs/cgroup/unified). runc runs there.
OCI_RUNTIME = "runc"
IMAGES: dict[str, str] = {
    OCI_RUNTIME: NODE["runc"],
    "buildah": "1.28.2+ds1-3+deb12u1+b3",
    "podman": "4.3.1+ds1-8+deb12u1+b3",  # imports the base image made with mmdebstrap
    "busybox-static": "1:1.35.0-4+deb12u1+b1",
    "mmdebstrap": "1.3.5-7",
    "gcc": "4:12.2.0-3",
    "libc6-dev": "2.36-9+deb12u14",
}


class PackageError(RuntimeError):
    pass


def installed_version(package: str) -> str | None:
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${db:Status-Abbrev} ${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    status, _, version = done.stdout.partition(" ")
    return version.strip() if done.returncode == 0 and status.startswith("ii") else None


def ensure(packages: dict[str, str], log: Path) -> None:
    """Install the packages that are missing, at their pinned versions."""
    missing = {}
    for name, version in packages.items():
        have = installed_version(name)
        if have is None:
            missing[name] = version
        elif have != version:
            event("package.other_version", package=name, installed=have, pinned=version)
    if not missing:
        return
    wanted = " ".join(f"{n}={v}" for n, v in missing.items())
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise PackageError(f"missing Debian packages {wanted}: install them as root with apt-get")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    event("package.install", packages=wanted, log=log)
    with log.open("a") as out:
        out.write(f"\n# {time.strftime('%Y-%m-%dT%H:%M:%S')} install {wanted}\n")
        out.flush()
        for argv in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", *wanted.split()],
        ):
            done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
            if done.returncode != 0:
                raise PackageError(
                    f"{' '.join(argv[:2])} failed (exit {done.returncode}) installing {wanted}; "
                    f"see {log}"
                )
