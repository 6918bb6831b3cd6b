"""Single-layer image archives from host files, without an engine or a registry.

The archive is docker-archive (``manifest.json``, a config, one uncompressed layer), which
``ctr images import``, ``podman load`` and ``docker load`` all accept. Entries carry no timestamps
or owners, so the same files give the same image ID.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

PASSWD = b"root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"
GROUP = b"root:x:0:\nnogroup:x:65534:\n"


@dataclass(frozen=True)
class Layer:
    """``files`` maps a path in the image to a host file; ``links`` a path to a symlink target."""

    files: dict[str, Path] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"


def _entry(tar: tarfile.TarFile, name: str, kind: bytes, mode: int, data: bytes = b"") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, len(data)
    tar.addfile(info, io.BytesIO(data) if data else None)


def _layer_tar(layer: Layer) -> bytes:
    buffer = io.BytesIO()
    dirs = {"bin", "etc", "dev", "proc", "sys", "tmp", layer.workdir.strip("/")}
    for path in [*layer.files, *layer.links]:
        parts = path.strip("/").split("/")[:-1]
        dirs.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for directory in sorted(d for d in dirs if d):
            _entry(tar, directory, tarfile.DIRTYPE, 0o1777 if directory == "tmp" else 0o755)
        _entry(tar, "etc/passwd", tarfile.REGTYPE, 0o644, PASSWD)
        _entry(tar, "etc/group", tarfile.REGTYPE, 0o644, GROUP)
        for path, source in sorted(layer.files.items()):
            mode = 0o755 if source.stat().st_mode & 0o111 else 0o644
            _entry(tar, path.strip("/"), tarfile.REGTYPE, mode, source.read_bytes())
        for path, target in sorted(layer.links.items()):
            info = tarfile.TarInfo(path.strip("/"))
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buffer.getvalue()


def write(out: Path, ref: str, entrypoint: list[str], layer: Layer) -> None:
    """Write the image ``ref`` (a full reference, e.g. ``localhost/pause:1``) to ``out``."""
    layer_bytes = _layer_tar(layer)
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Entrypoint": entrypoint, "Env": ["PATH=/bin"], "WorkingDir": layer.workdir},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "hack/localcluster/archive.py"}],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = f"{diff_id[7:]}/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}]
    partial = out.with_name(out.name + ".partial")
    with tarfile.open(partial, "w") as tar:
        _entry(tar, diff_id[7:], tarfile.DIRTYPE, 0o755)
        _entry(tar, layer_name, tarfile.REGTYPE, 0o644, layer_bytes)
        _entry(tar, config_name, tarfile.REGTYPE, 0o644, config_bytes)
        _entry(tar, "manifest.json", tarfile.REGTYPE, 0o644, json.dumps(manifest).encode())
    partial.replace(out)
