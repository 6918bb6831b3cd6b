"""TaskSpec.from_dict: a well-formed spec round-trips; each malformed one names its field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from containertask.api import File, SpecError, TaskSpec, TypeRef
from containertask.api.templating import input_path, render, render_value

pytestmark = pytest.mark.unit

BASE: dict[str, Any] = {
    "image": "busybox",
    "command": ["sh", "-c", "echo {{.inputs.a}} {{ .inputs.when }}"],
    "inputs": [
        {"name": "a", "type": "float", "value": 3},
        {"name": "when", "type": "datetime", "value": "2024-05-01T12:00:00Z"},
        {"name": "wait", "type": "timedelta", "value": 1.5},
        {"name": "files", "type": "list[file]", "value": ["s3://b/1", "s3://b/2"]},
        {"name": "f", "type": "file", "uri": "s3://b/f.csv"},
        {"name": "table", "type": "dict[str, list[int]]", "value": {"x": [1, 2]}},
    ],
    "outputs": [{"name": "area", "type": "float"}],
}


def with_(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_values_are_read_into_python_types() -> None:
    spec = TaskSpec.from_dict(BASE)
    assert spec.input_values == {
        "a": 3.0,
        "when": datetime(2024, 5, 1, 12, tzinfo=UTC),
        "wait": timedelta(seconds=1.5),
        "files": [File("s3://b/1"), File("s3://b/2")],
        "f": File("s3://b/f.csv"),
        "table": {"x": [1, 2]},
    }
    assert TaskSpec.from_dict(spec.to_dict()) == spec


def test_defaults_follow_flyte() -> None:
    spec = TaskSpec.from_dict({"image": "busybox"})
    assert (spec.data_loading.input_path, spec.data_loading.output_path) == (
        "/var/inputs",
        "/var/outputs",
    )
    assert spec.data_loading.format == "JSON"
    assert spec.retries.limit == 0


BAD = [
    ("no-image", {"inputs": []}, "spec.image"),
    ("image-not-string", with_(image=3), "spec.image"),
    ("unknown-type", with_(outputs=[{"name": "x", "type": "complex"}]), "spec.outputs[0].type"),
    (
        "dict-needs-str-keys",
        with_(outputs=[{"name": "x", "type": "dict[int, int]"}]),
        "spec.outputs[0].type",
    ),
    (
        "duplicate-input",
        with_(inputs=[BASE["inputs"][0], BASE["inputs"][0]]),
        "spec.inputs[1].name",
    ),
    ("bad-name", with_(outputs=[{"name": "1x", "type": "int"}]), "spec.outputs[0].name"),
    (
        "wrong-value-type",
        with_(inputs=[{"name": "a", "type": "int", "value": "3"}], command=[]),
        "spec.inputs[0].value",
    ),
    (
        "bool-is-not-int",
        with_(inputs=[{"name": "a", "type": "int", "value": True}], command=[]),
        "spec.inputs[0].value",
    ),
    (
        "file-needs-uri",
        with_(inputs=[{"name": "f", "type": "file"}], command=[]),
        "spec.inputs[0].uri",
    ),
    (
        "file-takes-no-value",
        with_(inputs=[{"name": "f", "type": "file", "value": "s3://x"}], command=[]),
        "spec.inputs[0].value",
    ),
    (
        "int-takes-no-uri",
        with_(inputs=[{"name": "a", "type": "int", "uri": "s3://x"}], command=[]),
        "spec.inputs[0].uri",
    ),
    (
        "missing-value",
        with_(inputs=[{"name": "a", "type": "int"}], command=[]),
        "spec.inputs[0].value",
    ),
    ("unknown-template", with_(command=["echo", "{{.inputs.b}}"]), "spec.command[1]"),
    ("malformed-template", with_(arguments=["{{.inputs.a}"]), "spec.arguments[0]"),
    ("negative-retries", with_(retries={"limit": -1}), "spec.retries.limit"),
    ("too-many-retries", with_(retries={"limit": 11}), "spec.retries.limit"),
    ("zero-timeout", with_(timeoutSeconds=0), "spec.timeoutSeconds"),
    ("zero-active-deadline", with_(activeDeadlineSeconds=0), "spec.activeDeadlineSeconds"),
    ("negative-ttl", with_(ttlSecondsAfterFinished=-1), "spec.ttlSecondsAfterFinished"),
    ("image-with-space", with_(image="bad image"), "spec.image"),
    ("image-upper-case-name", with_(image="Busybox:1"), "spec.image"),
    ("image-empty-tag", with_(image="busybox:"), "spec.image"),
    ("image-short-digest", with_(image="busybox@sha256:abc"), "spec.image"),
    (
        "upload-none-with-outputs",
        with_(dataLoading={"uploadMode": "none"}, outputs=[{"name": "x", "type": "int"}]),
        "spec.dataLoading.uploadMode",
    ),
    ("bad-format", with_(dataLoading={"format": "XML"}), "spec.dataLoading.format"),
    ("relative-path", with_(dataLoading={"inputPath": "in"}), "spec.dataLoading.inputPath"),
    (
        "same-paths",
        with_(dataLoading={"inputPath": "/d", "outputPath": "/d/"}),
        "spec.dataLoading.outputPath",
    ),
    (
        "output-in-proc",
        with_(dataLoading={"outputPath": "/proc/self"}),
        "spec.dataLoading.outputPath",
    ),
    ("input-in-dev", with_(dataLoading={"inputPath": "/dev"}), "spec.dataLoading.inputPath"),
    ("values-and-inputs-uri", with_(inputsUri="s3://b/inputs.pb"), "spec.inputs[0]"),
    ("env-without-name", with_(env=[{"value": "x"}]), "spec.env[0].name"),
    ("command-not-list", with_(command="echo hi"), "spec.command"),
]


@pytest.mark.parametrize(("data", "field"), [(d, f) for _, d, f in BAD], ids=[i for i, _, _ in BAD])
def test_malformed_spec_names_the_field(data: dict[str, Any], field: str) -> None:
    with pytest.raises(SpecError) as err:
        TaskSpec.from_dict(data)
    assert err.value.field == field
    assert str(err.value).startswith(field)


def test_templates_render_text_and_paths() -> None:
    spec = TaskSpec.from_dict(BASE)
    types = spec.input_types
    subs = {
        "a": render_value(types["a"], 3.0),
        "when": render_value(types["when"], spec.input_values["when"]),
    }
    runtime = spec.runtime_values("s3://b/out", "k")
    assert render(spec.command, subs, runtime) == ["sh", "-c", "echo 3 2024-05-01T12:00:00Z"]
    assert input_path("f", TypeRef("file"), "s3://b/f.csv", "/in", "namedDir") == "/in/f/f.csv"
    assert input_path("f", TypeRef("file"), "s3://b/f.csv", "/in", "direct") == "/in/f"


def test_upload_result_always_fits_a_termination_message() -> None:
    from containertask.api.contract import TERMINATION_MESSAGE_LIMIT, UploadResult

    names = [f"output_{i:02d}_" + "x" * 50 for i in range(64)]
    result = UploadResult(
        ok=True, outputs=dict.fromkeys(names, "v" * 100), outputs_uri="s3://b/" + "p" * 2000
    )
    message = result.to_message()
    assert len(message.encode()) <= TERMINATION_MESSAGE_LIMIT
    back = UploadResult.from_message(message)
    assert back.ok and back.outputs_uri == result.outputs_uri
    assert set(back.outputs) < set(names)


@pytest.mark.parametrize(
    "image",
    [
        "busybox",
        "busybox:1.36",
        "ghcr.io/org/tool:1.2",
        "localhost:5000/a/b_c:v1",
        "registry.example.com:443/a/b@sha256:" + "0" * 64,
        "python:3.11-slim@sha256:" + "a" * 64,
    ],
)
def test_valid_image_references_are_accepted(image: str) -> None:
    assert TaskSpec.from_dict(with_(image=image)).image == image


@pytest.mark.parametrize(
    ("resources", "template", "limit"),
    [
        (None, None, None),
        ({"limits": {"memory": "1Gi"}}, None, "1Gi"),
        ({"requests": {"memory": "1Gi"}}, None, None),
        (None, {"name": "primary", "resources": {"limits": {"memory": "2Gi"}}}, "2Gi"),
        (None, {"name": "main", "resources": {"limits": {"memory": "2Gi"}}}, "2Gi"),
        (
            {"limits": {"memory": "1Gi"}},
            {"name": "primary", "resources": {"limits": {"memory": "2Gi"}}},
            "1Gi",
        ),
    ],
)
def test_memory_limit_is_the_tasks_own_else_its_pod_templates_main_container(
    resources: dict[str, Any] | None, template: dict[str, Any] | None, limit: str | None
) -> None:
    changes: dict[str, Any] = {}
    if resources is not None:
        changes["resources"] = resources
    if template is not None:
        changes["podTemplate"] = {"spec": {"containers": [template]}}
    assert TaskSpec.from_dict(with_(**changes)).memory_limit == limit
