"""The cache key of a task: what makes two executions interchangeable.

Two ContainerTasks with the same key compute the same outputs, so the operator may answer the
second from the first. The key covers every field that shapes the pod or what the program reads
(image, command, arguments, env, resources, podTemplate, service account, scheduling, inputs,
outputs, data loading, cacheVersion); only the fields listed in :data:`NOT_IN_KEY` are left out,
so a field added to the spec later is in the key unless someone decides otherwise. The SDK uses
the same function to predict a cache hit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Final

from containertask.api.spec import TaskSpec

# Fields that decide when, how often or where an execution runs and is stored, not what it
# computes.
NOT_IN_KEY: Final = frozenset(
    {
        "retries",
        "timeoutSeconds",
        "pendingTimeoutSeconds",
        "uploadTimeoutSeconds",
        "outputLocation",
        "cancel",
    }
)


def cache_key(spec: TaskSpec) -> str | None:
    """A hex SHA-256 of the parts of ``spec`` that decide its outputs; None when caching is off
    (no ``cacheVersion``)."""
    if not spec.cache_version:
        return None
    parts = {k: v for k, v in spec.to_dict().items() if k not in NOT_IN_KEY}
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
