"""Runs on the cluster, mirroring ``flyte.run``: submit a task, follow it, read typed outputs.

``containertask.run(task, **inputs)`` creates one ContainerTask resource and returns a :class:`Run`.
Each submission is a new execution named ``<task>-<hash of spec>-<5 random characters>`` unless
``with_runcontext(name=...)`` chooses the name. Waiting watches the resource (resuming from the last
resourceVersion and listing again when the watch expires with 410 Gone), so it costs one request
per change, not a poll loop.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, overload

from flyteidl2.core import literals_pb2
from kubernetes.client.exceptions import ApiException

from containertask.api import values
from containertask.api.constants import MAIN_CONTAINER
from containertask.api.errors import SpecError
from containertask.api.spec import TaskSpec
from containertask.api.status import Phase, TaskStatus
from containertask.sdk import local, manifest, uploads
from containertask.sdk.client import Client
from containertask.sdk.errors import (
    RunDeletedError,
    RunFailedError,
    RunNotFinishedError,
    RunTimeoutError,
)

if TYPE_CHECKING:
    from containertask.sdk.task import ContainerTask

ProgressCallback = Callable[[TaskStatus], None]
_WATCH_SECONDS: Final = 300
_HTTP_GONE: Final = 410


def progress_line(name: str, status: TaskStatus) -> str:
    """One line describing a run's state: ``area-1a2b: Running (attempt 2)``."""
    text = f"{name}: {status.phase.value}"
    if status.attempts:
        last = status.attempts[-1]
        text += f" (attempt {last.number}"
        if last.exit_code is not None:
            text += f", exit code {last.exit_code}"
        text += ")"
    if status.reason:
        text += f" {status.reason}"
    if status.message:
        text += f": {status.message}"
    return text


class Run:
    """One ContainerTask resource on the cluster."""

    def __init__(self, name: str, namespace: str, client: Client) -> None:
        self.name, self.namespace, self.client = name, namespace, client

    @classmethod
    def attach(cls, name: str, namespace: str | None = None, client: Client | None = None) -> Run:
        """The run of an existing resource (created by ``kubectl apply`` or another process)."""
        client = client or Client.from_config()
        return cls(name, namespace or client.namespace, client)

    def __repr__(self) -> str:
        return f"Run({self.namespace}/{self.name})"

    def status(self) -> TaskStatus:
        return TaskStatus.from_dict(self._get().get("status"))

    def spec(self) -> TaskSpec:
        """The resource's spec (its definition and input values)."""
        return TaskSpec.from_dict(self._get()["spec"])

    def _get(self) -> dict[str, Any]:
        return self.client.get(self.name, self.namespace)

    def wait(
        self, timeout: float | None = None, progress: ProgressCallback | bool = False
    ) -> TaskStatus:
        """Block until the run finishes; returns the status of a success.

        ``progress`` is called with the status whenever the phase or attempt changes (``True``
        prints a line to stderr). Raises :class:`RunFailedError` if the run failed or was
        cancelled, :class:`RunTimeoutError` when ``timeout`` seconds pass first."""
        report = _reporter(self.name, progress)
        deadline = None if timeout is None else time.monotonic() + timeout
        obj, version = self._current()
        while True:
            status = TaskStatus.from_dict(obj.get("status"))
            report(status)
            if status.phase.is_terminal:
                return self._finished(status)
            remaining = _WATCH_SECONDS if deadline is None else deadline - time.monotonic()
            if remaining <= 0:
                raise RunTimeoutError(
                    f"ContainerTask {self.namespace}/{self.name} still {status.phase.value} "
                    f"after {timeout}s"
                )
            seconds = math.ceil(min(remaining, _WATCH_SECONDS))
            obj, version = self._next_change(obj, version, seconds, report)

    def _current(self) -> tuple[dict[str, Any], str]:
        obj, version = self.client.get_current(self.name, self.namespace)
        if obj is None:
            raise RunDeletedError(f"ContainerTask {self.namespace}/{self.name} does not exist")
        return obj, version

    def _next_change(
        self, obj: dict[str, Any], version: str, seconds: int, report: ProgressCallback
    ) -> tuple[dict[str, Any], str]:
        """The resource and the version to resume from, once its phase is terminal or the
        watch window ends."""
        try:
            for kind, event in self.client.watch(self.name, self.namespace, version, seconds):
                if kind == "DELETED":
                    raise RunDeletedError(f"ContainerTask {self.namespace}/{self.name} was deleted")
                version = event["metadata"]["resourceVersion"]
                if kind == "BOOKMARK":
                    continue
                obj = event
                status = TaskStatus.from_dict(obj.get("status"))
                if status.phase.is_terminal:
                    break
                report(status)
        except ApiException as err:
            if err.status != _HTTP_GONE:
                raise
            return self._current()  # the watch expired: list again and watch from there
        return obj, version

    def _finished(self, status: TaskStatus) -> TaskStatus:
        if status.phase is not Phase.SUCCEEDED:
            raise RunFailedError(self.name, self.namespace, status)
        return status

    async def wait_async(
        self, timeout: float | None = None, progress: ProgressCallback | bool = False
    ) -> TaskStatus:
        """:meth:`wait` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.wait, timeout, progress)

    def outputs(self) -> dict[str, Any]:
        """The outputs of a succeeded run as Python values of their declared types (files and
        directories as File/Directory of their URIs), in declaration order."""
        obj = self._get()
        status = TaskStatus.from_dict(obj.get("status"))
        if status.phase is not Phase.SUCCEEDED:
            if status.phase.is_terminal:
                raise RunFailedError(self.name, self.namespace, status)
            raise RunNotFinishedError(
                f"ContainerTask {self.namespace}/{self.name} is {status.phase.value}: "
                "no outputs yet; wait() for it first"
            )
        types = TaskSpec.from_dict(obj["spec"]).output_types
        inline = status.outputs or {}
        stored = {n: t for n, t in types.items() if n not in inline}
        out = {
            n: values.from_json(t, inline[n], f"status.outputs.{n}")
            for n, t in types.items()
            if n in inline
        }
        if stored:
            out.update(_stored_outputs(status, stored))
        return {n: out[n] for n in types}

    def logs(self, container: str = MAIN_CONTAINER) -> str:
        """Logs of ``container`` in the pod of the latest attempt."""
        attempts = self.status().attempts
        if not attempts:
            raise RunNotFinishedError(
                f"ContainerTask {self.namespace}/{self.name} has not started a pod yet"
            )
        return self.client.pod_logs(attempts[-1].pod, self.namespace, container)

    def cancel(self) -> None:
        """Ask the operator to stop the run; ``wait`` then raises with phase Cancelled."""
        self.client.cancel(self.name, self.namespace)


def _stored_outputs(status: TaskStatus, types: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs too large for the status, read from the outputs.pb LiteralMap at outputsUri."""
    missing = [n for n in types if n not in status.stored_outputs]
    if missing:
        raise SpecError(f"status.outputs.{missing[0]}", "declared output missing from the status")
    if not status.outputs_uri:
        raise SpecError("status.outputsUri", "is required when storedOutputs is set")
    from containertask import storage  # only runs with stored outputs need the object store

    literal_map = literals_pb2.LiteralMap()
    literal_map.ParseFromString(storage.Storage().read_bytes(status.outputs_uri))
    return values.from_literal_map(types, literal_map, status.outputs_uri)


def _printer(name: str) -> ProgressCallback:
    return lambda status: print(progress_line(name, status), file=sys.stderr, flush=True)


def _reporter(name: str, progress: ProgressCallback | bool) -> ProgressCallback:
    """Calls ``progress`` only when the phase or the attempt number changes."""
    if progress is False:
        return lambda status: None
    callback: ProgressCallback = progress if callable(progress) else _printer(name)
    seen: list[tuple[Phase, int]] = []

    def report(status: TaskStatus) -> None:
        key = (status.phase, len(status.attempts))
        if not seen or seen[-1] != key:
            seen.append(key)
            callback(status)

    return report


class LocalRun:
    """A run in the local container engine (``mode="local"``): finished when returned."""

    def __init__(self, name: str, result: local.LocalResult) -> None:
        self.name, self.result = name, result

    def __repr__(self) -> str:
        return f"LocalRun({self.name}, exit code {self.result.exit_code})"

    def wait(self, timeout: float | None = None, progress: Any = False) -> LocalRun:
        return self

    def outputs(self) -> dict[str, Any]:
        """The typed outputs (files and directories as local paths), in declaration order."""
        return dict(self.result.outputs)

    def logs(self) -> str:
        """The last lines of the container's log."""
        return "\n".join(self.result.logs)


MODES: Final = ("remote", "local")


@dataclass(frozen=True)
class RunContext:
    """Settings of a submission: ``with_runcontext(name=..., namespace=...).run(task, x=1)``.

    ``mode="local"`` runs the task in the local container engine instead (as ``task(x=1)``
    does) and returns a finished :class:`LocalRun`. ``raw_data_path``: where local file and
    directory inputs of a cluster run are uploaded."""

    name: str | None = None
    namespace: str | None = None
    client: Client | None = None
    mode: str = "remote"
    raw_data_path: str | None = None

    def run(self, task: ContainerTask, *args: Any, **inputs: Any) -> Run | LocalRun:
        """Create the task's resource with these inputs and return its Run (without waiting)."""
        if self.mode not in MODES:
            raise SpecError("mode", "not a run mode", self.mode, allowed=", ".join(MODES))
        if self.mode == "local":
            return self.run_local(task, *args, **inputs)
        return self.submit(task, *args, **inputs)

    def run_local(self, task: ContainerTask, *args: Any, **inputs: Any) -> LocalRun:
        """Run the task in the local container engine; returns when it has finished."""
        result = local.execute(task, task.spec(*args, **inputs))
        return LocalRun(self.name or result.directory.name, result)

    def submit(self, task: ContainerTask, *args: Any, **inputs: Any) -> Run:
        """Create the task's resource on the cluster (local files and directories uploaded
        first) and return its Run without waiting."""
        spec = uploads.upload_local_inputs(task.spec(*args, **inputs), self.raw_data_path)
        name = self.name or f"{manifest.resource_name(task.short_name, spec)}-{_suffix()}"
        client = self.client or Client.from_config()
        namespace = self.namespace or task.namespace or client.namespace
        created = client.create(task.manifest(spec, name, namespace))
        return Run(created["metadata"]["name"], namespace, client)

    async def arun(self, task: ContainerTask, *args: Any, **inputs: Any) -> Run | LocalRun:
        """:meth:`run` without blocking the event loop."""
        return await asyncio.to_thread(self.run, task, *args, **inputs)


def _suffix() -> str:
    return secrets.token_hex(3)[: manifest.SUFFIX_LENGTH]


def with_runcontext(
    mode: str = "remote",
    *,
    name: str | None = None,
    namespace: str | None = None,
    client: Client | None = None,
    raw_data_path: str | None = None,
    **_: Any,
) -> RunContext:
    """Flyte's ``with_runcontext``; ``mode`` is ``remote`` (the cluster) or ``local``. Flyte
    options with no meaning here (``project``, ``domain``, ...) are accepted and ignored."""
    return RunContext(name, namespace, client, mode, raw_data_path)


@overload
def run(
    task: ContainerTask, *args: Any, mode: Literal["remote"] = "remote", **inputs: Any
) -> Run: ...


@overload
def run(task: ContainerTask, *args: Any, mode: Literal["local"], **inputs: Any) -> LocalRun: ...


def run(task: ContainerTask, *args: Any, mode: str = "remote", **inputs: Any) -> Run | LocalRun:
    """Submit ``task`` with these inputs to the current kubeconfig's cluster (see :class:`Run`),
    or with ``mode="local"`` run it in the local container engine. A task with an input named
    ``mode`` gets ``mode=`` as that input (choose the mode with ``with_runcontext`` then)."""
    return _context(task, mode, inputs).run(task, *args, **inputs)


def _context(task: ContainerTask, mode: str, inputs: dict[str, Any]) -> RunContext:
    if "mode" in task.input_types:
        if mode != "remote":
            inputs["mode"] = mode
        return RunContext()
    return RunContext(mode=mode)


@overload
async def arun(
    task: ContainerTask, *args: Any, mode: Literal["remote"] = "remote", **inputs: Any
) -> Run: ...


@overload
async def arun(
    task: ContainerTask, *args: Any, mode: Literal["local"], **inputs: Any
) -> LocalRun: ...


async def arun(
    task: ContainerTask, *args: Any, mode: str = "remote", **inputs: Any
) -> Run | LocalRun:
    return await _context(task, mode, inputs).arun(task, *args, **inputs)
