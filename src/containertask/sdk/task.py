"""``ContainerTask``: a typed container task, following ``flyte.extras.ContainerTask``.

The task holds its definition as a :class:`TaskSpec` built with placeholder input values, so every
rule of the model (names, paths, formats, bounds, ``{{.inputs.x}}`` templates) is checked when the
task is built. Calling ``spec(**inputs)`` checks the values against the declared types and yields
the spec of one execution, which becomes a manifest or a submitted resource.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, Literal

from flyteidl2.core import tasks_pb2

from containertask.api import values
from containertask.api.errors import SpecError
from containertask.api.spec import DataLoading, Input, Output, TaskSpec
from containertask.api.types import Directory, File, TypeRef
from containertask.sdk import idl, local, manifest, options, run, uploads
from containertask.sdk.errors import TaskError
from containertask.sdk.types import type_ref

OPTIONS: Final = (
    *options.SPEC_OPTIONS,
    *("cache", "namespace", "short_name", "docs", "reusable", "file_input_layout"),
)
_FIXED: Final = ("name", "image", "inputs", "outputs", "docs")
_DEFINITION: Final = (
    "command",
    "arguments",
    "entrypoint",
    "input_data_dir",
    "output_data_dir",
    "metadata_format",
    "file_input_layout",
)
# Flyte's file_input_layout names (and the resource's own) -> spec.dataLoading.fileInputLayout.
_LAYOUTS: Final = {
    "DIRECT": "direct",
    "NAMED_DIR": "namedDir",
    "direct": "direct",
    "namedDir": "namedDir",
}

# Resource field -> the ContainerTask parameter that sets it, for errors in the user's terms.
_PARAMETERS: Final = (
    ("spec.dataLoading.inputPath", "input_data_dir"),
    ("spec.dataLoading.outputPath", "output_data_dir"),
    ("spec.dataLoading.format", "metadata_format"),
    ("spec.retries.backoff.initialSeconds", "retries.backoff"),
    ("spec.retries.backoff.factor", "retries.backoff_factor"),
    ("spec.retries.backoff.maxSeconds", "retries.max_backoff"),
    ("spec.retries.limit", "retries"),
    ("spec.timeoutSeconds", "timeout"),
    ("spec.pendingTimeoutSeconds", "timeout.max_queued_time"),
    ("spec.uploadTimeoutSeconds", "upload_timeout"),
    ("spec.env", "env_vars"),
    ("spec.dataLoading.fileInputLayout", "file_input_layout"),
    ("spec.cacheIgnoredInputs", "cache.ignored_inputs"),
    ("spec.maxInlineIoBytes", "max_inline_io_bytes"),
    ("spec.sharedMemory", "resources.shm"),
    ("spec.podTemplateName", "pod_template"),
    ("spec.primaryContainerName", "pod_template.primary_container_name"),
    ("spec.", ""),
)


@dataclass(frozen=True)
class NativeInterface:
    """The task's inputs and outputs as the Python types it was declared with."""

    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]


def _placeholder(t: TypeRef) -> Any:
    """A value of type ``t`` that lets a definition be checked before real values exist."""
    placeholders = {
        "int": 0,
        "float": 0.0,
        "str": "",
        "bool": False,
        "datetime": datetime(1970, 1, 1, tzinfo=UTC),
        "timedelta": timedelta(0),
        "file": File("s3://placeholder/file"),
        "directory": Directory("s3://placeholder/directory/"),
        "list": [],
        "dict": {},
    }
    return placeholders[t.name]


def _input(name: str, t: TypeRef, value: Any) -> Input:
    if t.is_blob:
        return Input(name, t, uri=value.uri)
    return Input(name, t, value=value)


class ContainerTask:
    """A task that runs ``command`` (plus ``arguments``) in ``image`` with typed inputs and outputs.

    Inputs arrive as files named after them in ``input_data_dir`` and in ``{{.inputs.x}}``
    templates; the program writes each output as a file named after it in ``output_data_dir``.
    Keyword options are Flyte's (``resources``, ``retries``, ``timeout``, ``env_vars``,
    ``secrets``, ``pod_template``, ``cache``, ``short_name``, ``docs``, ``queue``,
    ``interruptible``, ``max_inline_io_bytes``, ``reusable``, ``file_input_layout``) plus
    ``upload_timeout``, ``node_selector``, ``tolerations``, ``service_account``, ``entrypoint``,
    ``output_location`` and ``namespace``; the README lists what each does.
    """

    def __init__(
        self,
        name: str,
        image: Any,
        command: Sequence[str] | str,
        inputs: Mapping[str, Any] | None = None,
        arguments: Sequence[str] | None = None,
        outputs: Mapping[str, Any] | None = None,
        input_data_dir: str | Path = "/var/inputs",
        output_data_dir: str | Path = "/var/outputs",
        metadata_format: Literal["JSON", "YAML", "PROTO"] = "JSON",
        local_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise SpecError("name", "a task needs a non-empty name", name)
        self._init = {
            "name": name,
            "image": image,
            "command": command,
            "inputs": dict(inputs or {}),
            "arguments": arguments,
            "outputs": dict(outputs or {}),
            "input_data_dir": input_data_dir,
            "output_data_dir": output_data_dir,
            "metadata_format": metadata_format,
            "local_logs": local_logs,
            **kwargs,
        }
        self.name = name
        self.local_logs = local_logs
        self._source_file = _caller_file()
        try:
            self._definition = self._build_definition(kwargs)
        except SpecError as err:
            raise self._error(err) from None
        self._native = NativeInterface(self._init["inputs"], self._init["outputs"])
        self.namespace: str | None = kwargs.get("namespace")
        self.short_name: str = kwargs.get("short_name") or name
        self.docs: Any = kwargs.get("docs")
        try:
            manifest.base_name(self.short_name)  # fails now if it cannot name a resource
        except SpecError as err:
            raise self._error(err) from None

    def _build_definition(self, kwargs: Mapping[str, Any]) -> TaskSpec:
        unknown = sorted(set(kwargs) - set(OPTIONS))
        if unknown:
            raise SpecError(unknown[0], "unknown option", allowed=", ".join(OPTIONS))
        _check_reusable(kwargs.get("reusable"))
        short_name, docs = kwargs.get("short_name"), kwargs.get("docs")
        if short_name is not None and not isinstance(short_name, str):
            raise SpecError("short_name", "must be a string", short_name)
        if docs is not None and not isinstance(_docs_text(docs), str):
            raise SpecError("docs", "must be a string or a Documentation", docs)
        layout = kwargs.get("file_input_layout") or "direct"
        if layout not in _LAYOUTS:
            raise SpecError(
                "file_input_layout", "not a layout", layout, allowed=", ".join(_LAYOUTS)
            )
        command = options.strings(self._init["command"], "command")
        arguments = options.strings(self._init["arguments"] or [], "arguments")
        inputs = {n: type_ref(t, f"inputs.{n}") for n, t in self._init["inputs"].items()}
        outputs = {n: type_ref(t, f"outputs.{n}") for n, t in self._init["outputs"].items()}
        spec = TaskSpec(
            image=options.image_uri(self._init["image"]),
            command=tuple(command),
            arguments=tuple(arguments),
            inputs=tuple(_input(n, t, _placeholder(t)) for n, t in inputs.items()),
            outputs=tuple(Output(n, t) for n, t in outputs.items()),
            data_loading=DataLoading(
                input_path=os.fspath(self._init["input_data_dir"]),
                output_path=os.fspath(self._init["output_data_dir"]),
                format=self._init["metadata_format"],
                file_input_layout=_LAYOUTS[layout],
            ),
            **options.spec_fields(kwargs),
        )
        return _with_cache(spec, kwargs.get("cache"))

    def _error(self, err: SpecError) -> TaskError:
        if isinstance(err, TaskError):
            return err
        field = err.field
        for prefix, parameter in _PARAMETERS:
            if field.startswith(prefix):
                rest = field[len(prefix) :]
                field = parameter + rest if parameter else rest
                break
        for kind in ("inputs", "outputs"):
            declared = list(self._init[kind])
            for i, name in enumerate(declared):
                if field.startswith(f"{kind}[{i}]"):
                    field = f"{kind}.{name}" + field[len(f"{kind}[{i}]") :]
        return TaskError(self.name, err, field)

    # --- the definition ---------------------------------------------------------------------

    @property
    def image(self) -> str:
        return self._definition.image

    @property
    def definition(self) -> TaskSpec:
        """The task's spec; its input values are placeholders (see :meth:`spec`)."""
        return self._definition

    @property
    def input_types(self) -> dict[str, TypeRef]:
        return self._definition.input_types

    @property
    def output_types(self) -> dict[str, TypeRef]:
        return self._definition.output_types

    @property
    def native_interface(self) -> NativeInterface:
        return self._native

    @property
    def source_file(self) -> str | None:
        """The file that defined the task."""
        return self._source_file

    def container_args(self, sctx: object = None) -> list[str]:
        """The command line as written, templates unrendered: command, then arguments."""
        return [*self._definition.command, *self._definition.arguments]

    def data_loading_config(self, sctx: object = None) -> tasks_pb2.DataLoadingConfig:
        return idl.data_loading_config(self._definition.data_loading)

    def config(self, sctx: object = None) -> dict[str, str]:
        """String settings of the resource that a Flyte TaskTemplate has no field for."""
        spec = self._definition.to_dict()
        keys = ("outputLocation", "serviceAccountName", "cacheVersion")
        out = {key: spec[key] for key in keys if key in spec}
        if self.namespace:
            out["namespace"] = self.namespace
        return out

    def custom_config(self, sctx: object = None) -> dict[str, Any]:
        """Structured settings of the resource that a Flyte TaskTemplate has no field for."""
        spec = self._definition.to_dict()
        keys = (
            *("resources", "env", "retries", "podTemplate", "nodeSelector", "tolerations"),
            *("pendingTimeoutSeconds", "uploadTimeoutSeconds"),
        )
        return {key: spec[key] for key in keys if key in spec}

    def sql(self, sctx: object = None) -> str | None:
        return None

    def to_task_template(self, version: str | None = None) -> tasks_pb2.TaskTemplate:
        """Flyte's description of this task (type ``raw-container``); ``version`` defaults to a
        hash of the definition."""
        return idl.task_template(
            self.name,
            self._definition,
            self.config(),
            self.custom_config(),
            version or manifest.spec_hash(self._definition),
        )

    def override(self, **kwargs: Any) -> ContainerTask:
        """A new task with some options replaced; this task is unchanged.

        The name, image and interface (inputs, outputs) identify the task and cannot change, nor
        can the command line and data directories: define another ContainerTask for those."""
        for key in kwargs:
            problem = _override_problem(key)
            if problem:
                allowed = ", ".join((*OPTIONS, "local_logs"))
                raise self._error(SpecError(key, problem, allowed=allowed))
        init = {**self._init, **kwargs}
        task = ContainerTask(**init)
        task._source_file = self._source_file
        return task

    # --- one execution ---------------------------------------------------------------------

    def bind(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Input values by name (positional ones in declaration order), checked against the
        declared types; errors name the input."""
        declared = self.input_types
        if len(args) > len(declared):
            raise self._error(
                SpecError("inputs", f"takes {len(declared)} inputs", len(args), allowed="by name")
            )
        given = dict(zip(declared, args, strict=False))
        for name, value in kwargs.items():
            if name in given:
                raise self._error(SpecError(f"inputs.{name}", "given twice"))
            given[name] = value
        for name in given:
            if name not in declared:
                allowed = ", ".join(declared) or "none"
                raise self._error(SpecError(f"inputs.{name}", "not an input", allowed=allowed))
        missing = [name for name in declared if name not in given]
        if missing:
            raise self._error(SpecError(f"inputs.{missing[0]}", "is required, no value given"))
        try:
            return {n: values.coerce(t, given[n], f"inputs.{n}") for n, t in declared.items()}
        except SpecError as err:
            raise self._error(err) from None

    def spec(self, *args: Any, **kwargs: Any) -> TaskSpec:
        """The spec of one execution with these input values."""
        bound = self.bind(*args, **kwargs)
        inputs = tuple(_input(n, t, bound[n]) for n, t in self.input_types.items())
        try:
            return dataclasses.replace(self._definition, inputs=inputs)
        except SpecError as err:
            raise self._error(err) from None

    def to_manifest(self, *args: Any, **inputs: Any) -> dict[str, Any]:
        """The ContainerTask resource of one execution, named ``<task>-<hash of spec>``."""
        return self.manifest(self.spec(*args, **inputs))

    def to_yaml(self, *args: Any, **inputs: Any) -> str:
        return manifest.to_yaml(self.to_manifest(*args, **inputs))

    def manifest(
        self, spec: TaskSpec, name: str | None = None, namespace: str | None = None
    ) -> dict[str, Any]:
        """The resource of ``spec`` (from :meth:`spec`); files must be in an object store
        (``containertask.run`` uploads local ones first)."""
        for inp in spec.inputs:
            local_path = uploads.first_local_path(inp.resolved_value)
            if local_path is not None:
                raise self._error(
                    SpecError(
                        f"inputs.{inp.name}",
                        "a local path cannot reach the cluster from a manifest; "
                        "containertask.run(...) uploads it, or upload it yourself",
                        local_path,
                        allowed="a URI such as s3://bucket/key",
                    )
                )
        annotations = {}
        if self.short_name != self.name:
            annotations[manifest.SHORT_NAME_ANNOTATION] = self.short_name
        if self.docs is not None:
            annotations[manifest.DOCS_ANNOTATION] = _docs_text(self.docs)
        try:
            return manifest.build(
                self.name,
                spec,
                name or manifest.resource_name(self.short_name, spec),
                namespace or self.namespace,
                annotations,
            )
        except SpecError as err:
            raise self._error(err) from None

    def submit(self, *args: Any, **inputs: Any) -> run.Run:
        """Create the resource on the cluster of the current kubeconfig; see ``containertask.run``."""
        return run.RunContext().submit(self, *args, **inputs)

    # --- Flyte's execution hooks ------------------------------------------------------------

    def pre(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Called before execution: the checked input values by name."""
        return self.bind(*args, **kwargs)

    def execute(self, **kwargs: Any) -> Any:
        """Run the task in a local container engine and return its outputs (one value, a tuple
        in declaration order, or None); see :mod:`containertask.sdk.local`."""
        return local.result(self, local.execute(self, self.spec(**kwargs)))

    def post(self, return_vals: Any) -> Any:
        """Called after execution with its result; returns it unchanged."""
        return return_vals

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.post(self.execute(**self.pre(*args, **kwargs)))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        """The direct call, without blocking the event loop."""
        return await asyncio.to_thread(self.forward, *args, **kwargs)

    def __repr__(self) -> str:
        return f"ContainerTask(name={self.name!r}, image={self.image!r})"


def _override_problem(key: str) -> str | None:
    if key in _FIXED:
        return "cannot be overridden: it identifies the task; define a new ContainerTask"
    if key in _DEFINITION:
        return "cannot be overridden: it defines the task; define a new ContainerTask"
    if key not in (*OPTIONS, "local_logs"):
        return "unknown option"
    return None


def _check_reusable(value: Any) -> None:
    if value is None or value == "off":
        return
    raise SpecError(
        "reusable",
        "a ContainerTask runs each execution in a pod of its own; Flyte's reusable containers "
        "(a pool of long-lived Python workers that run many tasks) have no counterpart for a "
        "raw container, whose program runs once and exits",
        value,
        allowed='None or "off"',
    )


def _docs_text(docs: Any) -> Any:
    """A docs string, or Flyte's Documentation(description=...)."""
    return docs if isinstance(docs, str) else getattr(docs, "description", None)


def _with_cache(spec: TaskSpec, value: Any) -> TaskSpec:
    """Flyte's ``cache``: ``auto`` derives the version from what decides the outputs (image,
    entrypoint, command, arguments, data directories and the interface, plus the salt), so a new
    image or command line never reuses old results; ``override`` uses ``version_override``."""
    setting = options.cache(value)
    mode = setting.mode
    if mode == "disable":
        return spec
    if mode == "override":
        version = str(setting.version_override)
    else:
        definition = spec.to_dict()
        parts = {k: definition.get(k) for k in ("image", "entrypoint", "command", "arguments")}
        parts["interface"] = [
            [{"name": i.name, "type": str(i.type)} for i in spec.inputs],
            definition["outputs"],
        ]
        parts["dataLoading"] = definition["dataLoading"]
        parts["salt"] = setting.salt
        canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"))
        version = "auto-" + hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return dataclasses.replace(
        spec,
        cache_version=version,
        cache_serialize=setting.serialize,
        cache_ignored_inputs=setting.ignored,
    )


def _caller_file() -> str | None:
    """The file of the code that constructed the task (skipping this module)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or frame.f_code.co_filename.startswith("<"):
        return None  # defined in an interactive session or exec'd text: no file
    return str(Path(frame.f_code.co_filename).resolve())
