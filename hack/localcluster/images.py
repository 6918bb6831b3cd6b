"""The images the real node runs, built without a registry and cached by content.

- ``pause``: the pod sandbox, ``hack/images/pause.c`` compiled static.
- ``examples``: Debian's static busybox plus ``examples/*.sh``, for the examples and tests.
- ``containertask``: the operator and copilot, built by buildah from ``operator/Containerfile``
  itself with no network in the build (an offline wheelhouse), on ``python:3.11-slim``; when that
  cannot be pulled, a stand-in made with mmdebstrap from Debian's Python 3.11.

Each tag is a digest of the image's inputs, so a warm run builds nothing and two worktrees never
overwrite each other's image. Archives live in ``<cache>/images/``; :func:`load` imports them into
the node's containerd. Each build keeps the ``KEEP_BUILDS`` newest archives of its image (and their
buildah images) and deletes older ones: every source change makes a new 130 MB operator image.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from localcluster import archive, packages
from localcluster.config import REPO_ROOT, Settings
from localcluster.log import event

SOURCES = REPO_ROOT / "hack" / "images"
EXAMPLES = REPO_ROOT / "examples"
CONTAINERFILE = REPO_ROOT / "operator" / "Containerfile"
BUSYBOX = Path("/bin/busybox")
BASE = "docker.io/library/python:3.11-slim"
PYTHON_VERSION = "3.11"
KEEP_BUILDS = 3  # archives of one image kept (other worktrees may use an older one)
# The stand-in for BASE: Debian's Python, with pip allowed to install into it (PEP 668 guard
# removed) and the paths the official image has.
DEBIAN_BASE_HOOKS = (
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'printf "[global]\\nroot-user-action = ignore\\n" > "$1/etc/pip.conf"',
    'for n in python python3; do ln -sf /usr/bin/python3 "$1/usr/local/bin/$n"; done',
    'ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"',
)


class ImageError(RuntimeError):
    pass


@dataclass(frozen=True)
class Image:
    name: str
    ref: str
    archive: Path


def _digest(*parts: bytes | str | Path) -> str:
    h = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part
        data = data.encode() if isinstance(data, str) else data
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:16]


def _images_dir(settings: Settings) -> Path:
    return settings.cache_root / "images"


def _image(settings: Settings, name: str, repository: str, tag: str) -> Image:
    return Image(name, f"localhost/{repository}:{tag}", _images_dir(settings) / f"{name}-{tag}.tar")


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One build at a time on the machine (worktrees share the cache and buildah's storage)."""
    directory = _images_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as fd:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield


def _log(settings: Settings, name: str) -> Path:
    path = _images_dir(settings) / "logs" / f"{name}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _prune(settings: Settings, name: str) -> list[str]:
    """Delete all but the ``KEEP_BUILDS`` newest archives of image ``name``; their tags."""
    archives = sorted(
        _images_dir(settings).glob(f"{name}-*.tar"), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for old in archives[KEEP_BUILDS:]:
        old.unlink(missing_ok=True)
        event("image.pruned", archive=old)
    return [
        old.name.removeprefix(f"{name}-").removesuffix(".tar") for old in archives[KEEP_BUILDS:]
    ]


def _run(argv: list[str], log: Path, what: str) -> None:
    with log.open("a") as out:
        out.write(f"\n# {time.strftime('%Y-%m-%dT%H:%M:%S')} {' '.join(argv)}\n")
        out.flush()
        done = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise ImageError(f"{what}: {argv[0]} exited {done.returncode}; see {log}")


# --- pause --------------------------------------------------------------------------------------


def pause(settings: Settings) -> Image:
    source = SOURCES / "pause.c"
    image = _image(settings, "pause", "containertask-pause", _digest(source, "gcc -static -O2 -s"))
    if image.archive.exists():
        return image
    with _locked(settings), tempfile.TemporaryDirectory() as tmp:
        if image.archive.exists():
            return image
        log = _log(settings, "pause")
        packages.ensure({n: packages.IMAGES[n] for n in ("gcc", "libc6-dev")}, log)
        binary = Path(tmp) / "pause"
        _run(["gcc", "-static", "-O2", "-s", "-o", str(binary), str(source)], log, "pause image")
        archive.write(image.archive, image.ref, ["/pause"], archive.Layer({"pause": binary}))
        _prune(settings, "pause")
    event("image.built", image=image.ref)
    return image


# --- examples -----------------------------------------------------------------------------------


def _scripts() -> list[Path]:
    return sorted(EXAMPLES.glob("*.sh"))


def examples_ref(settings: Settings) -> Image:
    """The examples image's reference, without building it (needs busybox-static)."""
    if not BUSYBOX.exists():
        packages.ensure(
            {"busybox-static": packages.IMAGES["busybox-static"]}, _log(settings, "examples")
        )
    parts: list[bytes | str | Path] = [BUSYBOX]
    for script in _scripts():
        parts += [script.name, script]
    return _image(settings, "examples", "containertask-examples", _digest(*parts))


def examples(settings: Settings) -> Image:
    image = examples_ref(settings)
    if image.archive.exists():
        return image
    with _locked(settings):
        applets = subprocess.run(
            [str(BUSYBOX), "--list"], capture_output=True, text=True, check=True
        ).stdout.split()
        layer = archive.Layer(
            files={"bin/busybox": BUSYBOX, **{f"examples/{s.name}": s for s in _scripts()}},
            links={f"bin/{a}": "busybox" for a in applets if a != "busybox"},
            workdir="/examples",
        )
        archive.write(image.archive, image.ref, [], layer)
        _prune(settings, "examples")
    event("image.built", image=image.ref)
    return image


# --- containertask (operator + copilot) ---------------------------------------------------------


def _project_files() -> list[Path]:
    """What the Containerfile copies (see .containerignore)."""
    src = sorted(
        p for p in (REPO_ROOT / "src").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    return [
        CONTAINERFILE,
        REPO_ROOT / ".containerignore",
        REPO_ROOT / "pyproject.toml",
        REPO_ROOT / "README.md",
        *src,
    ]


def containertask_ref(settings: Settings) -> Image:
    parts: list[bytes | str | Path] = [BASE]
    for path in _project_files():
        parts += [str(path.relative_to(REPO_ROOT)), path]
    return _image(settings, "containertask", "containertask", _digest(*parts))


def _storage(settings: Settings) -> list[str]:
    store = _images_dir(settings) / "storage"
    return [
        "--root",
        str(store / "root"),
        "--runroot",
        str(store / "runroot"),
        "--storage-driver",
        "overlay",
    ]


def _podman(settings: Settings) -> list[str]:
    tmp = _images_dir(settings) / "storage" / "tmp"
    return [
        "podman",
        *_storage(settings),
        "--cgroup-manager",
        "cgroupfs",
        "--events-backend",
        "file",
        "--tmpdir",
        str(tmp),
    ]


def _has_image(settings: Settings, ref: str) -> bool:
    done = subprocess.run(
        ["buildah", *_storage(settings), "images", "-q", ref],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0 and bool(done.stdout.strip())


def _ensure_base(settings: Settings, log: Path) -> None:
    """``BASE`` in buildah's storage: pulled if the registry answers, else made with mmdebstrap."""
    if _has_image(settings, BASE):
        return
    pull = subprocess.run(
        ["buildah", *_storage(settings), "pull", "--retry", "0", BASE],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if pull.returncode == 0:
        event("image.base_pulled", image=BASE)
        return
    event("image.base_from_debian", image=BASE, pull_error=pull.stderr.strip().splitlines()[-1:])
    with tempfile.TemporaryDirectory(dir=_images_dir(settings)) as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        hooks = [f"--customize-hook={h}" for h in DEBIAN_BASE_HOOKS]
        _run(
            [
                "mmdebstrap",
                "--variant=minbase",
                "--include=python3,python3-venv,python3-pip,ca-certificates",
                '--aptopt=Apt::Install-Recommends "false"',
                *hooks,
                "bookworm",
                str(rootfs),
            ],
            log,
            "base image (mmdebstrap)",
        )
        changes = [
            "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "ENV LANG=C.UTF-8",
            'CMD ["python3"]',
        ]
        _run(
            [*_podman(settings), "import", *(f"--change={c}" for c in changes), str(rootfs), BASE],
            log,
            "base image (import)",
        )


def _wheelhouse(settings: Settings, log: Path) -> Path:
    """The project's dependencies as wheels for the image's Python, so the build needs no network."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    requirements = [
        *project["build-system"]["requires"],
        "wheel",
        *project["project"]["dependencies"],
    ]
    directory = _images_dir(settings) / f"wheelhouse-{_digest(*requirements, PYTHON_VERSION)}"
    if directory.exists():
        return directory
    partial = directory.with_name(directory.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    abi = "cp" + PYTHON_VERSION.replace(".", "")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--dest",
            str(partial),
            "--only-binary=:all:",
            f"--python-version={PYTHON_VERSION}",
            "--implementation=cp",
            f"--abi={abi}",
            "--abi=abi3",
            "--abi=none",
            "--platform=manylinux_2_36_x86_64",
            "--platform=manylinux2014_x86_64",
            "--platform=any",
            *requirements,
        ],
        log,
        "wheelhouse (pip download)",
    )
    partial.rename(directory)
    return directory


def containertask(settings: Settings) -> Image:
    image = containertask_ref(settings)
    if image.archive.exists():
        return image
    with _locked(settings):
        if image.archive.exists():
            return image
        log = _log(settings, "containertask")
        packages.ensure(
            {
                n: packages.IMAGES[n]
                for n in (packages.OCI_RUNTIME, "buildah", "podman", "mmdebstrap")
            },
            log,
        )
        began = time.monotonic()
        _ensure_base(settings, log)
        wheels = _wheelhouse(settings, log)
        with tempfile.TemporaryDirectory() as tmp:
            pip_conf = Path(tmp) / "pip.conf"
            pip_conf.write_text(
                "[global]\nno-index = true\nfind-links = /wheelhouse\nroot-user-action = ignore\n"
            )
            _run(
                [
                    "buildah",
                    *_storage(settings),
                    "bud",
                    f"--runtime={packages.OCI_RUNTIME}",
                    "--pull-never",
                    "--network",
                    "none",
                    "--volume",
                    f"{wheels}:/wheelhouse:ro",
                    "--volume",
                    f"{pip_conf}:/etc/pip.conf:ro",
                    "--tag",
                    image.ref,
                    "--file",
                    str(CONTAINERFILE),
                    str(REPO_ROOT),
                ],
                log,
                "containertask image (buildah bud)",
            )
        partial = image.archive.with_name(image.archive.name + ".partial")
        partial.unlink(missing_ok=True)
        _run(
            [
                "buildah",
                *_storage(settings),
                "push",
                image.ref,
                f"oci-archive:{partial}:{image.ref}",
            ],
            log,
            "containertask image (buildah push)",
        )
        partial.replace(image.archive)
        for tag in _prune(settings, "containertask"):
            subprocess.run(
                ["buildah", *_storage(settings), "rmi", f"localhost/containertask:{tag}"],
                capture_output=True,
                check=False,  # built by another cache, or removed already: nothing to free
            )
    event("image.built", image=image.ref, seconds=round(time.monotonic() - began, 1))
    return image


# --- into the node ------------------------------------------------------------------------------


def build_all(settings: Settings) -> list[Image]:
    return [pause(settings), examples(settings), containertask(settings)]


def load(ctr: list[str], images: list[Image], log: Path) -> list[str]:
    """Import the images containerd does not have yet (``ctr`` is the command with its address,
    namespace k8s.io); returns the references imported."""
    listed = subprocess.run(
        [*ctr, "images", "ls", "-q"], capture_output=True, text=True, check=True
    )
    present = set(listed.stdout.split())
    imported = []
    for image in images:
        if image.ref in present:
            continue
        _run([*ctr, "images", "import", str(image.archive)], log, f"importing {image.ref}")
        imported.append(image.ref)
        event("image.imported", image=image.ref)
    listed = subprocess.run(
        [*ctr, "images", "ls", "-q"], capture_output=True, text=True, check=True
    )
    missing = [i.ref for i in images if i.ref not in listed.stdout.split()]
    if missing:
        raise ImageError(f"containerd does not list {', '.join(missing)} after import; see {log}")
    return imported
