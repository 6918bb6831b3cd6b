"""Container images made without a registry or a build: a tiny docker-archive writer.

``docker load`` / ``podman load`` (and ``ctr images import``) read the docker-archive format: a tar
holding ``manifest.json``, an image config JSON and one ``layer.tar`` per layer. The images here
have one layer made of files from this machine:

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

import hashlib
import io
import json
import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

BUSYBOX_TAG = "docker.io/library/busybox:1.36"
PYTHON_TAG = "docker.io/library/python:3.11-slim"
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_SKIP_STDLIB = re.compile(
    r"/(test|tests|idlelib|tkinter|turtledemo|ensurepip|lib2to3|dist-packages|site-packages|"
    r"config-[^/]*|__pycache__)(/|$)"
)


@dataclass(frozen=True)
class Image:
    tag: str
    files: tuple[tuple[str, str], ...]  # (path in the image, path on this machine)
    links: tuple[tuple[str, str], ...]  # (path in the image, target)
    cmd: tuple[str, ...]
    scripts: tuple[tuple[str, str], ...] = ()  # (path in the image, content), executable
    workdir: str = "/"


def busybox_binary() -> str:
    found = shutil.which("busybox") or "/bin/busybox"
    if not Path(found).is_file():
        raise FileNotFoundError("busybox not found: apt-get install busybox-static")
    return str(Path(found).resolve())


def _busybox_parts() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    binary = busybox_binary()
    applets = subprocess.run(
        [binary, "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    links = [(f"bin/{a}", "/bin/busybox") for a in applets if a != "busybox"]
    links.append(("usr/bin/env", "/bin/busybox"))
    return [("bin/busybox", binary)], links


def busybox() -> Image:
    files, links = _busybox_parts()
    return Image(BUSYBOX_TAG, tuple(files), tuple(links), ("sh",))


def python() -> Image:
    """The busybox image plus /usr/bin/python3.11, its libraries and its standard library."""
    files, links = _busybox_parts()
    interpreter = Path("/usr/bin/python3.11")
    stdlib = Path("/usr/lib/python3.11")
    if not interpreter.is_file() or not stdlib.is_dir():
        raise FileNotFoundError(
            "Python 3.11 not found at /usr/bin/python3.11: apt-get install python3"
        )
    files.append((str(interpreter).lstrip("/"), str(interpreter)))
    for library in _libraries(interpreter):
        files.append((library.lstrip("/"), str(Path(library).resolve())))
    for path in sorted(stdlib.rglob("*")):
        if path.is_file() and not _SKIP_STDLIB.search(str(path)):
            files.append((str(path).lstrip("/"), str(path)))
    for name in (
        "usr/bin/python3",
        "usr/bin/python",
        "usr/local/bin/python",
        "usr/local/bin/python3",
    ):
        links.append((name, "/usr/bin/python3.11"))
    return Image(PYTHON_TAG, tuple(files), tuple(links), ("python3",))


def _libraries(binary: Path) -> list[str]:
    """The shared libraries ``binary`` links (ldd), including the dynamic loader."""
    out = subprocess.run(["ldd", str(binary)], check=True, capture_output=True, text=True).stdout
    return sorted(set(re.findall(r"(/\S+\.so[.\d]*)", out)))


def _layer(image: Image) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = {"tmp", "var", "var/inputs", "var/outputs", "etc", "root", "home"}
        for path, _ in (*image.files, *image.links, *image.scripts):
            dirs.update(str(p) for p in PurePosixPath(path).parents if str(p) != ".")
        for d in sorted(dirs):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        for name, content in (
            ("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n"),
            ("etc/group", b"root:x:0:\nnogroup:x:65534:\n"),
        ):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
        for path, source in image.files:
            info = tar.gettarinfo(source, arcname=path)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            with Path(source).open("rb") as f:
                tar.addfile(info, f)
        for path, text in image.scripts:
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
        for path, target in image.links:
            info = tarfile.TarInfo(path)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
    return buffer.getvalue()


def write_archive(image: Image, destination: Path) -> Path:
    """Write ``image`` as a docker-archive tar at ``destination``."""
    layer = _layer(image)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {
                "Env": [f"PATH={_PATH}", "LANG=C.UTF-8"],
                "Cmd": list(image.cmd),
                "WorkingDir": image.workdir,
            },
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created_by": "containertask hack/localengine/mkimage.py"}],
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps(
        [{"Config": config_name, "RepoTags": [image.tag], "Layers": ["layer/layer.tar"]}]
    ).encode()
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_suffix(".partial")
    with tarfile.open(partial, "w") as tar:
        for name, content in (
            ("manifest.json", manifest),
            (config_name, config),
            ("layer/layer.tar", layer),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    partial.replace(destination)
    return destination


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
SHELL_EXAMPLE_TAG = "ghcr.io/flyteorg/rawcontainers-shell:v2"
PYTHON_EXAMPLE_TAG = "ghcr.io/flyteorg/rawcontainers-python:v2"


def shell_example() -> Image:
    base = busybox()
    return Image(
        SHELL_EXAMPLE_TAG,
        base.files,
        base.links,
        base.cmd,
        (("root/calculate-ellipse-area.sh", _ELLIPSE_SH),),
        "/root",
    )


def python_example() -> Image:
    base = python()
    return Image(
        PYTHON_EXAMPLE_TAG,
        base.files,
        base.links,
        base.cmd,
        (("root/calculate-ellipse-area.py", _ELLIPSE_PY),),
        "/root",
    )


ALL = {
    "busybox": busybox,
    "python": python,
    "shell-example": shell_example,
    "python-example": python_example,
}
