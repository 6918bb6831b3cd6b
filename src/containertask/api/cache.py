"""The cache key of a task: what makes two executions interchangeable.

Two ContainerTasks with the same key (image, entrypoint, command, arguments, inputs but those in
cacheIgnoredInputs, outputs, cacheVersion)
compute the same outputs, so the operator may answer the second from the first. The SDK uses the
same function to predict a cache hit.
"""

from __future__ import annotations

import hashlib
import json

from containertask.api.spec import TaskSpec


def cache_key(spec: TaskSpec) -> str | None:
    """A hex SHA-256 of the parts of ``spec`` that decide its outputs; None when caching is off
    (no ``cacheVersion``)."""
    if not spec.cache_version:
        return None
    whole = spec.to_dict()
    keys = ("image", "entrypoint", "command", "arguments", "inputs", "outputs")
    parts = {k: whole.get(k) for k in keys}
    ignored = set(spec.cache_ignored_inputs)  # Flyte's Cache(ignored_inputs=...)
    parts["inputs"] = [i for i in parts["inputs"] or () if i["name"] not in ignored]
    parts["inputsUri"] = spec.inputs_uri
    parts["cacheVersion"] = spec.cache_version
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
