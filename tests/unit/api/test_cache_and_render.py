"""cache_key, TaskSpec.render and TaskStatus.to_dict: the parts of the model the operator adds."""

from __future__ import annotations

from typing import Any

import pytest

from containertask.api import TaskSpec, TaskStatus, crd
from containertask.api.cache import NOT_IN_KEY, cache_key

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "image": "busybox",
    "command": ["cat", "{{.inputs.f}}", "--n={{.inputs.n}}"],
    "inputs": [
        {"name": "f", "type": "file", "uri": "s3://b/data.csv"},
        {"name": "n", "type": "list[int]", "value": [1, 2]},
    ],
    "outputs": [{"name": "out", "type": "str"}],
    "cacheVersion": "1",
}


@pytest.mark.parametrize(
    ("layout", "expected"),
    [
        ("direct", ["cat", "/var/inputs/f", "--n=[1, 2]"]),
        ("namedDir", ["cat", "/var/inputs/f/data.csv", "--n=[1, 2]"]),
    ],
    ids=["direct", "named-dir"],
)
def test_render_substitutes_paths_and_values(layout: str, expected: list[str]) -> None:
    spec = TaskSpec.from_dict({**BASE, "dataLoading": {"fileInputLayout": layout}})
    assert spec.render(spec.command) == expected


def test_cache_key_is_none_without_cache_version() -> None:
    assert cache_key(TaskSpec.from_dict({**BASE, "cacheVersion": None})) is None


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({"retries": {"limit": 3}}, True),
        ({"timeoutSeconds": 5}, True),
        ({"pendingTimeoutSeconds": 5}, True),
        ({"uploadTimeoutSeconds": 5}, True),
        ({"outputLocation": "s3://elsewhere/"}, True),
        ({"cancel": True}, True),
        ({"image": "busybox:2"}, False),
        ({"command": ["cat", "{{.inputs.f}}"]}, False),
        ({"arguments": ["-v"]}, False),
        (
            {"inputs": [{**BASE["inputs"][0]}, {"name": "n", "type": "list[int]", "value": [1]}]},
            False,
        ),
        ({"outputs": [{"name": "out", "type": "int"}]}, False),
        ({"cacheVersion": "2"}, False),
        ({"env": [{"name": "MODE", "value": "slow"}]}, False),
        ({"resources": {"limits": {"memory": "1Gi"}}}, False),
        ({"podTemplate": {"spec": {"runtimeClassName": "gvisor"}}}, False),
        ({"serviceAccountName": "reader"}, False),
        ({"nodeSelector": {"kubernetes.io/arch": "arm64"}}, False),
        ({"tolerations": [{"key": "gpu", "operator": "Exists"}]}, False),
        ({"dataLoading": {"format": "YAML"}}, False),
    ],
    ids=[
        "retries",
        "timeout",
        "pending-timeout",
        "upload-timeout",
        "output-location",
        "cancel",
        "image",
        "command",
        "arguments",
        "inputs",
        "outputs",
        "version",
        "env",
        "resources",
        "pod-template",
        "service-account",
        "node-selector",
        "tolerations",
        "data-loading",
    ],
)
def test_cache_key_covers_what_decides_outputs(change: dict[str, Any], same: bool) -> None:
    base = cache_key(TaskSpec.from_dict(BASE))
    assert (cache_key(TaskSpec.from_dict({**BASE, **change})) == base) is same


def test_every_spec_field_is_in_the_key_or_left_out_on_purpose() -> None:
    assert set(crd.spec_schema()["properties"]) >= NOT_IN_KEY


def test_status_round_trips() -> None:
    data = {
        "phase": "Succeeded",
        "reason": "Succeeded",
        "attempts": [{"number": 1, "pod": "t-1", "exitCode": 0}],
        "outputs": {"out": "x"},
        "storedOutputs": ["big"],
        "outputsUri": "s3://b/o/outputs.pb",
        "conditions": [{"type": "Succeeded", "status": "True"}],
    }
    assert TaskStatus.from_dict(data).to_dict() == data
