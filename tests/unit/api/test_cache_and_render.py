"""cache_key, TaskSpec.render and TaskStatus.to_dict: the parts of the model the operator adds."""

from __future__ import annotations

from typing import Any

import pytest

from containertask.api import SpecError, TaskSpec, TaskStatus, crd
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
    assert spec.render(spec.command, RUNTIME) == expected


RUNTIME = TaskSpec(image="x").runtime_values("s3://b/runs/ns/t/uid/1", "t-1")


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{.inputs.n}}", "[1, 2]"),
        ("{{.Inputs.n}}", "[1, 2]"),
        ("{{ $inputs.n }}", "[1, 2]"),
        ("{{$INPUTS.f}}", "/var/inputs/f"),
        ("{{.input}}", "/var/inputs/inputs.pb"),
        ("{{.Input}}", "/var/inputs/inputs.pb"),
        ("{{.inputPrefix}}", "/var/inputs"),
        ("{{.outputPrefix}}", "s3://b/runs/ns/t/uid/1"),
        ("{{ .OutputPrefix }}", "s3://b/runs/ns/t/uid/1"),
        ("{{.rawOutputDataPrefix}}", "s3://b/runs/ns/t/uid/1/raw"),
        ("{{.perRetryUniqueKey}}", "t-1"),
        ("x={{.inputs.n}};k={{$perretryuniquekey}}", "x=[1, 2];k=t-1"),
    ],
)
def test_every_flyte_spelling_renders(template: str, rendered: str) -> None:
    """flyteplugins template.go: case-insensitive, '.' or '$', spaces inside the braces."""
    spec = TaskSpec.from_dict({**BASE, "command": [template]})
    assert spec.render(spec.command, RUNTIME) == [rendered]


def test_input_templates_follow_inputs_uri() -> None:
    spec = TaskSpec.from_dict(
        {
            "image": "x",
            "command": ["{{.input}}", "{{.inputPrefix}}"],
            "inputs": [{"name": "n", "type": "int"}],
            "inputsUri": "s3://b/in/inputs.pb",
        }
    )
    runtime = spec.runtime_values("s3://b/out", "k")
    assert spec.render(spec.command, runtime) == ["s3://b/in/inputs.pb", "s3://b/in"]


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{.inputs.nope}}", "unknown input 'nope'"),
        ("{{.Inputs.N}}", "unknown input 'N'"),
        ("{{.outputs.x}}", "unknown template"),
        ("{{.taskTemplatePath}}", "Flyte feature"),
        ("{{.inputs.n}", "malformed template"),
        ("}}", "malformed template"),
    ],
)
def test_bad_templates_are_refused(template: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem) as err:
        TaskSpec.from_dict({**BASE, "command": ["echo", template]})
    assert err.value.field == "spec.command[1]"


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
        ({"entrypoint": ["/bin/sh"]}, False),
        ({"env": [{"name": "MODE", "value": "slow"}]}, False),
        ({"resources": {"limits": {"memory": "1Gi"}}}, False),
        ({"podTemplate": {"spec": {"runtimeClassName": "gvisor"}}}, False),
        ({"serviceAccountName": "reader"}, False),
        ({"nodeSelector": {"kubernetes.io/arch": "arm64"}}, False),
        ({"tolerations": [{"key": "gpu", "operator": "Exists"}]}, False),
        ({"dataLoading": {"format": "YAML"}}, False),
        ({"accelerator": "nvidia-tesla-t4"}, False),
        ({"sharedMemory": "1Gi"}, False),
        ({"podTemplateName": "gpu"}, False),
        ({"queue": "team-b"}, True),
        ({"interruptible": True}, True),
        ({"cacheSerialize": True}, True),
        ({"maxInlineIoBytes": 4096}, True),
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
        "entrypoint",
        "env",
        "resources",
        "pod-template",
        "service-account",
        "node-selector",
        "tolerations",
        "data-loading",
        "accelerator",
        "shared-memory",
        "pod-template-name",
        "queue",
        "interruptible",
        "cache-serialize",
        "max-inline-io-bytes",
    ],
)
def test_cache_key_covers_what_decides_outputs(change: dict[str, Any], same: bool) -> None:
    base = cache_key(TaskSpec.from_dict(BASE))
    assert (cache_key(TaskSpec.from_dict({**BASE, **change})) == base) is same


def test_ignored_inputs_are_left_out_of_the_cache_key() -> None:
    ignoring = {**BASE, "cacheIgnoredInputs": ["n"]}
    other_n = [{**BASE["inputs"][0]}, {"name": "n", "type": "list[int]", "value": [9]}]
    base = cache_key(TaskSpec.from_dict(ignoring))
    assert cache_key(TaskSpec.from_dict({**ignoring, "inputs": other_n})) == base
    assert cache_key(TaskSpec.from_dict({**BASE, "inputs": other_n})) != cache_key(
        TaskSpec.from_dict(BASE)
    )


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
