"""Deterministic names: a task's pods, its label values and each attempt's output prefix.

Deterministic pod names (``<task>-<attempt>``) are what make reconciling idempotent: a restarted
operator finds the pod it may already have created instead of creating a second one.
"""

from __future__ import annotations

import hashlib
from typing import Final

MANAGER: Final = "containertask"
MAX_POD_NAME: Final = 63  # pod names become hostnames, which are DNS labels
MAX_LABEL_VALUE: Final = 63
_HASH_LENGTH: Final = 8


def _shorten(text: str, limit: int) -> str:
    """``text`` if it fits ``limit``, else a prefix plus a hash of the whole, so distinct long
    names stay distinct."""
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    prefix = text[: limit - _HASH_LENGTH - 1].rstrip("-.")
    return f"{prefix}-{digest}"


def pod_name(task: str, attempt: int) -> str:
    """``<task>-<attempt>``; a long task name is cut and hashed so the pod name fits 63 chars."""
    suffix = f"-{attempt}"
    return _shorten(task, MAX_POD_NAME - len(suffix)) + suffix


def label_value(name: str) -> str:
    """A resource name as a label value (at most 63 chars; resource names are already in the
    allowed alphabet)."""
    return _shorten(name, MAX_LABEL_VALUE)


def output_prefix(
    location: str | None, namespace: str, task: str, uid: str, attempt: int
) -> str | None:
    """``<location>/<namespace>/<task>/<uid>/attempt-<n>/``: each attempt writes under its own
    prefix, so a failed attempt's partial files are never taken for results."""
    if not location:
        return None
    return f"{location.rstrip('/')}/{namespace}/{task}/{uid}/attempt-{attempt}/"
