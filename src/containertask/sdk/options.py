"""The keyword options of a ContainerTask (Flyte's names), turned into TaskSpec fields.

Each option has one converter; the values themselves are checked by ``TaskSpec`` (bounds, names),
so this module only translates shapes: ``Resources`` into requests/limits, ``RetryStrategy`` into
``Retries``, ``Timeout`` or seconds into ``timeoutSeconds``, env vars and secrets into ``env``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from containertask.api.errors import SpecError
from containertask.api.spec import Backoff, Retries

Quantity = str | int | float


@dataclass(frozen=True)
class Image:
    """A container image by reference; ``containertask.Image("ghcr.io/org/tool:1.2")``."""

    uri: str

    def __str__(self) -> str:
        return self.uri


@dataclass(frozen=True)
class Resources:
    """CPU, memory and GPUs. A single value is the request; a ``(request, limit)`` pair sets both.
    GPUs (``nvidia.com/gpu``) are extended resources, so they are set as limits."""

    cpu: Quantity | tuple[Quantity, Quantity] | None = None
    memory: str | tuple[str, str] | None = None
    gpu: int | None = None

    def to_dict(self) -> dict[str, dict[str, str]]:
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for name, value in (("cpu", self.cpu), ("memory", self.memory)):
            if isinstance(value, tuple):
                requests[name], limits[name] = (str(v) for v in value)
            elif value is not None:
                requests[name] = str(value)
        if self.gpu is not None:
            limits["nvidia.com/gpu"] = str(self.gpu)
        return {k: v for k, v in (("requests", requests), ("limits", limits)) if v}


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
    """Key ``key`` of the Kubernetes Secret ``name``, exposed as environment variable
    ``as_env_var`` (default: the key upper-cased, other characters as ``_``)."""

    name: str
    key: str
    as_env_var: str | None = None

    @property
    def env_var(self) -> str:
        return self.as_env_var or re.sub(r"[^A-Z0-9_]", "_", self.key.upper())


def seconds(value: Any, field: str) -> int:
    """Whole seconds of an int or a timedelta (fractions round up); bounds are TaskSpec's job."""
    if isinstance(value, timedelta):
        return math.ceil(value.total_seconds())
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise SpecError(field, "must be whole seconds (int) or a timedelta", value)


def resources(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Resources):
        return value.to_dict()
    if isinstance(value, Mapping) and set(value) <= {"requests", "limits", "claims"}:
        return value
    raise SpecError(
        "resources",
        "not a resources value",
        value,
        allowed="Resources(cpu=, memory=, gpu=) or a dict with requests/limits",
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


def env(env_vars: Any, secrets: Any) -> tuple[dict[str, Any], ...]:
    """Environment variables, then secrets as ``valueFrom.secretKeyRef``; names must be unique."""
    if not isinstance(env_vars, Mapping):
        raise SpecError("env_vars", "must be a dict of names to strings", env_vars)
    out: list[dict[str, Any]] = []
    for name, value in env_vars.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise SpecError(f"env_vars[{name!r}]", "names and values must be strings", value)
        out.append({"name": name, "value": value})
    if isinstance(secrets, str | Secret):
        secrets = [secrets]
    for i, ref in enumerate(secrets):
        secret = _secret(ref, f"secrets[{i}]")
        out.append(
            {
                "name": secret.env_var,
                "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
            }
        )
    seen: set[str] = set()
    for entry in out:
        if entry["name"] in seen:
            raise SpecError("env_vars", "environment variable set twice", entry["name"])
        seen.add(entry["name"])
    return tuple(out)


def _secret(ref: Any, field: str) -> Secret:
    """A Secret, or its short form ``"name/key"``."""
    if isinstance(ref, Secret):
        return ref
    if isinstance(ref, str) and ref.count("/") == 1 and all(ref.split("/")):
        name, key = ref.split("/")
        return Secret(name, key)
    raise SpecError(field, "not a secret reference", ref, allowed='Secret(name, key) or "name/key"')


def _check(option: str, value: Any, kind: Any, what: str) -> Any:
    if not isinstance(value, kind):
        raise SpecError(option, f"must be {what}", value)
    return value


def spec_fields(options: Mapping[str, Any]) -> dict[str, Any]:
    """TaskSpec keyword arguments for the spec options among ``options`` (see SPEC_OPTIONS)."""
    out: dict[str, Any] = {}
    for option, value in options.items():
        if value is None:
            continue
        match option:
            case "resources":
                out["resources"] = resources(value)
            case "retries":
                out["retries"] = retries(value)
            case "timeout":
                out.update(timeouts(value))
            case "upload_timeout":
                out["upload_timeout_seconds"] = seconds(value, option)
            case "env_vars" | "secrets":
                pass  # combined below: they share spec.env
            case "pod_template" | "node_selector":
                out[option] = _check(option, value, Mapping, "a dict")
            case "tolerations":
                out["tolerations"] = tuple(_check(option, value, list | tuple, "a list"))
            case "output_location":
                out["output_location"] = _check(option, value, str, "a URI string")
            case "service_account":
                out["service_account_name"] = _check(option, value, str, "a string")
    out["env"] = env(options.get("env_vars") or {}, options.get("secrets") or ())
    return out


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
)
