"""ContainerTask: the definition, Flyte's methods and properties, and one execution's spec."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flyteidl2.core import tasks_pb2, types_pb2

import containertask
from containertask import ContainerTask, Directory, File
from containertask.api import TaskSpec, TypeRef

pytestmark = pytest.mark.unit


def area(**kw: Any) -> ContainerTask:
    args: dict[str, Any] = {
        "name": "ellipse_area",
        "image": "ghcr.io/example/shell:1",
        "command": ["./area.sh", "{{.inputs.a}}", "{{.inputs.b}}"],
        "inputs": {"a": float, "b": float},
        "outputs": {"area": float},
        **kw,
    }
    return ContainerTask(**args)


def test_definition_is_a_checked_spec() -> None:
    task = area(arguments=["/var/outputs"], metadata_format="YAML", input_data_dir="/in")
    d = task.definition
    assert isinstance(d, TaskSpec)
    assert d.image == "ghcr.io/example/shell:1"
    assert d.command == ("./area.sh", "{{.inputs.a}}", "{{.inputs.b}}")
    assert d.arguments == ("/var/outputs",)
    assert task.input_types == {"a": TypeRef("float"), "b": TypeRef("float")}
    assert task.output_types == {"area": TypeRef("float")}
    assert d.data_loading.format == "YAML"
    assert d.data_loading.input_path == "/in"


def test_command_as_one_string_is_split_like_a_shell() -> None:
    task = area(command="sh -c 'echo {{.inputs.a}} > /var/outputs/area'")
    assert task.container_args() == ["sh", "-c", "echo {{.inputs.a}} > /var/outputs/area"]


def test_container_args_are_command_then_arguments_unrendered() -> None:
    task = area(command=["./area.sh"], arguments=["{{.inputs.a}}", "--b={{.inputs.b}}"])
    assert task.container_args() == ["./area.sh", "{{.inputs.a}}", "--b={{.inputs.b}}"]


@dataclasses.dataclass
class FlyteLikeImage:
    base_image: str


class StrImage:
    def __str__(self) -> str:
        return "registry.local/str:2"


@pytest.mark.parametrize(
    ("image", "uri"),
    [
        ("busybox:1", "busybox:1"),
        (containertask.Image("ghcr.io/org/tool:1.2"), "ghcr.io/org/tool:1.2"),
        (FlyteLikeImage("ghcr.io/flyte/base:3"), "ghcr.io/flyte/base:3"),
        (StrImage(), "registry.local/str:2"),
    ],
    ids=["str", "Image", "base_image-attribute", "str()"],
)
def test_images(image: Any, uri: str) -> None:
    assert area(image=image).image == uri


def test_data_loading_config_is_flyteidl2() -> None:
    task = area(
        input_data_dir=pathlib.Path("/data/in"),
        output_data_dir="/data/out",
        metadata_format="PROTO",
    )
    config = task.data_loading_config()
    assert isinstance(config, tasks_pb2.DataLoadingConfig)
    assert config.enabled
    assert (config.input_path, config.output_path) == ("/data/in", "/data/out")
    assert config.format == tasks_pb2.DataLoadingConfig.PROTO
    assert config.io_strategy.download_mode == tasks_pb2.IOStrategy.DOWNLOAD_EAGER
    assert config.io_strategy.upload_mode == tasks_pb2.IOStrategy.UPLOAD_ON_EXIT
    assert config.file_input_layout == tasks_pb2.DataLoadingConfig.DIRECT


def test_task_template_describes_a_raw_container_task() -> None:
    task = area(
        resources=containertask.Resources(cpu=("1", "2"), memory="1Gi", gpu=1),
        retries=3,
        timeout=timedelta(minutes=5),
        env_vars={"MODE": "fast"},
        secrets=["db/password"],
        cache=containertask.Cache("override", version_override="v7"),
        pod_template={"spec": {"priorityClassName": "high"}},
    )
    template = task.to_task_template()
    assert template.type == "raw-container"
    assert template.id.name == "ellipse_area" and template.id.version
    assert [v.key for v in template.interface.inputs.variables] == ["a", "b"]
    assert template.interface.outputs.variables[0].value.type.simple == types_pb2.SimpleType.FLOAT
    assert list(template.container.command) == []  # the image's ENTRYPOINT runs, as in Flyte
    assert list(template.container.args) == task.container_args()
    assert template.container.data_config == task.data_loading_config()
    assert template.metadata.retries.retries == 3
    assert template.metadata.timeout.seconds == 300
    assert template.metadata.discoverable and template.metadata.discovery_version == "v7"
    requests = {e.name: e.value for e in template.container.resources.requests}
    limits = {e.name: e.value for e in template.container.resources.limits}
    assert requests == {
        tasks_pb2.Resources.CPU: "1",
        tasks_pb2.Resources.MEMORY: "1Gi",
        tasks_pb2.Resources.GPU: "1",
    }
    assert limits == {
        tasks_pb2.Resources.CPU: "2",
        tasks_pb2.Resources.MEMORY: "1Gi",
        tasks_pb2.Resources.GPU: "1",
    }
    assert [(e.key, e.value) for e in template.container.env] == [("MODE", "fast")]
    # what the template has no field for travels in custom/config
    assert template.custom["podTemplate"]["spec"]["priorityClassName"] == "high"
    assert template.custom["env"][1]["valueFrom"]["secretKeyRef"]["name"] == "db"
    assert dict(template.config) == {"cacheVersion": "v7"}


def test_flyte_methods_and_properties() -> None:
    task = area(output_location="s3://bucket/runs/", namespace="team-a")
    assert task.sql() is None
    assert task.config() == {"outputLocation": "s3://bucket/runs/", "namespace": "team-a"}
    assert task.custom_config()["retries"] == {
        "limit": 0,
        "backoff": {"initialSeconds": 5, "factor": 2.0, "maxSeconds": 300},
    }
    assert task.native_interface.inputs == {"a": float, "b": float}
    assert task.native_interface.outputs == {"area": float}
    assert task.source_file == str(pathlib.Path(__file__).resolve())
    assert task.pre(1, b=2.5) == {"a": 1.0, "b": 2.5}
    assert task.post({"area": 1.0}) == {"area": 1.0}


def test_native_interface_keeps_the_declared_python_types() -> None:
    task = ContainerTask("t", "busybox", "true", inputs={"p": pathlib.Path, "d": list[Directory]})
    assert task.native_interface.inputs == {"p": pathlib.Path, "d": list[Directory]}
    assert task.input_types == {"p": TypeRef("file"), "d": TypeRef.parse("list[directory]")}


def test_a_direct_call_without_an_engine_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")
    task = area()
    with pytest.raises(containertask.LocalExecutionUnavailableError) as info:
        task(a=1.0, b=2.0)
    assert f"no container engine answers at unix://{tmp_path}/no-engine.sock" in str(info.value)
    assert "DOCKER_HOST" in str(info.value) and "containertask.run(task" in str(info.value)
    with pytest.raises(containertask.LocalExecutionUnavailableError):
        asyncio.run(task.aio(a=1.0, b=2.0))


def test_a_direct_call_checks_inputs_first() -> None:
    with pytest.raises(containertask.TaskError, match=r"inputs\.a: expected a value of type float"):
        area()(a="three", b=2.0)


def test_override_returns_a_new_task_and_leaves_the_original() -> None:
    task = area(retries=1, env_vars={"A": "1"})
    changed = task.override(retries=4, env_vars={"B": "2"}, timeout=60, namespace="x")
    assert changed is not task
    assert changed.definition.retries.limit == 4
    assert changed.definition.env == ({"name": "B", "value": "2"},)
    assert changed.definition.timeout_seconds == 60
    assert changed.namespace == "x"
    assert task.definition.retries.limit == 1
    assert task.definition.env == ({"name": "A", "value": "1"},)
    assert changed.source_file == task.source_file


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("name", "cannot be overridden: it identifies the task"),
        ("image", "cannot be overridden: it identifies the task"),
        ("inputs", "cannot be overridden: it identifies the task"),
        ("outputs", "cannot be overridden: it identifies the task"),
        ("command", "cannot be overridden: it defines the task"),
        ("reusable", "a ContainerTask runs each execution in a pod of its own"),
        ("colour", "unknown option"),
    ],
    ids=["name", "image", "inputs", "outputs", "command", "reusable", "unknown"],
)
def test_override_refuses_what_it_cannot_change(key: str, problem: str) -> None:
    with pytest.raises(containertask.SpecError) as info:
        area().override(**{key: "x"})
    assert str(info.value).startswith(f"ContainerTask 'ellipse_area': {key}: {problem}")


def test_spec_holds_canonical_values_by_type() -> None:
    task = ContainerTask(
        "typed",
        "busybox",
        ["cat", "{{.inputs.when}}"],
        inputs={
            "n": int,
            "when": datetime,
            "wait": timedelta,
            "data": File,
            "path": pathlib.Path,
            "dirs": list[Directory],
            "table": dict[str, list[int]],
        },
    )
    spec = task.spec(
        n=3,
        when=datetime(2024, 5, 1, 12),
        wait=timedelta(seconds=90),
        data="s3://b/data.csv",
        path=File("s3://b/p"),
        dirs=["s3://b/d1/", Directory("s3://b/d2/")],
        table={"x": [1, 2]},
    )
    values = spec.input_values
    assert values["when"] == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert values["data"] == File("s3://b/data.csv")
    assert values["path"] == File("s3://b/p")
    assert values["dirs"] == [Directory("s3://b/d1/"), Directory("s3://b/d2/")]
    assert spec.to_dict()["inputs"][3] == {"name": "data", "type": "file", "uri": "s3://b/data.csv"}


@pytest.mark.parametrize(
    ("cache", "version"),
    [
        (None, None),
        (False, None),
        ("disable", None),
        ("off", None),
        (containertask.Cache("disable", version_override="v2"), None),
        (containertask.Cache("override", version_override="v2"), "v2"),
    ],
    ids=["none", "false", "disable", "off", "disable-object", "override"],
)
def test_cache_versions(cache: Any, version: str | None) -> None:
    assert area(cache=cache).definition.cache_version == version


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        ("override", 'cache.version_override: is required with behavior "override"'),
        ("v2", "cache.behavior: not a cache behavior (got 'v2')"),
        (3, "cache: not a cache setting (got 3)"),
    ],
)
def test_bad_cache_settings_are_refused(cache: Any, problem: str) -> None:
    with pytest.raises(containertask.TaskError) as info:
        area(cache=cache)
    assert problem in str(info.value)


def test_cache_object_carries_serialize_ignored_inputs_and_salt() -> None:
    plain = area(cache="auto").definition
    cache = containertask.Cache("auto", serialize=True, ignored_inputs="b", salt="v2")
    salted = area(cache=cache).definition
    assert salted.cache_serialize and salted.cache_ignored_inputs == ("b",)
    assert salted.cache_version != plain.cache_version
    with pytest.raises(containertask.TaskError, match=r"cache\.ignored_inputs\[0\]: names no"):
        area(cache=containertask.Cache("auto", ignored_inputs=("nope",)))


def test_automatic_cache_version_follows_the_definition_not_the_values() -> None:
    auto = area(cache=True).definition.cache_version
    assert auto is not None and auto.startswith("auto-")
    assert area(cache="auto").definition.cache_version == auto
    assert area(cache=True, image="busybox:2").definition.cache_version != auto
    assert area(cache=True, command=["sh", "-c", "true"]).definition.cache_version != auto
    assert area(cache=True, retries=3).definition.cache_version == auto


def test_options_become_spec_fields() -> None:
    task = area(
        resources={"requests": {"cpu": "250m"}},
        retries=containertask.RetryStrategy(
            count=2, backoff=timedelta(seconds=10), backoff_factor=3, max_backoff=120
        ),
        timeout=containertask.Timeout(max_runtime=600, max_queued_time=timedelta(minutes=2)),
        upload_timeout=30,
        env_vars={"A": "1"},
        secrets=[containertask.Secret(key="api-key", group="creds"), "db/password", "tok"],
        node_selector={"pool": "gpu"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        service_account="runner",
    )
    spec = task.definition.to_dict()
    assert spec["resources"] == {"requests": {"cpu": "250m"}}
    assert spec["retries"] == {
        "limit": 2,
        "backoff": {"initialSeconds": 10, "factor": 3.0, "maxSeconds": 120},
    }
    assert (spec["timeoutSeconds"], spec["pendingTimeoutSeconds"]) == (600, 120)
    assert spec["uploadTimeoutSeconds"] == 30
    assert spec["env"] == [
        {"name": "A", "value": "1"},
        {
            "name": "CREDS_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "creds", "key": "api-key"}},
        },
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
        {"name": "TOK", "valueFrom": {"secretKeyRef": {"name": "tok", "key": "tok"}}},
    ]
    assert spec["nodeSelector"] == {"pool": "gpu"}
    assert spec["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    assert spec["serviceAccountName"] == "runner"


def test_resources_dataclass() -> None:
    assert containertask.Resources(cpu=2, memory=("1Gi", "2Gi"), gpu=1).to_dict() == {
        "requests": {"cpu": "2", "memory": "1Gi", "nvidia.com/gpu": "1"},
        "limits": {"cpu": "2", "memory": "2Gi", "nvidia.com/gpu": "1"},
    }
