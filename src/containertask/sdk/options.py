"""The keyword options of a ContainerTask (Flyte's names and classes), turned into TaskSpec fields.

Each option has one converter; the values themselves are checked by ``TaskSpec`` (bounds, names),
so this module only translates shapes: ``Resources`` into requests/limits, an accelerator and
/dev/shm; ``RetryStrategy`` into ``Retries``; ``Timeout`` or seconds into ``timeoutSeconds``;
``Secret`` into env vars or files; ``PodTemplate`` into the resource's podTemplate.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final, Literal

from containertask.api.constants import MAIN_CONTAINER
from containertask.api.errors import SpecError
from containertask.api.spec import DEFAULT_PRIMARY_CONTAINER, Backoff, Retries

Quantity = str | int | float

# What ``image="auto"`` and ``Image.from_debian_base()`` run: Flyte's default image is a Debian
# (bookworm) base; a raw container needs nothing else in it.
DEFAULT_IMAGE: Final = "docker.io/library/debian:bookworm-slim"
GPU_RESOURCE: Final = "nvidia.com/gpu"
# flyte-sdk's names of accelerators (``gpu="T4:1"``) and the node label values they select.
ACCELERATORS: Final = {
    "A100": "nvidia-tesla-a100",
    "A100 80G": "nvidia-a100-80gb",
    "A10": "nvidia-a10",
    "A10G": "nvidia-a10g",
    "A100G": "nvidia-a100g",
    "L4": "nvidia-l4",
    "L40s": "nvidia-l40s",
    "L4_VWS": "nvidia-l4-vws",
    "K80": "nvidia-tesla-k80",
    "M60": "nvidia-tesla-m60",
    "P4": "nvidia-tesla-p4",
    "P100": "nvidia-tesla-p100",
    "T4": "nvidia-tesla-t4",
    "V100": "nvidia-tesla-v100",
}
SECRETS_DIR: Final = "/etc/flyte/secrets"  # where Flyte mounts file secrets
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


@dataclass(frozen=True)
class Image:
    """A container image by reference: ``Image.from_base("ghcr.io/org/tool:1.2")``."""

    uri: str

    @classmethod
    def from_base(cls, image_uri: str) -> Image:
        return cls(image_uri)

    @classmethod
    def from_debian_base(cls, *_: Any, **__: Any) -> Image:
        """The default image (Flyte builds a Python image on Debian; a raw container needs none)."""
        return cls(DEFAULT_IMAGE)

    def __str__(self) -> str:
        return self.uri


def image_uri(image: Any) -> str:
    """An image as a string: ``"auto"`` is the default image; an object with ``uri``,
    ``image_uri`` or ``base_image`` (Flyte's Image) gives that."""
    if isinstance(image, str):
        return DEFAULT_IMAGE if image == "auto" else image
    for attribute in ("uri", "image_uri", "base_image"):
        value = getattr(image, attribute, None)
        if isinstance(value, str) and value:
            return value
    return str(image)


@dataclass(frozen=True)
class Resources:
    """Flyte's resources. A single value is both request and limit (as Flyte's backend ends up
    setting it); a ``(request, limit)`` pair sets each. ``gpu``: a count, or ``"T4:1"`` (an
    accelerator and a count); ``disk``: ephemeral storage; ``shm``: a memory-backed /dev/shm of
    that size (``"auto"``: no limit)."""

    cpu: Quantity | tuple[Quantity, Quantity] | None = None
    memory: str | tuple[str, str] | None = None
    gpu: int | str | None = None
    disk: str | None = None
    shm: str | None = None

    def to_dict(self) -> dict[str, dict[str, str]]:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for name, value in (
            ("cpu", self.cpu),
            ("memory", self.memory),
            ("ephemeral-storage", self.disk),
        ):
            if isinstance(value, tuple):
                requests[name], limits[name] = (str(v) for v in value)
            elif value is not None:
                requests[name] = limits[name] = str(value)
        count, _ = self.gpu_device()
        if count is not None:
            requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(count)
        return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}

    def gpu_device(self) -> tuple[int | None, str | None]:
        """The GPU count and the accelerator's node label value (None when not named)."""
        gpu = self.gpu
        if gpu is None:
            return None, None
        if isinstance(gpu, int) and not isinstance(gpu, bool) and gpu >= 0:
            return gpu, None
        if isinstance(gpu, str):
            device, _, count = gpu.rpartition(":")
            if device in ACCELERATORS and count.isdigit():
                return int(count), ACCELERATORS[device]
        raise SpecError(
            "resources.gpu",
            "not a GPU request",
            gpu,
            allowed=f"a count, or DEVICE:COUNT with DEVICE one of {', '.join(ACCELERATORS)}",
        )


@dataclass(frozen=True)
class RetryStrategy:
    """``count`` retries after the first attempt, waiting ``backoff * backoff_factor**(n-1)``
    seconds (at most ``max_backoff``) before retry n."""

    count: int
    backoff: float | timedelta = 5
    backoff_factor: float = 2.0
    max_backoff: float | timedelta = 300


@dataclass(frozen=True)
class Timeout:
    """``max_runtime``: the whole task, Pending time included; ``max_queued_time``: Pending only."""

    max_runtime: int | timedelta | None = None
    max_queued_time: int | timedelta | None = None


@dataclass(frozen=True)
class Secret:
    """Flyte's secret: key ``key`` of the Kubernetes Secret ``group`` (or, with no group, of the
    Secret named ``key``). Exposed as environment variable ``as_env_var`` (default, as in Flyte:
    ``KEY`` or ``GROUP_KEY`` upper-cased, ``-`` as ``_``), or with ``mount="/etc/flyte/secrets"``
    as the file ``/etc/flyte/secrets/<group>/<key>``."""

    key: str
    group: str | None = None
    mount: str | os.PathLike[str] | None = None
    as_env_var: str | None = None

    @property
    def secret_name(self) -> str:
        return self.group or self.key

    @property
    def env_var(self) -> str | None:
        if self.as_env_var:
            return self.as_env_var
        if self.mount:
            return None
        return (f"{self.group}_{self.key}" if self.group else self.key).replace("-", "_").upper()

    @property
    def file_path(self) -> str:
        return posixpath.join(SECRETS_DIR, *([self.group] if self.group else []), self.key)


@dataclass(frozen=True)
class PodTemplate:
    """Flyte's pod template: ``pod_spec`` (a kubernetes ``V1PodSpec`` or a dict) whose container
    named ``primary_container_name`` is merged into the task's container, plus pod labels and
    annotations."""

    pod_spec: Any = None
    primary_container_name: str = DEFAULT_PRIMARY_CONTAINER
    labels: Mapping[str, str] | None = None
    annotations: Mapping[str, str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        metadata = {
            k: dict(v) for k, v in (("labels", self.labels), ("annotations", self.annotations)) if v
        }
        if metadata:
            out["metadata"] = metadata
        if self.pod_spec is not None:
            out["spec"] = _plain_pod_spec(self.pod_spec)
        return out


def _plain_pod_spec(pod_spec: Any) -> dict[str, Any]:
    if isinstance(pod_spec, Mapping):
        return dict(pod_spec)
    from kubernetes.client import ApiClient  # only for V1PodSpec objects

    plain = ApiClient().sanitize_for_serialization(pod_spec)  # type: ignore[no-untyped-call]
    if not isinstance(plain, dict):
        raise SpecError("pod_template.pod_spec", "not a pod spec", pod_spec)
    return plain


CacheBehavior = Literal["auto", "override", "disable"]
_CACHE_ALIASES: Final[dict[str, CacheBehavior]] = {
    "auto": "auto",
    "override": "override",
    "disable": "disable",
    **dict.fromkeys(("enable", "enabled", "on", "true", "yes"), "auto"),
    **dict.fromkeys(("off", "false", "no", "none"), "disable"),
}


@dataclass(frozen=True)
class Cache:
    """Flyte's cache setting. ``auto``: the version is a hash of the definition (image, command,
    arguments, interface, ...); ``override``: ``version_override`` is the version; ``disable``:
    no caching. ``serialize``: identical tasks run one at a time, the others reuse the result;
    ``ignored_inputs`` are left out of the cache key; ``salt`` makes a separate cache."""

    behavior: str
    version_override: str | None = None
    serialize: bool = False
    ignored_inputs: tuple[str, ...] | str = ()
    salt: str = ""
    policies: Any = None

    @property
    def mode(self) -> CacheBehavior:
        mode = _CACHE_ALIASES.get(str(self.behavior).lower())
        if mode is None:
            raise SpecError(
                "cache.behavior",
                "not a cache behavior",
                self.behavior,
                allowed=f"{', '.join(sorted(set(_CACHE_ALIASES.values())))} (or an alias)",
            )
        if mode == "override" and not self.version_override:
            raise SpecError(
                "cache.version_override", 'is required with behavior "override"', allowed="a string"
            )
        return mode

    @property
    def ignored(self) -> tuple[str, ...]:
        names = self.ignored_inputs
        return (names,) if isinstance(names, str) else tuple(names)


def cache(value: Any) -> Cache:
    """``cache=``: True/False, a behavior (``"auto"``, ``"override"``, ``"disable"``), or Cache."""
    if isinstance(value, Cache):
        return value
    if value is None or value is False:
        return Cache("disable")
    if value is True:
        return Cache("auto")
    if isinstance(value, str):
        return Cache(value)
    raise SpecError(
        "cache",
        "not a cache setting",
        value,
        allowed='True, False, "auto", "override", "disable" or Cache(...)',
    )


def seconds(value: Any, field: str) -> int:
    """Whole seconds of an int or a timedelta (fractions round up); bounds are TaskSpec's job."""
    if isinstance(value, timedelta):
        return math.ceil(value.total_seconds())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SpecError(field, "must be whole seconds (int) or a timedelta", value)


def resources(value: Any) -> dict[str, Any]:
    """``resources``, ``accelerator`` and ``shared_memory`` spec fields."""
    if isinstance(value, Resources):
        _, accelerator = value.gpu_device()
        return {
            "resources": value.to_dict() or None,
            "accelerator": accelerator,
            "shared_memory": value.shm,
        }
    if isinstance(value, Mapping) and set(value) <= {"requests", "limits", "claims"}:
        return {"resources": value}
    raise SpecError(
        "resources",
        "not a resources value",
        value,
        allowed="Resources(cpu=, memory=, gpu=, disk=, shm=) or a dict with requests/limits",
    )


def retries(value: Any) -> Retries:
    if isinstance(value, Retries):
        return value
    if isinstance(value, RetryStrategy):
        return Retries(
            limit=value.count,
            backoff=Backoff(
                initial_seconds=_whole(value.backoff, "retries.backoff"),
                factor=value.backoff_factor,
                max_seconds=_whole(value.max_backoff, "retries.max_backoff"),
            ),
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return Retries(limit=value)
    raise SpecError("retries", "not a retry count", value, allowed="an int or RetryStrategy")


def _whole(value: float | timedelta, field: str) -> int:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return math.ceil(value)
    return seconds(value, field)


def timeouts(value: Any) -> dict[str, int]:
    """``timeoutSeconds`` (and ``pendingTimeoutSeconds`` for a Timeout with a queue limit)."""
    if isinstance(value, Timeout):
        out = {}
        if value.max_runtime is not None:
            out["timeout_seconds"] = seconds(value.max_runtime, "timeout.max_runtime")
        if value.max_queued_time is not None:
            out["pending_timeout_seconds"] = seconds(
                value.max_queued_time, "timeout.max_queued_time"
            )
        return out
    return {"timeout_seconds": seconds(value, "timeout")}


def secrets(value: Any) -> list[Secret]:
    """Flyte's ``SecretRequest``: a key, a Secret, or a list of them. ``"group/key"`` names a
    key of a Kubernetes Secret in one string."""
    items = [value] if isinstance(value, str | Secret) else value
    if not isinstance(items, Sequence):
        raise SpecError("secrets", "not a secret request", value, allowed=_SECRET_ALLOWED)
    return [_secret(item, f"secrets[{i}]") for i, item in enumerate(items)]


_SECRET_ALLOWED: Final = 'a key such as "api-key", "group/key", Secret(key=..., ...) or a list'


def _secret(ref: Any, where: str) -> Secret:
    if isinstance(ref, str) and ref and ref.count("/") <= 1 and all(ref.split("/")):
        group, _, key = ref.rpartition("/")
        ref = Secret(key=key, group=group or None)
    if not isinstance(ref, Secret):
        raise SpecError(where, "not a secret reference", ref, allowed=_SECRET_ALLOWED)
    if ref.mount is not None and os.fspath(ref.mount) != SECRETS_DIR:
        raise SpecError(f"{where}.mount", "not a secret mount path", ref.mount, allowed=SECRETS_DIR)
    env_var = ref.env_var
    if env_var is not None and not _ENV_NAME.match(env_var):
        raise SpecError(
            f"{where}.as_env_var",
            "not an environment variable name",
            env_var,
            allowed="[A-Z_][A-Z0-9_]*",
        )
    return ref


def env(env_vars: Any, secret_list: Sequence[Secret]) -> tuple[dict[str, Any], ...]:
    """Environment variables, then env-var secrets as ``valueFrom.secretKeyRef``; names unique."""
    if not isinstance(env_vars, Mapping):
        raise SpecError("env_vars", "must be a dict of names to strings", env_vars)
    out: list[dict[str, Any]] = []
    for name, value in env_vars.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise SpecError(f"env_vars[{name!r}]", "names and values must be strings", value)
        out.append({"name": name, "value": value})
    for secret in secret_list:
        if secret.env_var is not None:
            ref = {"name": secret.secret_name, "key": secret.key}
            out.append({"name": secret.env_var, "valueFrom": {"secretKeyRef": ref}})
    seen: set[str] = set()
    for entry in out:
        if entry["name"] in seen:
            raise SpecError("env_vars", "environment variable set twice", entry["name"])
        seen.add(entry["name"])
    return tuple(out)


def secret_files(secret_list: Sequence[Secret], container: str) -> dict[str, Any]:
    """A pod template that mounts each file secret at ``/etc/flyte/secrets/[<group>/]<key>`` in
    ``container``."""
    mounted = [s for s in secret_list if s.env_var is None]
    if not mounted:
        return {}
    volumes, mounts = [], []
    for i, secret in enumerate(mounted):
        name = f"secret-{i}"
        item = {"key": secret.key, "path": secret.key}
        volumes.append(
            {"name": name, "secret": {"secretName": secret.secret_name, "items": [item]}}
        )
        mounts.append(
            {"name": name, "mountPath": secret.file_path, "subPath": secret.key, "readOnly": True}
        )
    return {
        "spec": {
            "volumes": volumes,
            "containers": [{"name": container, "volumeMounts": mounts}],
        }
    }


@dataclass(frozen=True)
class _Template:
    """``pod_template`` as spec fields: a template to merge, a PodTemplate name, the primary."""

    template: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    primary: str | None = None


def pod_template(value: Any) -> _Template:
    if isinstance(value, PodTemplate):
        return _Template(value.to_dict(), primary=value.primary_container_name)
    if isinstance(value, str) and value:
        return _Template(name=value)
    if isinstance(value, Mapping):
        return _Template(dict(value))
    raise SpecError(
        "pod_template",
        "not a pod template",
        value,
        allowed="PodTemplate(pod_spec=...), the name of a Kubernetes PodTemplate, or a dict",
    )


def _merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``extra`` merged into ``base``: mappings key by key, lists of named items by name."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            by_name = {item.get("name"): item for item in old if isinstance(item, Mapping)}
            merged = list(old)
            for item in value:
                same = by_name.get(item.get("name"))
                if same is not None:
                    merged[merged.index(same)] = _merge(same, item)
                else:
                    merged.append(item)
            out[key] = merged
        else:
            out[key] = value
    return out


def _check(option: str, value: Any, kind: Any, what: str) -> Any:
    if not isinstance(value, kind):
        raise SpecError(option, f"must be {what}", value)
    return value


def spec_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """TaskSpec keyword arguments for the spec options among ``options`` (see SPEC_OPTIONS)."""
    out: dict[str, Any] = {}
    template = _Template()
    for option, value in options.items():
        if value is None:
            continue
        match option:
            case "resources":
                out.update(resources(value))
            case "retries":
                out["retries"] = retries(value)
            case "timeout":
                out.update(timeouts(value))
            case "upload_timeout":
                out["upload_timeout_seconds"] = seconds(value, option)
            case "env_vars" | "secrets":
                pass  # combined below: they share spec.env
            case "pod_template":
                template = pod_template(value)
            case "node_selector":
                out[option] = _check(option, value, Mapping, "a dict")
            case "tolerations":
                out["tolerations"] = tuple(_check(option, value, list | tuple, "a list"))
            case "output_location":
                out["output_location"] = _check(option, value, str, "a URI string")
            case "service_account":
                out["service_account_name"] = _check(option, value, str, "a string")
            case "entrypoint":
                out["entrypoint"] = tuple(strings(value, option))
            case "queue":
                out["queue"] = _check(option, value, str, "a string (a Kueue LocalQueue)")
            case "interruptible":
                out["interruptible"] = _check(option, value, bool, "True or False")
            case "max_inline_io_bytes":
                out["max_inline_io_bytes"] = _check(option, value, int, "a number of bytes")
    secret_list = secrets(options.get("secrets") or ())
    out["env"] = env(options.get("env_vars") or {}, secret_list)
    # File secrets are mounted into the primary container, which the operator merges into its own.
    files = secret_files(secret_list, template.primary or MAIN_CONTAINER)
    out["pod_template"] = _merge(template.template, files) or None
    out["pod_template_name"] = template.name
    out["primary_container_name"] = template.primary
    return out


def strings(value: Any, field: str) -> list[str]:
    """A command line: one string (split like a shell) or a list of strings; an item that is not
    a string is an error naming its index."""
    if isinstance(value, str):
        return shlex.split(value)
    if isinstance(value, Path) or not isinstance(value, Sequence):
        raise SpecError(field, "must be a list of strings or one string", value)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise SpecError(
                f"{field}[{i}]",
                f"must be a string, not {type(item).__name__}",
                item,
                allowed="strings; write numbers as text, e.g. str(3)",
            )
    return list(value)


SPEC_OPTIONS: Final = (
    "resources",
    "retries",
    "timeout",
    "upload_timeout",
    "env_vars",
    "secrets",
    "pod_template",
    "node_selector",
    "tolerations",
    "output_location",
    "service_account",
    "entrypoint",
    "queue",
    "interruptible",
    "max_inline_io_bytes",
)
