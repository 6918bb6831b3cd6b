"""The images of local-execution tests, made of files from this machine without a registry or a
build, written by ``localcluster.archive`` (docker-archive, which ``docker load``, ``podman load``
and ``ctr images import`` read). One layer each:

- ``BUSYBOX`` (``docker.io/library/busybox:1.36``): Debian's busybox-static with every applet
  linked in /bin (sh, bc, awk, ...): what Flyte's shell examples need.
- ``PYTHON`` (``docker.io/library/python:3.11-slim``): the same, plus this machine's Python 3.11
  (the interpreter, the shared libraries it links and the standard library): what Flyte's Python
  examples need. A stand-in under the public name, so examples keep the name users write.
- ``ghcr.io/flyteorg/rawcontainers-shell:v2`` and ``...-python:v2``: stand-ins for the images of
  Flyte's raw-container examples: the above with ``/root/calculate-ellipse-area.sh`` (``.py``)
  and ``/root`` as the working directory.

None is ever pulled: tests load them into the engine (or containerd) by these names.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from localcluster import archive

BUSYBOX_TAG = "docker.io/library/busybox:1.36"
PYTHON_TAG = "docker.io/library/python:3.11-slim"
SHELL_EXAMPLE_TAG = "ghcr.io/flyteorg/rawcontainers-shell:v2"
PYTHON_EXAMPLE_TAG = "ghcr.io/flyteorg/rawcontainers-python:v2"
_ENV = ("PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8")
_SKIP_STDLIB = re.compile(
    r"/(test|tests|idlelib|tkinter|turtledemo|ensurepip|lib2to3|dist-packages|site-packages|"
    r"config-[^/]*|__pycache__)(/|$)"
)
# The ellipse area of Flyte's raw-container examples: area and metadata written to the output
# directory given as the third argument.
_ELLIPSE_SH = """#!/bin/sh
# usage: calculate-ellipse-area.sh A B OUTPUT_DIR
echo "4*a(1) * $1 * $2" | bc -l | tee "$3/area"
echo "[from shell rawcontainer]" | tee "$3/metadata"
"""
_ELLIPSE_PY = """import math
import sys


def main(a: str, b: str, output_dir: str) -> None:
    area = math.pi * float(a) * float(b)
    for name, value in (("area", area), ("metadata", "[from python rawcontainer]")):
        with open(f"{output_dir}/{name}", "w") as out:
            out.write(str(value))


if __name__ == "__main__":
    main(*sys.argv[1:4])
"""


@dataclass(frozen=True)
class Image:
    tag: str
    files: dict[str, Path]  # path in the image -> file on this machine
    links: dict[str, str]  # path in the image -> symlink target
    cmd: tuple[str, ...]
    scripts: dict[str, str] = field(default_factory=dict)  # path in the image -> executable text
    workdir: str = "/"


def busybox_binary() -> Path:
    found = shutil.which("busybox") or "/bin/busybox"
    if not Path(found).is_file():
        raise FileNotFoundError("busybox not found: apt-get install busybox-static")
    return Path(found).resolve()


def _busybox_parts() -> tuple[dict[str, Path], dict[str, str]]:
    binary = busybox_binary()
    applets = subprocess.run(
        [str(binary), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    links = {f"bin/{a}": "/bin/busybox" for a in applets if a != "busybox"}
    links["usr/bin/env"] = "/bin/busybox"
    return {"bin/busybox": binary}, links


def busybox() -> Image:
    files, links = _busybox_parts()
    return Image(BUSYBOX_TAG, files, links, ("sh",))


def python() -> Image:
    """The busybox image plus /usr/bin/python3.11, its libraries and its standard library."""
    files, links = _busybox_parts()
    interpreter = Path("/usr/bin/python3.11")
    stdlib = Path("/usr/lib/python3.11")
    if not interpreter.is_file() or not stdlib.is_dir():
        raise FileNotFoundError(
            "Python 3.11 not found at /usr/bin/python3.11: apt-get install python3"
        )
    files[str(interpreter).lstrip("/")] = interpreter
    for library in _libraries(interpreter):
        files[library.lstrip("/")] = Path(library).resolve()
    for path in sorted(stdlib.rglob("*")):
        if path.is_file() and not _SKIP_STDLIB.search(str(path)):
            files[str(path).lstrip("/")] = path
    for name in (
        "usr/bin/python3",
        "usr/bin/python",
        "usr/local/bin/python",
        "usr/local/bin/python3",
    ):
        links[name] = "/usr/bin/python3.11"
    return Image(PYTHON_TAG, files, links, ("python3",))


def _libraries(binary: Path) -> list[str]:
    """The shared libraries ``binary`` links (ldd), including the dynamic loader."""
    out = subprocess.run(["ldd", str(binary)], check=True, capture_output=True, text=True).stdout
    return sorted(set(re.findall(r"(/\S+\.so[.\d]*)", out)))


def shell_example() -> Image:
    base = busybox()
    scripts = {"root/calculate-ellipse-area.sh": _ELLIPSE_SH}
    return Image(SHELL_EXAMPLE_TAG, base.files, base.links, base.cmd, scripts, "/root")


def python_example() -> Image:
    base = python()
    scripts = {"root/calculate-ellipse-area.py": _ELLIPSE_PY}
    return Image(PYTHON_EXAMPLE_TAG, base.files, base.links, base.cmd, scripts, "/root")


ALL = {
    "busybox": busybox,
    "python": python,
    "shell-example": shell_example,
    "python-example": python_example,
}


def write_archive(image: Image, destination: Path) -> Path:
    """Write ``image`` as a docker-archive tar at ``destination`` (its scripts beside it)."""
    files = dict(image.files)
    scripts_dir = destination.with_name(destination.name + ".scripts")
    for path, text in image.scripts.items():
        script = scripts_dir / path
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(text)
        script.chmod(0o755)
        files[path] = script
    destination.parent.mkdir(parents=True, exist_ok=True)
    layer = archive.Layer(files, image.links, image.workdir)
    archive.write(destination, image.tag, [], layer, env=_ENV, cmd=list(image.cmd))
    return destination
