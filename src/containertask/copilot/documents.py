"""The value documents beside the data: ``inputs.pb``/``outputs.pb`` (a flyteidl2 LiteralMap) and,
per the task's format, ``inputs.json``/``inputs.yaml`` (the same values in their JSON form)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from containertask.api.types import TypeRef
from containertask.api.values import to_json, to_literal_map


def encode(
    base: str, types: Mapping[str, TypeRef], values: Mapping[str, Any], fmt: str
) -> dict[str, bytes]:
    """``{file name: content}`` for ``base`` (``inputs`` or ``outputs``): always ``<base>.pb``,
    plus ``<base>.json`` or ``<base>.yaml`` for the JSON and YAML formats."""
    docs = {f"{base}.pb": to_literal_map(types, values).SerializeToString(deterministic=True)}
    plain = {name: to_json(types[name], value) for name, value in values.items()}
    if fmt == "JSON":
        docs[f"{base}.json"] = json.dumps(plain, indent=2, sort_keys=True).encode()
    elif fmt == "YAML":
        docs[f"{base}.yaml"] = yaml.safe_dump(plain, sort_keys=True).encode()
    return docs
