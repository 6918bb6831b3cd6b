"""Manifests: deterministic names and bytes, a spec the model reads back unchanged."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import yaml

from containertask import ContainerTask, Directory, File
from containertask.api import TaskSpec
from containertask.sdk import manifest

pytestmark = pytest.mark.unit

TASK = ContainerTask(
    name="my_tasks.Ellipse-Area",
    image="busybox",
    command=["sh", "-c", "echo {{.inputs.a}} {{.inputs.label}} > /var/outputs/area"],
    inputs={
        "a": float,
        "label": str,
        "when": datetime,
        "wait": timedelta,
        "data": File,
        "parts": list[Directory],
        "weights": dict[str, float],
    },
    outputs={"area": float, "report": File},
)
VALUES = {
    "a": 3.0,
    "label": "true",  # a string that YAML would read as a bool unless quoted
    "when": datetime(2024, 5, 1, 12),
    "wait": timedelta(seconds=90),
    "data": "s3://bucket/in/data.csv",
    "parts": ["s3://bucket/p1/", "s3://bucket/p2/"],
    "weights": {"x": 0.5, "y": 2.0},
}


def test_same_inputs_render_identical_bytes() -> None:
    assert TASK.to_yaml(**VALUES) == TASK.to_yaml(**dict(reversed(VALUES.items())))


def test_name_is_the_task_name_and_a_hash_of_the_spec() -> None:
    doc = TASK.to_manifest(**VALUES)
    name = doc["metadata"]["name"]
    assert name.startswith("my-tasks-ellipse-area-")
    assert len(name.rsplit("-", 1)[1]) == manifest.HASH_LENGTH
    assert doc["metadata"]["annotations"] == {"containertask.io/task-name": "my_tasks.Ellipse-Area"}
    assert "namespace" not in doc["metadata"]
    other = TASK.to_manifest(**{**VALUES, "a": 4.0})["metadata"]["name"]
    assert other != name and other.startswith("my-tasks-ellipse-area-")


def test_long_task_names_leave_room_within_63_characters() -> None:
    task = ContainerTask("x" * 200, "busybox", "true")
    name = task.to_manifest()["metadata"]["name"]
    assert len(name) + 1 + manifest.SUFFIX_LENGTH <= 63
    manifest.check_name(name)


def test_yaml_reads_back_as_the_same_spec() -> None:
    doc = yaml.safe_load(TASK.to_yaml(**VALUES))
    assert doc["apiVersion"] == "containertask.io/v1alpha1"
    assert doc["kind"] == "ContainerTask"
    spec = TaskSpec.from_dict(doc["spec"])
    assert spec == TASK.spec(**VALUES)
    inputs = {i["name"]: i for i in doc["spec"]["inputs"]}
    assert inputs["label"]["value"] == "true"
    assert inputs["when"]["value"] == "2024-05-01T12:00:00Z"
    assert inputs["wait"]["value"] == 90.0
    assert inputs["data"] == {"name": "data", "type": "file", "uri": "s3://bucket/in/data.csv"}
    assert inputs["parts"]["value"] == ["s3://bucket/p1/", "s3://bucket/p2/"]


def test_namespace_comes_from_the_task_or_the_call() -> None:
    task = TASK.override(namespace="team-a")
    assert task.to_manifest(**VALUES)["metadata"]["namespace"] == "team-a"
    spec = task.spec(**VALUES)
    doc = task.manifest(spec, name="chosen", namespace="team-b")
    assert doc["metadata"] == {
        "name": "chosen",
        "namespace": "team-b",
        "annotations": {"containertask.io/task-name": "my_tasks.Ellipse-Area"},
    }


@pytest.mark.parametrize(
    "name",
    ["Upper", "under_score", "-lead", "trail-", "a" * 64, "dot.ted"],
    ids=["upper", "underscore", "leading-dash", "trailing-dash", "too-long", "dot"],
)
def test_chosen_names_must_be_dns_labels(name: str) -> None:
    with pytest.raises(ValueError, match="name: not a valid resource name"):
        manifest.check_name(name)


@pytest.mark.parametrize("text", ["y", "n", "N", "Y", "yes", "off", "1e3", "1E+5", "1_000", "0x1f"])
def test_strings_a_go_yaml_reader_would_retype_are_quoted(text: str) -> None:
    """kubectl reads YAML 1.1 with Go rules: an unquoted ``n`` is false, ``1e3`` a number."""
    assert f"'{text}'" in manifest.to_yaml({"value": text})
