"""Local execution: ``task(**inputs)`` runs the task in a local container engine, as Flyte does.

The engine is reached through the Docker Engine API (the ``docker`` package): Docker, or Podman's
Docker-compatible service (``DOCKER_HOST=unix:///run/podman/podman.sock``). The container is the
one the cluster would run: the image's ENTRYPOINT with ``command + arguments`` (templates rendered)
as its args. The data moves with the copilot's own code, as in the pod: the downloader writes the
inputs (and ``inputs.pb``/``.json``/``.yaml``) into a directory the engine mounts read-only at the
input path; once the container exits 0, the uploader reads the outputs from the directory mounted at
the output path, parses them strictly and stores file and directory outputs below the run's
directory, which the returned ``File``/``Dir`` values point at.

Settings: ``DOCKER_HOST`` (the engine), ``CONTAINERTASK_LOCAL_NETWORK`` (a network mode such as
``none``; default: the engine's), ``CONTAINERTASK_LOCAL_DIR`` (where runs keep their data),
``CONTAINERTASK_LOCAL_PULL=never`` (use only images the engine has).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from flyteidl2.core import literals_pb2

from containertask.api.contract import CopilotConfig
from containertask.api.spec import TaskSpec
from containertask.api.types import Directory, File
from containertask.api.values import from_literal_map
from containertask.copilot.download import download
from containertask.copilot.upload import upload
from containertask.storage import Storage

if TYPE_CHECKING:
    from containertask.sdk.task import ContainerTask

NETWORK_ENV: Final = "CONTAINERTASK_LOCAL_NETWORK"
DIR_ENV: Final = "CONTAINERTASK_LOCAL_DIR"
PULL_ENV: Final = "CONTAINERTASK_LOCAL_PULL"
LOG_TAIL: Final = 20  # lines of the container's log quoted when it fails
# Podman's runtime cannot raise these limits in an unprivileged setting: ask for what it allows.
_PODMAN_ULIMITS: Final = (("nofile", 4096), ("nproc", 4096))


class LocalExecutionUnavailableError(RuntimeError):
    """No local container engine answers (or the ``docker`` package is missing)."""


class LocalRunError(RuntimeError):
    """The task's container failed: a non-zero exit, a timeout, or outputs that are wrong."""

    def __init__(self, message: str, exit_code: int | None, logs: list[str]) -> None:
        self.exit_code, self.logs = exit_code, logs
        tail = "\n".join(f"  {line}" for line in logs)
        super().__init__(f"{message}\nlast log lines:\n{tail}" if logs else message)


@dataclass(frozen=True)
class LocalResult:
    """One local execution: typed outputs in declaration order, the exit code, the log's end."""

    outputs: dict[str, Any]
    exit_code: int
    logs: list[str]
    directory: Path


def result(task: ContainerTask, local: LocalResult) -> Any:
    """What a direct call returns, as in Flyte: None, the one output, or a tuple of them."""
    values = [local.outputs[name] for name in task.output_types]
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def execute(task: ContainerTask, spec: TaskSpec, client: Any = None) -> LocalResult:
    """Run ``spec`` (one execution of ``task``) in the local engine and return its outputs."""
    if client is None:
        engine = connect()
        try:
            return execute(task, spec, engine)
        finally:
            engine.close()
    run_id = f"{_slug(task.short_name)}-{secrets.token_hex(4)}"
    directory = Path(os.environ.get(DIR_ENV) or Path(tempfile.gettempdir(), "containertask"))
    run_dir = directory / run_id
    inputs_dir, outputs_dir, store = run_dir / "inputs", run_dir / "outputs", run_dir / "store"
    for path in (inputs_dir, outputs_dir, store):
        path.mkdir(parents=True)
    outputs_dir.chmod(0o777)  # the image may run as any user
    storage = Storage()
    config = CopilotConfig.for_attempt(
        spec,
        store.as_uri(),
        inline_limit_bytes=spec.max_inline_io_bytes or CopilotConfig.inline_limit_bytes,
    )
    try:
        download(config, storage, root=inputs_dir)
        exit_code, logs = _run(client, task, spec, run_id, store.as_uri(), inputs_dir, outputs_dir)
        if exit_code != 0:
            raise LocalRunError(
                f"ContainerTask {task.name!r} exited with code {exit_code}", exit_code, logs
            )
        local_out = dataclasses.replace(config.data_loading, output_path=str(outputs_dir))
        uploaded = upload(dataclasses.replace(config, data_loading=local_out), storage)
        if not uploaded.ok:
            raise LocalRunError(
                f"ContainerTask {task.name!r}: {uploaded.error_kind} error: {uploaded.error}",
                exit_code,
                logs,
            )
        outputs = _outputs(spec, storage, uploaded.outputs_uri)
    finally:
        for path in (inputs_dir, outputs_dir):
            shutil.rmtree(path, ignore_errors=True)
    return LocalResult(outputs, exit_code, logs, run_dir)


def connect() -> Any:
    """A client of the engine at ``DOCKER_HOST`` (default: the local Docker socket)."""
    try:
        import docker
    except ImportError as e:
        raise LocalExecutionUnavailableError(
            "running a ContainerTask locally needs the docker package: "
            "pip install 'containertask[local]'"
        ) from e
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as e:
        raise LocalExecutionUnavailableError(
            f"no container engine answers at {host} ({e}); start Docker, or Podman's service "
            "(podman system service unix:///PATH) and set DOCKER_HOST=unix:///PATH, or run the "
            "task on Kubernetes with containertask.run(task, ...)"
        ) from None
    return client


def _run(
    client: Any,
    task: ContainerTask,
    spec: TaskSpec,
    run_id: str,
    output_prefix: str,
    inputs_dir: Path,
    outputs_dir: Path,
) -> tuple[int, list[str]]:
    """Create, start and wait for the container; its exit code and the last lines of its log."""
    import docker
    import requests  # the docker package's transport

    dl = spec.data_loading
    runtime = spec.runtime_values(output_prefix, run_id)
    _ensure_image(client, spec.image)
    options: dict[str, Any] = {
        "command": spec.render(spec.container_args, runtime) or None,
        "entrypoint": spec.render(spec.entrypoint, runtime) or None,
        "volumes": {
            str(inputs_dir): {"bind": dl.input_path, "mode": "ro"},
            str(outputs_dir): {"bind": dl.output_path, "mode": "rw"},
        },
        "environment": _environment(spec),
        "labels": {"containertask.io/task": task.name, "containertask.io/run": run_id},
        "name": f"containertask-{run_id}",
        "detach": True,
    }
    network = os.environ.get(NETWORK_ENV)
    if network:
        options["network_mode"] = network
    if spec.shared_memory and spec.shared_memory != "auto":
        options["shm_size"] = _bytes(spec.shared_memory)
    if _is_podman(client):
        options["ulimits"] = [
            docker.types.Ulimit(name=name, soft=n, hard=n) for name, n in _PODMAN_ULIMITS
        ]
    container = client.containers.create(spec.image, **options)
    follower = None
    try:
        container.start()
        if task.local_logs:
            follower = threading.Thread(target=_follow, args=(container, task.name), daemon=True)
            follower.start()
        try:
            status = container.wait(timeout=spec.timeout_seconds)
        except requests.exceptions.RequestException:  # no exit within the task's timeout
            container.kill()
            raise LocalRunError(
                f"ContainerTask {task.name!r} did not finish within {spec.timeout_seconds}s "
                "(its timeout); the container was killed",
                None,
                _tail(container),
            ) from None
        if follower is not None:
            follower.join(timeout=10)
        return int(status["StatusCode"]), _tail(container)
    finally:
        container.remove(force=True)


def _follow(container: Any, name: str) -> None:
    """Print the container's log as it comes, line by line, on stderr (Flyte's local_logs)."""
    for line in _lines(container.logs(stream=True, follow=True)):
        print(f"[{name}] {line}", file=sys.stderr, flush=True)


def _tail(container: Any) -> list[str]:
    text: str = container.logs(tail=LOG_TAIL).decode("utf-8", "replace")
    return text.splitlines()[-LOG_TAIL:]


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """Whole lines of a log stream (Podman's stream splits chunks mid-line)."""
    pending = b""
    for chunk in chunks:
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line.decode("utf-8", "replace").rstrip("\r")
    if pending:
        yield pending.decode("utf-8", "replace")


def _ensure_image(client: Any, image: str) -> None:
    """Pull ``image`` when the engine lacks it, unless ``CONTAINERTASK_LOCAL_PULL=never``."""
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        if os.environ.get(PULL_ENV) == "never":
            raise LocalExecutionUnavailableError(
                f"image {image} is not in the local engine and {PULL_ENV}=never"
            ) from None
        client.images.pull(image)


def _is_podman(client: Any) -> bool:
    components = client.version().get("Components") or []
    return any("podman" in str(c.get("Name", "")).lower() for c in components)


def _environment(spec: TaskSpec) -> dict[str, str]:
    """The task's env; a secret comes from the variable of the same name on this machine (there
    is no Kubernetes Secret to read), and a missing one is an error that names it."""
    env: dict[str, str] = {}
    for entry in spec.env:
        name = entry["name"]
        if isinstance(entry.get("value"), str):
            env[name] = entry["value"]
            continue
        if name not in os.environ:
            ref = (entry.get("valueFrom") or {}).get("secretKeyRef") or {}
            raise LocalExecutionUnavailableError(
                f"env {name}: a local run takes the secret {ref.get('name')}/{ref.get('key')} "
                f"from the environment variable {name}, which is not set"
            )
        env[name] = os.environ[name]
    return env


def _outputs(spec: TaskSpec, storage: Storage, outputs_uri: str | None) -> dict[str, Any]:
    types = spec.output_types
    if not types or not outputs_uri:
        return {}
    literal_map = literals_pb2.LiteralMap.FromString(storage.read_bytes(outputs_uri))
    return {n: _local(v) for n, v in from_literal_map(types, literal_map, "outputs").items()}


def _local(value: Any) -> Any:
    """File and directory outputs as local paths (as Flyte's local run returns them)."""
    if isinstance(value, File):
        return File(os.fspath(value))
    if isinstance(value, Directory):
        return Directory(os.fspath(value))
    if isinstance(value, list):
        return [_local(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _local(v) for k, v in value.items()}
    return value


_SUFFIXES: Final = {
    **{s: 1000**i for i, s in enumerate(("", "k", "M", "G", "T", "P", "E"))},
    **{s: 1024**i for i, s in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)},
}


def _bytes(quantity: str) -> int:
    number = quantity.rstrip("KMGTPEik")
    return int(float(number) * _SUFFIXES[quantity[len(number) :]])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "task"
