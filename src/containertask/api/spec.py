"""The ContainerTask spec: one typed model, read from and written to the resource's camelCase dict.

``TaskSpec.from_dict`` is the one place where a resource's spec is checked; it raises
:class:`SpecError` naming the field (``spec.inputs[1].type``), the value and what is allowed.
The SDK builds specs, the operator reads them, the copilot receives the parts it needs.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from containertask.api import podtemplate, templating
from containertask.api.constants import (
    DEFAULT_INPUT_PATH,
    DEFAULT_OUTPUT_PATH,
    INPUTS_PB,
    KERNEL_PATHS,
    MAIN_CONTAINER,
)
from containertask.api.errors import SpecError
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_json, to_json

FORMATS: Final = ("JSON", "YAML", "PROTO")
DOWNLOAD_MODES: Final = ("eager", "stream", "none")
UPLOAD_MODES: Final = ("onExit", "eager", "none")
FILE_INPUT_LAYOUTS: Final = ("direct", "namedDir")
# Names become file names in the data directories: a letter first, then letters, digits, ``_``, ``.``
# or ``-`` (``script.py``, as Flyte's code-runner example names its input).
NAME_PATTERN: Final = r"^[A-Za-z][A-Za-z0-9_.-]{0,62}$"
_NAME = re.compile(NAME_PATTERN)
# The copilot's own documents beside the values, which no input or output may shadow.
RESERVED_NAMES: Final = tuple(
    f"{base}.{ext}" for base in ("inputs", "outputs") for ext in ("pb", "json", "yaml")
)
SHARED_MEMORY_AUTO: Final = "auto"
DEFAULT_PRIMARY_CONTAINER: Final = "primary"

# Bounds, shared with the CRD schema.
MAX_RETRIES: Final = 10
MAX_TIMEOUT_SECONDS: Final = 7 * 24 * 3600
MAX_BACKOFF_SECONDS: Final = 24 * 3600
MAX_BACKOFF_FACTOR: Final = 10
MAX_UPLOAD_SECONDS: Final = 3600
MAX_VARIABLES: Final = 64
MAX_TTL_SECONDS: Final = 365 * 24 * 3600

# An image reference as the container runtimes parse it (github.com/distribution/reference):
# [domain[:port]/]path[:tag][@digest], path components lower case.
_DOMAIN: Final = (
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*"
    r"|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
_COMPONENT: Final = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_PATTERN: Final = (
    rf"^(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[\w][\w.-]{0,127})?(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$"
)
_IMAGE = re.compile(IMAGE_PATTERN)


@dataclass(frozen=True)
class Input:
    """A declared input and its value: ``value`` for everything but files and directories, which
    are given by ``uri``. Both are absent when the task's values come from ``inputsUri``."""

    name: str
    type: TypeRef
    value: Any = None
    uri: str | None = None

    @property
    def resolved_value(self) -> Any:
        if self.type.name == "file" and self.uri:
            return File(self.uri)
        if self.type.name == "directory" and self.uri:
            return Directory(self.uri)
        return self.value


@dataclass(frozen=True)
class Output:
    name: str
    type: TypeRef


@dataclass(frozen=True)
class DataLoading:
    """How the copilot moves data; mirrors flyteidl2's DataLoadingConfig."""

    input_path: str = DEFAULT_INPUT_PATH
    output_path: str = DEFAULT_OUTPUT_PATH
    format: str = "JSON"
    download_mode: str = "eager"
    upload_mode: str = "onExit"
    file_input_layout: str = "direct"


@dataclass(frozen=True)
class Backoff:
    """Delay before retry n (1-based): ``min(initial * factor**(n-1), max)`` seconds."""

    initial_seconds: int = 5
    factor: float = 2.0
    max_seconds: int = 300

    def delay(self, retry: int) -> float:
        return float(min(self.initial_seconds * self.factor ** max(retry - 1, 0), self.max_seconds))


@dataclass(frozen=True)
class Retries:
    limit: int = 0
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class TaskSpec:
    image: str
    command: tuple[str, ...] = ()
    arguments: tuple[str, ...] = ()
    inputs: tuple[Input, ...] = ()
    outputs: tuple[Output, ...] = ()
    data_loading: DataLoading = field(default_factory=DataLoading)
    inputs_uri: str | None = None
    output_location: str | None = None
    retries: Retries = field(default_factory=Retries)
    timeout_seconds: int | None = None
    active_deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
    pending_timeout_seconds: int | None = None
    upload_timeout_seconds: int | None = None
    cache_version: str | None = None
    resources: Mapping[str, Any] | None = None
    env: tuple[Mapping[str, Any], ...] = ()
    service_account_name: str | None = None
    node_selector: Mapping[str, str] | None = None
    tolerations: tuple[Mapping[str, Any], ...] = ()
    pod_template: Mapping[str, Any] | None = None
    pod_template_name: str | None = None
    primary_container_name: str | None = None
    entrypoint: tuple[str, ...] = ()
    queue: str | None = None
    interruptible: bool = False
    accelerator: str | None = None
    shared_memory: str | None = None
    max_inline_io_bytes: int | None = None
    cache_ignored_inputs: tuple[str, ...] = ()
    cache_serialize: bool = False
    cancel: bool = False

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def input_types(self) -> dict[str, TypeRef]:
        return {i.name: i.type for i in self.inputs}

    @property
    def output_types(self) -> dict[str, TypeRef]:
        return {o.name: o.type for o in self.outputs}

    @property
    def input_values(self) -> dict[str, Any]:
        """Inline values, files and directories as File/Directory of their URIs."""
        return {i.name: i.resolved_value for i in self.inputs}

    @property
    def primary_container(self) -> str:
        """The podTemplate container merged into the main one (Flyte's primary_container_name)."""
        return self.primary_container_name or DEFAULT_PRIMARY_CONTAINER

    @property
    def memory_limit(self) -> str | None:
        """The main container's memory limit: the task's own, else its podTemplate main
        container's (which the task's resources override in the pod). A named PodTemplate's or a
        LimitRange's default is not known here."""
        sources = [self.resources or {}]
        for container in ((self.pod_template or {}).get("spec") or {}).get("containers") or ():
            if container.get("name") in (MAIN_CONTAINER, self.primary_container):
                sources.append(container.get("resources") or {})
        for resources in sources:
            limit = (resources.get("limits") or {}).get("memory")
            if limit:
                return str(limit)
        return None

    @property
    def container_args(self) -> tuple[str, ...]:
        """The main container's args, as Flyte passes them: command, then arguments (the image's
        ENTRYPOINT runs them unless ``entrypoint`` is set)."""
        return (*self.command, *self.arguments)

    def runtime_values(self, output_prefix: str, unique_key: str) -> templating.RuntimeValues:
        """What ``{{.input}}``, ``{{.outputPrefix}}`` and the like become in one attempt."""
        dl = self.data_loading
        local_inputs = posixpath.join(dl.input_path, INPUTS_PB)
        return templating.RuntimeValues(
            inputs_file=self.inputs_uri or local_inputs,
            input_prefix=posixpath.dirname(self.inputs_uri) if self.inputs_uri else dl.input_path,
            output_prefix=output_prefix,
            raw_output_prefix=output_prefix.rstrip("/") + "/raw",
            unique_key=unique_key,
        )

    def render(self, args: Iterable[str], runtime: templating.RuntimeValues) -> list[str]:
        """``args`` with every template replaced: a file or directory input by its path in the
        container, any other input by its text (:func:`templating.render_value`), the other
        templates from ``runtime``."""
        dl = self.data_loading
        substitutions = {
            i.name: templating.input_path(
                i.name, i.type, i.uri, dl.input_path, dl.file_input_layout
            )
            if i.type.is_blob
            else templating.render_value(i.type, i.value)
            for i in self.inputs
            if i.type.is_blob or i.value is not None
        }
        return templating.render(args, substitutions, runtime)

    def to_dict(self) -> dict[str, Any]:
        """The resource's ``spec``, camelCase, with unset optional fields left out."""
        out: dict[str, Any] = {"image": self.image}
        if self.command:
            out["command"] = list(self.command)
        if self.arguments:
            out["arguments"] = list(self.arguments)
        out["inputs"] = [_input_to_dict(i) for i in self.inputs]
        out["outputs"] = [{"name": o.name, "type": str(o.type)} for o in self.outputs]
        dl = self.data_loading
        out["dataLoading"] = {
            "inputPath": dl.input_path,
            "outputPath": dl.output_path,
            "format": dl.format,
            "downloadMode": dl.download_mode,
            "uploadMode": dl.upload_mode,
            "fileInputLayout": dl.file_input_layout,
        }
        b = self.retries.backoff
        out["retries"] = {
            "limit": self.retries.limit,
            "backoff": {
                "initialSeconds": b.initial_seconds,
                "factor": b.factor,
                "maxSeconds": b.max_seconds,
            },
        }
        optional = {
            "inputsUri": self.inputs_uri,
            "outputLocation": self.output_location,
            "timeoutSeconds": self.timeout_seconds,
            "activeDeadlineSeconds": self.active_deadline_seconds,
            "ttlSecondsAfterFinished": self.ttl_seconds_after_finished,
            "pendingTimeoutSeconds": self.pending_timeout_seconds,
            "uploadTimeoutSeconds": self.upload_timeout_seconds,
            "cacheVersion": self.cache_version,
            "resources": plain(self.resources),
            "env": [plain(e) for e in self.env] or None,
            "serviceAccountName": self.service_account_name,
            "nodeSelector": plain(self.node_selector),
            "tolerations": [plain(t) for t in self.tolerations] or None,
            "podTemplate": plain(self.pod_template),
            "podTemplateName": self.pod_template_name,
            "primaryContainerName": self.primary_container_name,
            "entrypoint": list(self.entrypoint) or None,
            "queue": self.queue,
            "interruptible": self.interruptible or None,
            "accelerator": self.accelerator,
            "sharedMemory": self.shared_memory,
            "maxInlineIoBytes": self.max_inline_io_bytes,
            "cacheIgnoredInputs": list(self.cache_ignored_inputs) or None,
            "cacheSerialize": self.cache_serialize or None,
            "cancel": self.cancel or None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "spec") -> TaskSpec:
        """Read and check a resource's spec; errors name the field under ``where``."""
        reader = _Reader(data, where)
        dl = _Reader(reader.mapping("dataLoading"), f"{where}.dataLoading")
        retries = _Reader(reader.mapping("retries"), f"{where}.retries")
        backoff = _Reader(retries.mapping("backoff"), f"{where}.retries.backoff")
        return cls(
            image=reader.string("image", required=True) or "",
            command=tuple(reader.strings("command")),
            arguments=tuple(reader.strings("arguments")),
            inputs=tuple(
                _input_from_dict(d, f"{where}.inputs[{i}]")
                for i, d in enumerate(reader.mappings("inputs"))
            ),
            outputs=tuple(
                _output_from_dict(d, f"{where}.outputs[{i}]")
                for i, d in enumerate(reader.mappings("outputs"))
            ),
            data_loading=DataLoading(
                input_path=dl.string("inputPath") or DEFAULT_INPUT_PATH,
                output_path=dl.string("outputPath") or DEFAULT_OUTPUT_PATH,
                format=dl.string("format") or "JSON",
                download_mode=dl.string("downloadMode") or "eager",
                upload_mode=dl.string("uploadMode") or "onExit",
                file_input_layout=dl.string("fileInputLayout") or "direct",
            ),
            inputs_uri=reader.string("inputsUri"),
            output_location=reader.string("outputLocation"),
            retries=Retries(
                limit=retries.integer("limit", 0),
                backoff=Backoff(
                    initial_seconds=backoff.integer("initialSeconds", 5),
                    factor=backoff.number("factor", 2.0),
                    max_seconds=backoff.integer("maxSeconds", 300),
                ),
            ),
            timeout_seconds=reader.optional_integer("timeoutSeconds"),
            active_deadline_seconds=reader.optional_integer("activeDeadlineSeconds"),
            ttl_seconds_after_finished=reader.optional_integer("ttlSecondsAfterFinished"),
            pending_timeout_seconds=reader.optional_integer("pendingTimeoutSeconds"),
            upload_timeout_seconds=reader.optional_integer("uploadTimeoutSeconds"),
            cache_version=reader.string("cacheVersion"),
            resources=reader.optional_mapping("resources"),
            env=tuple(reader.mappings("env")),
            service_account_name=reader.string("serviceAccountName"),
            node_selector=reader.optional_mapping("nodeSelector"),
            tolerations=tuple(reader.mappings("tolerations")),
            pod_template=reader.optional_mapping("podTemplate"),
            pod_template_name=reader.string("podTemplateName"),
            primary_container_name=reader.string("primaryContainerName"),
            entrypoint=tuple(reader.strings("entrypoint")),
            queue=reader.string("queue"),
            interruptible=reader.boolean("interruptible"),
            accelerator=reader.string("accelerator"),
            shared_memory=reader.string("sharedMemory"),
            max_inline_io_bytes=reader.optional_integer("maxInlineIoBytes"),
            cache_ignored_inputs=tuple(reader.strings("cacheIgnoredInputs")),
            cache_serialize=reader.boolean("cacheSerialize"),
            cancel=reader.boolean("cancel"),
        )


def plain(value: Any) -> Any:
    """Mappings and sequences as plain dicts and lists, for YAML and JSON."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def _input_to_dict(i: Input) -> dict[str, Any]:
    out: dict[str, Any] = {"name": i.name, "type": str(i.type)}
    if i.uri is not None:
        out["uri"] = i.uri
    elif i.value is not None:
        out["value"] = to_json(i.type, i.value)
    return out


def _input_from_dict(data: Mapping[str, Any], where: str) -> Input:
    reader = _Reader(data, where)
    name = reader.string("name", required=True) or ""
    t = TypeRef.parse(reader.string("type", required=True) or "", f"{where}.type")
    value = data.get("value")
    uri = reader.string("uri")
    if value is not None and t.is_blob:
        raise SpecError(f"{where}.value", f"a {t} input is given by uri, not value", value)
    if value is not None:
        value = from_json(t, value, f"{where}.value")
    return Input(name=name, type=t, value=value, uri=uri)


def _output_from_dict(data: Mapping[str, Any], where: str) -> Output:
    reader = _Reader(data, where)
    name = reader.string("name", required=True) or ""
    return Output(name, TypeRef.parse(reader.string("type", required=True) or "", f"{where}.type"))


class _Reader:
    """Typed access to one mapping of the resource, with errors that name the field."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise SpecError(where, "must be an object", data)
        self.data, self.where = data, where

    def _get(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.data.get(key)
        if value is not None and (
            not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool)
        ):
            raise SpecError(f"{self.where}.{key}", f"must be {what}", value)
        return value

    def string(self, key: str, *, required: bool = False) -> str | None:
        value = self._get(key, str, "a string")
        if required and not value:
            raise SpecError(f"{self.where}.{key}", "is required")
        return value  # type: ignore[no-any-return]

    def strings(self, key: str) -> list[str]:
        values = self._get(key, list, "a list of strings") or []
        for i, v in enumerate(values):
            if not isinstance(v, str):
                raise SpecError(f"{self.where}.{key}[{i}]", "must be a string", v)
        return values

    def boolean(self, key: str) -> bool:
        return bool(self._get(key, bool, "true or false"))

    def optional_integer(self, key: str) -> int | None:
        return self._get(key, int, "an integer")  # type: ignore[no-any-return]

    def integer(self, key: str, default: int) -> int:
        value = self.optional_integer(key)
        return default if value is None else value

    def number(self, key: str, default: float) -> float:
        value = self._get(key, (int, float), "a number")
        return default if value is None else float(value)

    def optional_mapping(self, key: str) -> Mapping[str, Any] | None:
        return self._get(key, Mapping, "an object")  # type: ignore[no-any-return]

    def mapping(self, key: str) -> Mapping[str, Any]:
        return self.optional_mapping(key) or {}

    def mappings(self, key: str) -> list[Mapping[str, Any]]:
        values = self._get(key, list, "a list of objects") or []
        for i, v in enumerate(values):
            if not isinstance(v, Mapping):
                raise SpecError(f"{self.where}.{key}[{i}]", "must be an object", v)
        return values


def _check_choice(field_name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise SpecError(field_name, "not a supported value", value, allowed=", ".join(allowed))


def _check_range(field_name: str, value: float | None, low: float, high: float) -> None:
    if value is not None and not low <= value <= high:
        raise SpecError(field_name, "out of range", value, allowed=f"{low} to {high}")


def _check_names(names: list[str], where: str) -> None:
    if len(names) > MAX_VARIABLES:
        raise SpecError(where, "too many entries", len(names), allowed=f"at most {MAX_VARIABLES}")
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not _NAME.match(name):
            raise SpecError(
                f"{where}[{i}].name",
                "not a valid name",
                name,
                allowed="a letter, then letters, digits, '_', '.' or '-' (at most 63)",
            )
        if name in RESERVED_NAMES:
            raise SpecError(
                f"{where}[{i}].name",
                "is the name of a file the copilot writes",
                name,
                allowed=f"any other name than {', '.join(RESERVED_NAMES)}",
            )
        if name in seen:
            raise SpecError(f"{where}[{i}].name", "duplicate name", name, allowed="unique names")
        seen.add(name)


def _validate(spec: TaskSpec) -> None:
    """Every rule of a well-formed spec; the CRD's schema and CEL rules check the same bounds."""
    if not spec.image.strip():
        raise SpecError("spec.image", "is required")
    _check_image(spec.image)
    _check_names([i.name for i in spec.inputs], "spec.inputs")
    _check_names([o.name for o in spec.outputs], "spec.outputs")
    for idx, i in enumerate(spec.inputs):
        _check_input_value(spec, idx, i)
    dl = spec.data_loading
    for name, path in (("inputPath", dl.input_path), ("outputPath", dl.output_path)):
        if not posixpath.isabs(path) or posixpath.normpath(path) == "/":
            raise SpecError(f"spec.dataLoading.{name}", "must be an absolute path below /", path)
        normal = posixpath.normpath(path)
        if any(normal == k or normal.startswith(f"{k}/") for k in KERNEL_PATHS):
            raise SpecError(
                f"spec.dataLoading.{name}",
                "is in a kernel file system",
                path,
                allowed=f"a path outside {', '.join(KERNEL_PATHS)}",
            )
    if posixpath.normpath(dl.input_path) == posixpath.normpath(dl.output_path):
        raise SpecError("spec.dataLoading.outputPath", "must differ from inputPath", dl.output_path)
    _check_choice("spec.dataLoading.format", dl.format, FORMATS)
    _check_choice("spec.dataLoading.downloadMode", dl.download_mode, DOWNLOAD_MODES)
    _check_choice("spec.dataLoading.uploadMode", dl.upload_mode, UPLOAD_MODES)
    _check_choice("spec.dataLoading.fileInputLayout", dl.file_input_layout, FILE_INPUT_LAYOUTS)
    if dl.upload_mode == "none" and spec.outputs:
        raise SpecError(
            "spec.dataLoading.uploadMode",
            "uploads nothing, but spec.outputs declares outputs",
            dl.upload_mode,
            allowed="onExit or eager with outputs; none only without outputs",
        )
    backoff = spec.retries.backoff
    _check_range("spec.retries.limit", spec.retries.limit, 0, MAX_RETRIES)
    _check_range(
        "spec.retries.backoff.initialSeconds", backoff.initial_seconds, 0, MAX_BACKOFF_SECONDS
    )
    _check_range("spec.retries.backoff.factor", backoff.factor, 1, MAX_BACKOFF_FACTOR)
    _check_range("spec.retries.backoff.maxSeconds", backoff.max_seconds, 0, MAX_BACKOFF_SECONDS)
    _check_range("spec.timeoutSeconds", spec.timeout_seconds, 1, MAX_TIMEOUT_SECONDS)
    _check_range("spec.activeDeadlineSeconds", spec.active_deadline_seconds, 1, MAX_TIMEOUT_SECONDS)
    _check_range(
        "spec.ttlSecondsAfterFinished", spec.ttl_seconds_after_finished, 0, MAX_TTL_SECONDS
    )
    _check_range("spec.pendingTimeoutSeconds", spec.pending_timeout_seconds, 1, MAX_TIMEOUT_SECONDS)
    _check_range("spec.uploadTimeoutSeconds", spec.upload_timeout_seconds, 1, MAX_UPLOAD_SECONDS)
    declared = spec.input_types
    references = [
        *templating.referenced_inputs(spec.entrypoint, "spec.entrypoint"),
        *templating.referenced_inputs(spec.command, "spec.command"),
        *templating.referenced_inputs(spec.arguments, "spec.arguments"),
    ]
    for where, name in references:
        if name not in declared:
            raise SpecError(
                where,
                f"template names unknown input {name!r}",
                allowed=", ".join(declared) or "none",
            )
        if spec.inputs_uri and not declared[name].is_blob:
            raise SpecError(
                where,
                f"{{{{.inputs.{name}}}}} needs an inline value, but values come from inputsUri",
            )
    _validate_extras(spec)
    for n, env in enumerate(spec.env):
        if not isinstance(env.get("name"), str) or not env["name"]:
            raise SpecError(f"spec.env[{n}].name", "is required")
    if spec.pod_template is not None:
        podtemplate.check(spec.pod_template, primary=spec.primary_container)


def _check_image(image: str) -> None:
    """Refuse what no runtime could pull (the kubelet would report InvalidImageName)."""
    if not _IMAGE.match(image):
        raise SpecError(
            "spec.image",
            "not a valid image reference",
            image,
            allowed="[registry[:port]/]name[:tag][@digest], name in lower case "
            "(e.g. ghcr.io/org/tool:1.2)",
        )


def _check_input_value(spec: TaskSpec, idx: int, i: Input) -> None:
    where = f"spec.inputs[{idx}]"
    if spec.inputs_uri:
        if i.value is not None or i.uri is not None:
            raise SpecError(where, "has a value, but values come from spec.inputsUri")
        return
    if i.type.is_blob:
        if not i.uri:
            raise SpecError(f"{where}.uri", f"is required for a {i.type} input")
    elif i.uri is not None:
        raise SpecError(f"{where}.uri", f"only file and directory inputs take a uri, not {i.type}")
    elif i.value is None:
        raise SpecError(f"{where}.value", f"is required for a {i.type} input")


MAX_INLINE_IO_BYTES: Final = 4 * 1024 * 1024  # a resource is at most ~1.5 MiB; outputs go by file


def _validate_extras(spec: TaskSpec) -> None:
    """Fields that follow Flyte options: shm, the inline size limit, cache inputs, names."""
    _check_range("spec.maxInlineIoBytes", spec.max_inline_io_bytes, 1, MAX_INLINE_IO_BYTES)
    shm = spec.shared_memory
    if shm is not None and shm != SHARED_MEMORY_AUTO and not _QUANTITY.match(shm):
        raise SpecError(
            "spec.sharedMemory", "not a quantity", shm, allowed='"auto" or a size such as 1Gi'
        )
    declared = spec.input_types
    for i, name in enumerate(spec.cache_ignored_inputs):
        if name not in declared:
            raise SpecError(
                f"spec.cacheIgnoredInputs[{i}]",
                "names no declared input",
                name,
                allowed=", ".join(declared) or "none",
            )
    for key, value in (
        ("podTemplateName", spec.pod_template_name),
        ("primaryContainerName", spec.primary_container_name),
        ("queue", spec.queue),
        ("accelerator", spec.accelerator),
    ):
        if value is not None and not _DNS_NAME.match(value):
            raise SpecError(f"spec.{key}", "not a valid name", value, allowed=_DNS_ALLOWED)


_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?$")
_DNS_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_ALLOWED = "lower-case letters, digits, '-' and '.', alphanumeric at both ends"
