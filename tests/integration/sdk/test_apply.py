"""SDK manifests on a real apiserver: server-side apply accepts them and reads back the same spec;
malformed manifests are rejected with a message naming the field."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

import containertask
import localcluster
from containertask import ContainerTask, Dir, Directory, File
from containertask.api import TaskSpec
from containertask.sdk import loader
from examples.flyte.code_runner import python_code_runner
from examples.flyte.dir_io import shout_files
from examples.flyte.ellipse_python import calculate_ellipse_area_python

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ellipse_area = loader.load_task(f"{ROOT / 'examples' / 'ellipse.py'}:ellipse_area")

TYPED = ContainerTask(
    name="typed_inputs",
    image="busybox:1.36",
    command="sh -c 'cat /var/inputs/when {{.inputs.n}}'",
    arguments=["--table={{.inputs.table}}"],
    inputs={
        "n": int,
        "x": float,
        "s": str,
        "flag": bool,
        "when": datetime,
        "wait": timedelta,
        "data": File,
        "tree": Directory,
        "files": list[File],
        "table": dict[str, list[int]],
    },
    outputs={"report": File, "count": int, "scores": dict[str, float]},
    metadata_format="YAML",
    resources=containertask.Resources(cpu=("250m", "1"), memory="128Mi"),
    retries=containertask.RetryStrategy(count=3, backoff=2, backoff_factor=3, max_backoff=60),
    timeout=containertask.Timeout(max_runtime=3600, max_queued_time=300),
    upload_timeout=120,
    env_vars={"MODE": "fast"},
    secrets=["db/password"],
    node_selector={"pool": "batch"},
    tolerations=[{"key": "batch", "operator": "Exists", "effect": "NoSchedule"}],
    service_account="default",
    pod_template={"metadata": {"labels": {"team": "a"}}, "spec": {"priorityClassName": "x"}},
    cache=True,
    output_location="s3://bucket/runs/",
)
FLYTE_OPTIONS = ContainerTask(
    name="flyte-options",
    image="auto",
    command=[
        "sh",
        "-c",
        "echo {{.inputs.a}} {{.Input}} {{ $outputPrefix }} {{.RawOutputDataPrefix}}",
    ],
    arguments=["{{.perRetryUniqueKey}}", "{{.inputPrefix}}", "{{ .inputs.big }}"],
    inputs={"a": float, "big": File},
    outputs={"out": Dir},
    resources=containertask.Resources(cpu=1, memory="1Gi", gpu="T4:1", disk="10Gi", shm="auto"),
    secrets=[containertask.Secret(key="api-key", as_env_var="API_KEY"), "db/token"],
    pod_template=containertask.PodTemplate(
        primary_container_name="primary", labels={"team": "a"}, annotations={"note": "x"}
    ),
    cache=containertask.Cache("auto", serialize=True, ignored_inputs=("big",), salt="1"),
    short_name="opts",
    docs="Every Flyte keyword at once.",
    queue="team-a",
    interruptible=True,
    max_inline_io_bytes=2048,
    reusable="off",
    file_input_layout="NAMED_DIR",
    entrypoint=["/bin/sh", "-e"],
)
TYPED_VALUES: dict[str, Any] = {
    "n": 3,
    "x": 0.1,
    "s": "true",
    "flag": False,
    "when": datetime(2024, 5, 1, 12, 30),
    "wait": timedelta(seconds=1.5),
    "data": "s3://bucket/in/data.csv",
    "tree": "s3://bucket/in/tree/",
    "files": ["s3://bucket/a", "gs://other/b"],
    "table": {"k": [1, 2], "empty": []},
}


def apply(cluster: localcluster.Cluster, namespace: str, text: str) -> Any:
    return cluster.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", input=text, check=False
    )


@pytest.mark.parametrize(
    ("task", "inputs"),
    [
        (ellipse_area, {"a": 3.0, "b": 4.0}),
        (TYPED, TYPED_VALUES),
        (calculate_ellipse_area_python, {"a": 3.0, "b": 4.0}),
        (python_code_runner, {"script.py": "s3://bucket/add.py", "a": 1, "b": 2}),
        (shout_files, {"docs": "s3://bucket/docs/"}),
        (FLYTE_OPTIONS, {"a": 1.0, "big": "s3://bucket/big.bin"}),
    ],
    ids=[
        "example",
        "every-type-and-option",
        "flyte-template-spellings",
        "input-named-like-a-file",
        "dir-in-and-out",
        "every-flyte-option",
    ],
)
def test_sdk_manifests_pass_server_side_apply_and_read_back_unchanged(
    cluster: localcluster.Cluster, namespace: str, crd: str, task: ContainerTask, inputs: Any
) -> None:
    text = task.to_yaml(**inputs)
    result = apply(cluster, namespace, text)
    assert result.returncode == 0, result.stderr
    name = yaml.safe_load(text)["metadata"]["name"]
    stored = json.loads(cluster.kubectl("get", "ct", name, "-n", namespace, "-o", "json").stdout)
    assert TaskSpec.from_dict(stored["spec"]) == task.spec(**inputs)
    # the same manifest again changes nothing
    again = apply(cluster, namespace, text)
    assert again.returncode == 0 and "serverside-applied" in again.stdout
    assert (
        json.loads(cluster.kubectl("get", "ct", name, "-n", namespace, "-o", "json").stdout)[
            "metadata"
        ]["generation"]
        == stored["metadata"]["generation"]
    )


VALID: dict[str, Any] = {
    "apiVersion": "containertask.io/v1alpha1",
    "kind": "ContainerTask",
    "metadata": {"name": "bad"},
    "spec": ellipse_area.to_manifest(a=3.0, b=4.0)["spec"],
}


def mutated(path: str, value: Any = None, *, delete: bool = False) -> dict[str, Any]:
    """VALID with the field at a dotted path (list indexes as numbers) set or deleted."""
    doc = copy.deepcopy(VALID)
    *parents, last = path.split(".")
    node: Any = doc
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key_or_index: Any = int(last) if isinstance(node, list) else last
    if delete:
        del node[key_or_index]
    else:
        node[key_or_index] = value
    return doc


FILE_INPUT = {"name": "data", "type": "file", "uri": "s3://b/k"}

MALFORMED: list[tuple[str, dict[str, Any], list[str]]] = [
    ("missing-image", mutated("spec.image", delete=True), ["spec.image", "Required"]),
    ("image-not-string", mutated("spec.image", 42), ["spec.image", "string"]),
    ("missing-spec", mutated("spec", delete=True), ["spec", "Required"]),
    ("command-not-list", mutated("spec.command", "echo hi"), ["spec.command", "expected list"]),
    ("command-item-int", mutated("spec.command.0", 7), ["spec.command[0]", "string"]),
    ("unknown-type", mutated("spec.inputs.0.type", "complex"), ["spec.inputs[0].type"]),
    ("type-not-string", mutated("spec.inputs.0.type", 3), ["spec.inputs[0].type", "string"]),
    (
        "missing-input-name",
        mutated("spec.inputs.0.name", delete=True),
        ["spec.inputs[0].name", "Required"],
    ),
    ("bad-input-name", mutated("spec.inputs.0.name", "2a"), ["spec.inputs[0].name"]),
    (
        "duplicate-inputs",
        mutated("spec.inputs.1.name", "a"),
        ["spec.inputs", "input names must be unique"],
    ),
    (
        "duplicate-outputs",
        mutated("spec.outputs", [{"name": "o", "type": "int"}] * 2),
        ["spec.outputs", "output names must be unique"],
    ),
    (
        "missing-output-type",
        mutated("spec.outputs.0.type", delete=True),
        ["spec.outputs[0].type", "Required"],
    ),
    ("negative-retries", mutated("spec.retries.limit", -1), ["spec.retries.limit", "0"]),
    ("too-many-retries", mutated("spec.retries.limit", 11), ["spec.retries.limit", "10"]),
    (
        "retries-as-string",
        mutated("spec.retries.limit", "3"),
        ["spec.retries.limit", "expected numeric"],
    ),
    (
        "backoff-factor-below-1",
        mutated("spec.retries.backoff.factor", 0.5),
        ["spec.retries.backoff.factor"],
    ),
    (
        "initial-above-max",
        mutated("spec.retries.backoff.initialSeconds", 600),
        ["spec.retries.backoff.initialSeconds", "must not exceed maxSeconds"],
    ),
    ("zero-timeout", mutated("spec.timeoutSeconds", 0), ["spec.timeoutSeconds"]),
    (
        "timeout-as-string",
        mutated("spec.timeoutSeconds", "10m"),
        ["spec.timeoutSeconds", "expected numeric"],
    ),
    (
        "unknown-template",
        mutated("spec.command.3", "{{.inputs.c}}"),
        ["spec", "names an input that is not declared"],
    ),
    (
        "malformed-template",
        mutated("spec.command.3", "{{.inputs.a}"),
        ["spec.command", "malformed template"],
    ),
    (
        "unknown-template-any-case",
        mutated("spec.command.3", "{{ $Inputs.c }}"),
        ["spec", "names an input that is not declared"],
    ),
    (
        "template-flyte-does-not-know",
        mutated("spec.command.3", "{{.outputs.a}}"),
        ["spec.command", "malformed template"],
    ),
    (
        "zero-inline-limit",
        mutated("spec.maxInlineIoBytes", 0),
        ["spec.maxInlineIoBytes"],
    ),
    (
        "bad-format",
        mutated("spec.dataLoading.format", "XML"),
        ["spec.dataLoading.format", "Unsupported value", "JSON"],
    ),
    (
        "bad-download-mode",
        mutated("spec.dataLoading.downloadMode", "lazy"),
        ["spec.dataLoading.downloadMode", "Unsupported value"],
    ),
    (
        "relative-input-path",
        mutated("spec.dataLoading.inputPath", "inputs"),
        ["spec.dataLoading.inputPath"],
    ),
    (
        "same-paths",
        mutated("spec.dataLoading.outputPath", "/var/inputs"),
        ["spec.dataLoading", "inputPath and outputPath must differ"],
    ),
    (
        "unknown-field",
        mutated("spec.colour", "red"),
        ["spec.colour", "field not declared in schema"],
    ),
    (
        "value-for-file",
        {
            **VALID,
            "spec": {
                "image": "busybox",
                "inputs": [{"name": "data", "type": "file", "value": "s3://b/k"}],
            },
        },
        ["spec.inputs", "file and directory inputs need a uri"],
    ),
    (
        "uri-for-float",
        mutated("spec.inputs.0.uri", "s3://b/k"),
        ["spec.inputs[0]", "all other types take value"],
    ),
    (
        "uri-with-inputs-uri",
        {
            **VALID,
            "spec": {"image": "busybox", "inputs": [FILE_INPUT], "inputsUri": "s3://b/inputs.pb"},
        },
        ["spec.inputs", "inputs carry no values or uris when spec.inputsUri is set"],
    ),
]
# Not here, because a CEL rule cannot see ``value`` (it has no schema type): a missing value and
# an inline value next to spec.inputsUri. TaskSpec.from_dict rejects both in the operator.


@pytest.mark.parametrize(
    ("doc", "expected"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_manifests_are_rejected_naming_the_field(
    cluster: localcluster.Cluster, namespace: str, crd: str, doc: Any, expected: list[str]
) -> None:
    result = apply(cluster, namespace, yaml.safe_dump(doc))
    assert result.returncode != 0, f"accepted: {doc['spec']}"
    for text in expected:
        assert text in result.stderr, result.stderr
