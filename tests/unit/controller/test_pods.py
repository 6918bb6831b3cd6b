"""The pod builder: TaskSpec + attempt -> the pod, compared field by field (table tests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from containertask.api import CopilotConfig, SpecError, TaskSpec
from containertask.api.constants import COPILOT_CONFIG_ENV
from containertask.controller import naming
from containertask.controller.pods import Owner, build_pod, overlay
from containertask.controller.settings import OperatorSettings

pytestmark = pytest.mark.unit

OWNER = Owner("area", "team-a", "uid-1")
SETTINGS = OperatorSettings(copilot_image="copilot:1", output_location="s3://bucket/runs")
SPEC: dict[str, Any] = {
    "image": "shell:1",
    "command": ["./area.sh", "{{.inputs.a}}", "{{.inputs.data}}"],
    "arguments": ["--b={{.inputs.b}}"],
    "inputs": [
        {"name": "a", "type": "float", "value": 3.0},
        {"name": "b", "type": "int", "value": 4},
        {"name": "data", "type": "file", "uri": "s3://bucket/in/data.csv"},
    ],
    "outputs": [{"name": "area", "type": "float"}],
}


def pod_for(
    attempt: int = 1, settings: OperatorSettings = SETTINGS, **changes: Any
) -> dict[str, Any]:
    return build_pod(OWNER, TaskSpec.from_dict({**SPEC, **changes}), attempt, settings)


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    every = pod["spec"].get("initContainers", []) + pod["spec"]["containers"]
    return next(c for c in every if c["name"] == name)


def env_of(c: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in c.get("env", [])}


def test_pod_shape() -> None:
    pod = pod_for(attempt=2)
    assert pod["metadata"]["name"] == "area-2"
    assert pod["metadata"]["namespace"] == "team-a"
    assert pod["metadata"]["labels"] == {
        "containertask.io/task": "area",
        "containertask.io/attempt": "2",
        "app.kubernetes.io/managed-by": "containertask",
    }
    assert pod["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "containertask.io/v1alpha1",
            "kind": "ContainerTask",
            "name": "area",
            "uid": "uid-1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # Held until the attempt's result is in the task's status.
    assert pod["metadata"]["finalizers"] == ["containertask.io/tracking"]
    spec = pod["spec"]
    assert spec["restartPolicy"] == "Never"
    assert [c["name"] for c in spec["initContainers"]] == ["uploader", "downloader"]
    assert spec["initContainers"][0]["restartPolicy"] == "Always"
    assert "restartPolicy" not in spec["initContainers"][1]
    assert [c["name"] for c in spec["containers"]] == ["main"]
    assert {v["name"]: v for v in spec["volumes"]} == {
        "inputs": {"name": "inputs", "emptyDir": {}},
        "outputs": {"name": "outputs", "emptyDir": {}},
        "copilot-tmp": {"name": "copilot-tmp", "emptyDir": {}},
    }


def test_main_container_renders_templates_and_mounts_data_dirs() -> None:
    """As Flyte: no command (the image's ENTRYPOINT runs), command + arguments are the args."""
    main = container(pod_for(), "main")
    assert main["image"] == "shell:1"
    assert "command" not in main
    assert main["args"] == ["./area.sh", "3", "/var/inputs/data", "--b=4"]
    assert main["volumeMounts"] == [
        {"name": "inputs", "mountPath": "/var/inputs"},
        {"name": "outputs", "mountPath": "/var/outputs"},
    ]


def test_main_container_keeps_image_entrypoint_without_command() -> None:
    main = container(pod_for(command=[], arguments=[]), "main")
    assert "command" not in main and "args" not in main


def test_an_explicit_entrypoint_is_the_containers_command() -> None:
    main = container(pod_for(entrypoint=["/bin/sh", "-c"], command=["echo {{.inputs.b}}"]), "main")
    assert main["command"] == ["/bin/sh", "-c"]
    assert main["args"] == ["echo 4", "--b=4"]


def test_runtime_templates_name_the_attempt() -> None:
    main = container(
        pod_for(
            attempt=2,
            command=["{{.outputPrefix}}", "{{ $RawOutputDataPrefix }}", "{{.perRetryUniqueKey}}"],
            arguments=["{{.input}}", "{{.inputPrefix}}"],
        ),
        "main",
    )
    prefix = naming.output_prefix("s3://bucket/runs", "team-a", "area", "uid-1", 2)
    assert prefix is not None
    assert main["args"] == [
        prefix,
        prefix.rstrip("/") + "/raw",
        "area-2",
        "/var/inputs/inputs.pb",
        "/var/inputs",
    ]


def test_queue_labels_the_pod_for_kueue() -> None:
    pod = pod_for(queue="team-a-queue")
    assert pod["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-a-queue"
    assert "kueue.x-k8s.io/queue-name" not in pod_for()["metadata"]["labels"]


def test_accelerator_and_interruptible_come_from_operator_settings() -> None:
    settings = OperatorSettings(
        gpu_accelerator_label="cloud.example/gpu",
        interruptible_tolerations=({"key": "spot", "operator": "Exists"},),
        interruptible_node_selector={"lifecycle": "spot"},
    )
    pod = pod_for(
        settings=settings,
        accelerator="nvidia-tesla-t4",
        interruptible=True,
        nodeSelector={"disk": "ssd"},
    )
    assert pod["spec"]["nodeSelector"] == {
        "disk": "ssd",
        "cloud.example/gpu": "nvidia-tesla-t4",
        "lifecycle": "spot",
    }
    assert pod["spec"]["tolerations"] == [
        {
            "key": "cloud.example/gpu",
            "operator": "Equal",
            "value": "nvidia-tesla-t4",
            "effect": "NoSchedule",
        },
        {"key": "spot", "operator": "Exists"},
    ]
    plain = pod_for(settings=settings)["spec"]
    assert "nodeSelector" not in plain and "tolerations" not in plain


@pytest.mark.parametrize(
    ("shm", "empty_dir"),
    [("1Gi", {"medium": "Memory", "sizeLimit": "1Gi"}), ("auto", {"medium": "Memory"})],
)
def test_shared_memory_is_a_memory_backed_dev_shm(shm: str, empty_dir: dict[str, str]) -> None:
    pod = pod_for(sharedMemory=shm)
    assert {"name": "shm", "emptyDir": empty_dir} in pod["spec"]["volumes"]
    assert {"name": "shm", "mountPath": "/dev/shm"} in container(pod, "main")["volumeMounts"]


def test_max_inline_io_bytes_is_the_uploaders_limit() -> None:
    config = CopilotConfig.from_json(
        env_of(container(pod_for(maxInlineIoBytes=5000), "uploader"))[COPILOT_CONFIG_ENV]
    )
    assert config.inline_limit_bytes == 5000


@pytest.mark.parametrize("primary", [None, "primary", "work"])
def test_the_primary_container_of_a_pod_template_merges_into_main(primary: str | None) -> None:
    name = primary or "primary"
    template = {"spec": {"containers": [{"name": name, "securityContext": {"runAsUser": 7}}]}}
    changes: dict[str, Any] = {"podTemplate": template}
    if primary:
        changes["primaryContainerName"] = primary
    containers = pod_for(**changes)["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    assert containers[0]["securityContext"] == {"runAsUser": 7}
    assert containers[0]["image"] == "shell:1"


def test_a_named_pod_template_lies_under_the_tasks_own() -> None:
    named = {
        "metadata": {"labels": {"from": "named", "team": "x"}},
        "spec": {"priorityClassName": "low", "containers": [{"name": "primary", "tty": True}]},
    }
    spec = TaskSpec.from_dict(
        {**SPEC, "podTemplateName": "gpu", "podTemplate": {"metadata": {"labels": {"team": "a"}}}}
    )
    pod = build_pod(OWNER, spec, 1, SETTINGS, named)
    assert pod["metadata"]["labels"]["from"] == "named"
    assert pod["metadata"]["labels"]["team"] == "a"
    assert pod["spec"]["priorityClassName"] == "low"
    assert pod["spec"]["containers"][0]["tty"] is True


@pytest.mark.parametrize(("name", "verb"), [("uploader", "upload"), ("downloader", "download")])
def test_helpers_are_locked_down_and_carry_the_attempts_config(name: str, verb: str) -> None:
    helper = container(pod_for(attempt=3), name)
    assert helper["image"] == "copilot:1"
    assert helper["command"] == ["containertask", "copilot", verb]
    ctx = helper["securityContext"]
    assert ctx["runAsNonRoot"] is True
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert helper["resources"] == {
        "requests": {"cpu": "10m", "memory": "32Mi"},
        "limits": {"memory": "256Mi"},
    }
    config = CopilotConfig.from_json(env_of(helper)[COPILOT_CONFIG_ENV])
    assert config.output_prefix == "s3://bucket/runs/team-a/area/uid-1/attempt-3/"
    assert [i.name for i in config.inputs] == ["a", "b", "data"]
    assert [o.name for o in config.outputs] == ["area"]


@pytest.mark.parametrize(
    ("changes", "settings", "prefix"),
    [
        ({}, SETTINGS, "s3://bucket/runs/team-a/area/uid-1/attempt-1/"),
        ({"outputLocation": "gs://mine/x/"}, SETTINGS, "gs://mine/x/team-a/area/uid-1/attempt-1/"),
        ({}, OperatorSettings(), None),
    ],
    ids=["operator-default", "spec-wins", "none"],
)
def test_output_prefix(
    changes: dict[str, Any], settings: OperatorSettings, prefix: str | None
) -> None:
    uploader = container(pod_for(settings=settings, **changes), "uploader")
    assert json.loads(env_of(uploader)[COPILOT_CONFIG_ENV])["outputPrefix"] == prefix


@pytest.mark.parametrize(
    ("changes", "init"),
    [
        ({}, ["uploader", "downloader"]),
        ({"dataLoading": {"downloadMode": "none"}}, ["uploader"]),
        ({"inputs": [], "command": ["true"], "arguments": []}, ["uploader"]),
        ({"dataLoading": {"uploadMode": "none"}, "outputs": []}, ["downloader"]),
    ],
    ids=["both", "no-download", "no-inputs", "no-upload"],
)
def test_helpers_only_when_needed(changes: dict[str, Any], init: list[str]) -> None:
    assert [c["name"] for c in pod_for(**changes)["spec"]["initContainers"]] == init


@pytest.mark.parametrize(
    ("changes", "grace"),
    [({}, 70), ({"uploadTimeoutSeconds": 600}, 610)],
    ids=["operator-default", "spec"],
)
def test_grace_period_covers_the_upload(changes: dict[str, Any], grace: int) -> None:
    assert pod_for(**changes)["spec"]["terminationGracePeriodSeconds"] == grace


def test_pass_through_fields() -> None:
    pod = pod_for(
        resources={"limits": {"memory": "1Gi"}},
        env=[{"name": "MODE", "value": "fast"}],
        serviceAccountName="runner",
        nodeSelector={"disk": "ssd"},
        tolerations=[{"key": "gpu", "operator": "Exists"}],
    )
    main = container(pod, "main")
    assert main["resources"] == {"limits": {"memory": "1Gi"}}
    assert main["env"] == [{"name": "MODE", "value": "fast"}]
    assert pod["spec"]["serviceAccountName"] == "runner"
    assert pod["spec"]["nodeSelector"] == {"disk": "ssd"}
    assert pod["spec"]["tolerations"] == [{"key": "gpu", "operator": "Exists"}]


def test_copilot_secret_is_offered_to_helpers_only() -> None:
    pod = pod_for(settings=OperatorSettings(copilot_secret="s3-creds"))
    assert container(pod, "uploader")["envFrom"] == [{"secretRef": {"name": "s3-creds"}}]
    assert "envFrom" not in container(pod, "main")


def test_pod_template_merges_metadata_and_spec() -> None:
    template = {
        "metadata": {
            "labels": {"team": "a", "containertask.io/attempt": "99"},
            "annotations": {"sim.containertask.io/exit-code.main": "3"},
        },
        "spec": {
            "priorityClassName": "batch",
            "restartPolicy": "Always",
            "nodeSelector": {"zone": "z1", "disk": "hdd"},
            "containers": [
                {"name": "main", "securityContext": {"runAsUser": 1000}, "image": "ignored"},
            ],
            "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}],
            "volumes": [{"name": "cache", "emptyDir": {}}],
        },
    }
    pod = pod_for(podTemplate=template, nodeSelector={"disk": "ssd"})
    assert pod["metadata"]["labels"]["team"] == "a"
    assert pod["metadata"]["labels"]["containertask.io/attempt"] == "1"
    assert pod["metadata"]["annotations"] == {"sim.containertask.io/exit-code.main": "3"}
    spec = pod["spec"]
    assert spec["priorityClassName"] == "batch"
    assert spec["restartPolicy"] == "Never"
    assert spec["nodeSelector"] == {"zone": "z1", "disk": "ssd"}
    assert [c["name"] for c in spec["containers"]] == ["main"]
    assert [c["name"] for c in spec["initContainers"]] == ["uploader", "downloader", "proxy"]
    main = spec["containers"][0]
    assert main["image"] == "shell:1"
    assert main["securityContext"] == {"runAsUser": 1000}
    assert [v["name"] for v in spec["volumes"]] == ["inputs", "outputs", "copilot-tmp", "cache"]


# Templates a task may use; none of them may change a helper container in any way.
ALLOWED_TEMPLATES: list[dict[str, Any]] = [
    {"spec": {"securityContext": {"runAsUser": 0, "seccompProfile": {"type": "Unconfined"}}}},
    {"spec": {"initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always"}]}},
    {
        "spec": {
            "containers": [{"name": "main", "env": [{"name": "AWS_ENDPOINT_URL", "value": "x"}]}]
        }
    },
    {"spec": {"volumes": [{"name": "scratch", "emptyDir": {"medium": "Memory"}}]}},
    {"metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}}},
]


@pytest.mark.parametrize("template", ALLOWED_TEMPLATES, ids=lambda t: next(iter(t.get("spec", t))))
@pytest.mark.parametrize("helper", ["uploader", "downloader"])
def test_a_pod_template_never_changes_the_helpers(template: dict[str, Any], helper: str) -> None:
    assert container(pod_for(podTemplate=template), helper) == container(pod_for(), helper)


@pytest.mark.parametrize(
    ("template", "field"),
    [
        (
            {
                "spec": {
                    "initContainers": [{"name": "uploader", "args": ["--config", "/tmp/evil.json"]}]
                }
            },
            "spec.podTemplate.spec.initContainers[0].name",
        ),
        (
            {
                "spec": {
                    "containers": [{"name": "downloader", "env": [{"name": "X", "value": "1"}]}]
                }
            },
            "spec.podTemplate.spec.containers[0].name",
        ),
        (
            {"spec": {"containers": [{"name": "main"}, {"name": "extra", "image": "busybox"}]}},
            "spec.podTemplate.spec.containers[1]",
        ),
    ],
    ids=["uploader", "downloader", "extra-regular-container"],
)
def test_a_template_that_reaches_the_helpers_is_no_spec(
    template: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as caught:
        pod_for(podTemplate=template)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("changes", "automount"),
    [
        ({}, False),
        ({"serviceAccountName": "runner"}, None),
        ({"podTemplate": {"spec": {"serviceAccountName": "runner"}}}, None),
        ({"podTemplate": {"spec": {"automountServiceAccountToken": True}}}, False),
    ],
    ids=["no-account", "spec-account", "template-account", "template-cannot-force-a-token"],
)
def test_a_token_only_for_a_named_service_account(
    changes: dict[str, Any], automount: bool | None
) -> None:
    assert pod_for(**changes)["spec"].get("automountServiceAccountToken") == automount


def test_builder_does_not_share_the_template() -> None:
    spec = TaskSpec.from_dict({**SPEC, "podTemplate": {"spec": {"nodeSelector": {"a": "b"}}}})
    build_pod(OWNER, spec, 1, SETTINGS)["spec"]["nodeSelector"]["a"] = "changed"
    assert build_pod(OWNER, spec, 1, SETTINGS)["spec"]["nodeSelector"] == {"a": "b"}


@pytest.mark.parametrize(
    ("base", "ours", "expected"),
    [
        ({"a": 1, "b": {"c": 2}}, {"b": {"d": 3}}, {"a": 1, "b": {"c": 2, "d": 3}}),
        ([{"name": "x", "v": 1}], [{"name": "y"}], [{"name": "y"}, {"name": "x", "v": 1}]),
        ([1, 2], [3], [3]),
        ("theirs", "ours", "ours"),
    ],
    ids=["mappings", "named-lists", "plain-lists", "scalars"],
)
def test_overlay(base: Any, ours: Any, expected: Any) -> None:
    assert overlay(base, ours) == expected


@pytest.mark.parametrize(
    ("task", "attempt", "expected"),
    [
        ("area", 1, "area-1"),
        ("a" * 61, 1, "a" * 61 + "-1"),
    ],
    ids=["short", "fits-exactly"],
)
def test_pod_name(task: str, attempt: int, expected: str) -> None:
    assert naming.pod_name(task, attempt) == expected


def test_long_pod_names_are_cut_and_stay_distinct() -> None:
    one = naming.pod_name("x" * 100 + "-one", 10)
    two = naming.pod_name("x" * 100 + "-two", 10)
    assert len(one) == 63 and len(two) == 63
    assert one != two
    assert one.endswith("-10")
    assert naming.pod_name("x" * 100 + "-one", 10) == one
