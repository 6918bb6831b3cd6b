"""The CRD, its copy in the Helm chart and the model must not drift apart."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from containertask.api import crd
from containertask.api.spec import TaskSpec

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD_FILE = ROOT / "crds" / "containertask.io_containertasks.yaml"
CHART_COPY = ROOT / "charts" / "containertask" / "crds" / CRD_FILE.name

FULL_SPEC: dict[str, Any] = {
    "image": "busybox:1.36",
    "command": ["sh", "-c", "cat {{.inputs.data}} > /var/outputs/out"],
    "arguments": ["{{.inputs.n}}"],
    "inputs": [
        {"name": "n", "type": "int", "value": 3},
        {"name": "data", "type": "file", "uri": "s3://bucket/data.csv"},
    ],
    "outputs": [{"name": "out", "type": "file"}],
    "dataLoading": {
        "inputPath": "/in",
        "outputPath": "/out",
        "format": "YAML",
        "downloadMode": "eager",
        "uploadMode": "onExit",
        "fileInputLayout": "namedDir",
    },
    "outputLocation": "s3://bucket/runs/",
    "retries": {"limit": 2, "backoff": {"initialSeconds": 1, "factor": 3.0, "maxSeconds": 60}},
    "timeoutSeconds": 600,
    "activeDeadlineSeconds": 3600,
    "ttlSecondsAfterFinished": 86400,
    "pendingTimeoutSeconds": 120,
    "uploadTimeoutSeconds": 60,
    "cacheVersion": "v1",
    "resources": {
        "limits": {"memory": "1Gi"},
        "requests": {"cpu": "1"},
        "claims": [{"name": "gpu"}],
    },
    "env": [
        {"name": "MODE", "value": "fast"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    ],
    "serviceAccountName": "runner",
    "nodeSelector": {"pool": "batch"},
    "tolerations": [
        {
            "key": "batch",
            "operator": "Equal",
            "value": "yes",
            "effect": "NoExecute",
            "tolerationSeconds": 60,
        }
    ],
    "podTemplate": {
        "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {"priorityClassName": "batch"},
    },
    "cancel": True,
}


def test_committed_crd_is_generated_from_the_model() -> None:
    assert CRD_FILE.read_text() == crd.render_yaml(), "run hack/generate-crds"


def test_chart_carries_the_same_crd() -> None:
    assert CHART_COPY.read_text() == CRD_FILE.read_text(), "run hack/generate-crds"


def _schema_paths(schema: Mapping[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of every property the schema declares (list items as ``[]``)."""
    paths = set()
    for key, sub in schema.get("properties", {}).items():
        path = f"{prefix}.{key}" if prefix else key
        paths.add(path)
        paths |= _schema_paths(sub, path)
        if "items" in sub:
            paths |= _schema_paths(sub["items"], f"{path}[]")
    return paths


def _data_paths(data: Any, prefix: str = "", schema: Mapping[str, Any] | None = None) -> set[str]:
    """Dotted paths of ``data``, descending only where the schema has fixed properties."""
    paths: set[str] = set()
    if isinstance(data, Mapping) and schema is not None and "properties" in schema:
        open_object = schema.get("x-kubernetes-preserve-unknown-fields", False)
        for key, value in data.items():
            if open_object and key not in schema["properties"]:
                continue  # passed through to Kubernetes unchanged
            path = f"{prefix}.{key}" if prefix else key
            paths.add(path)
            paths |= _data_paths(value, path, schema["properties"].get(key))
    elif isinstance(data, list) and schema is not None and "items" in schema:
        for value in data:
            paths |= _data_paths(value, f"{prefix}[]", schema["items"])
    return paths


# Values come inline or from inputsUri, never both: together the two specs use every field.
FROM_URI_SPEC: dict[str, Any] = {
    **FULL_SPEC,
    "command": ["cat", "{{.inputs.data}}"],
    "arguments": [],
    "inputs": [{"name": "n", "type": "int"}, {"name": "data", "type": "file"}],
    "inputsUri": "s3://bucket/in/inputs.pb",
}


def _round_trip_paths(schema: Mapping[str, Any]) -> set[str]:
    return {
        path
        for spec in (FULL_SPEC, FROM_URI_SPEC)
        for path in _data_paths(TaskSpec.from_dict(spec).to_dict(), schema=schema)
    }


def test_every_field_the_model_writes_is_in_the_schema() -> None:
    schema = crd.spec_schema()
    assert _round_trip_paths(schema) <= _schema_paths(schema)


def test_every_field_the_schema_declares_is_read_and_written_by_the_model() -> None:
    schema = crd.spec_schema()
    assert _schema_paths(schema) - _round_trip_paths(schema) == set()


def test_schema_enums_are_the_models_choices() -> None:
    dl = crd.spec_schema()["properties"]["dataLoading"]["properties"]
    spec = TaskSpec.from_dict(FULL_SPEC)
    assert spec.data_loading.format in dl["format"]["enum"]
    assert set(dl["fileInputLayout"]["enum"]) == {"direct", "namedDir"}
    assert set(dl["format"]["enum"]) == {"JSON", "YAML", "PROTO"}


def test_every_field_but_cancel_is_immutable() -> None:
    schema = crd.spec_schema()
    rules = {
        r.get("fieldPath"): r for r in schema["x-kubernetes-validations"] if "oldSelf" in r["rule"]
    }
    assert set(rules) == {f".{name}" for name in schema["properties"]}
    assert "spec.inputs cannot change" in rules[".inputs"]["message"]
    assert rules[".cancel"]["message"] == "spec.cancel cannot be undone"


def _open_objects(schema: Mapping[str, Any], path: str = "spec") -> list[str]:
    """Paths of objects that keep unknown keys: CEL compares those only by the keys both sides
    have, so they must not appear in the spec (untyped values are compared whole)."""
    found = []
    if schema.get("type") == "object" and schema.get("x-kubernetes-preserve-unknown-fields"):
        found.append(path)
    for key, sub in schema.get("properties", {}).items():
        found += _open_objects(sub, f"{path}.{key}")
    if "items" in schema:
        found += _open_objects(schema["items"], f"{path}[]")
    return found


def test_the_spec_has_no_open_objects_that_cel_compares_by_common_keys() -> None:
    assert _open_objects(crd.spec_schema()) == []
