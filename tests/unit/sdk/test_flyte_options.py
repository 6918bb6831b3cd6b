"""Every Flyte keyword of ContainerTask and override(), mapped to the resource's fields."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes.client import V1Container, V1PodSpec, V1SecurityContext

import containertask
from containertask import Cache, ContainerTask, PodTemplate, Resources, Secret
from containertask.sdk import manifest, options

pytestmark = pytest.mark.unit


def task(**kwargs: Any) -> ContainerTask:
    return ContainerTask(
        name="t",
        image="busybox",
        command=["sh", "-c", "echo {{.inputs.a}} > /var/outputs/o"],
        inputs={"a": int},
        outputs={"o": int},
        **kwargs,
    )


@pytest.mark.parametrize(
    ("image", "uri"),
    [
        ("auto", options.DEFAULT_IMAGE),
        (containertask.Image.from_base("ghcr.io/o/t:1"), "ghcr.io/o/t:1"),
        (containertask.Image.from_debian_base(), options.DEFAULT_IMAGE),
    ],
)
def test_images(image: Any, uri: str) -> None:
    assert ContainerTask(name="t", image=image, command=["true"]).image == uri


def test_resources_follow_flyte() -> None:
    spec = task(resources=Resources(cpu="1", memory="1Gi", gpu="T4:2", disk="10Gi", shm="2Gi"))
    d = spec.definition.to_dict()
    both = {"cpu": "1", "memory": "1Gi", "ephemeral-storage": "10Gi", "nvidia.com/gpu": "2"}
    assert d["resources"] == {"requests": both, "limits": both}
    assert d["accelerator"] == "nvidia-tesla-t4"
    assert d["sharedMemory"] == "2Gi"
    assert task(resources=Resources(gpu="A100 80G:8")).definition.accelerator == "nvidia-a100-80gb"


def test_secrets_follow_flyte() -> None:
    spec = task(
        secrets=[
            Secret(key="openai-key", as_env_var="OPENAI_API_KEY"),
            Secret(key="token", group="github"),
            Secret(key="cert.pem", group="tls", mount="/etc/flyte/secrets"),
        ]
    ).definition
    assert spec.env == (
        {
            "name": "OPENAI_API_KEY",
            "valueFrom": {"secretKeyRef": {"name": "openai-key", "key": "openai-key"}},
        },
        {"name": "GITHUB_TOKEN", "valueFrom": {"secretKeyRef": {"name": "github", "key": "token"}}},
    )
    assert spec.pod_template == {
        "spec": {
            "volumes": [
                {
                    "name": "secret-0",
                    "secret": {
                        "secretName": "tls",
                        "items": [{"key": "cert.pem", "path": "cert.pem"}],
                    },
                }
            ],
            "containers": [
                {
                    "name": "main",
                    "volumeMounts": [
                        {
                            "name": "secret-0",
                            "mountPath": "/etc/flyte/secrets/tls/cert.pem",
                            "subPath": "cert.pem",
                            "readOnly": True,
                        }
                    ],
                }
            ],
        }
    }


def test_pod_template_object_and_name() -> None:
    template = PodTemplate(
        pod_spec=V1PodSpec(
            containers=[
                V1Container(name="primary", security_context=V1SecurityContext(run_as_user=7))
            ],
            priority_class_name="batch",
        ),
        labels={"team": "a"},
        annotations={"note": "x"},
    )
    spec = task(pod_template=template).definition
    assert spec.pod_template == {
        "metadata": {"labels": {"team": "a"}, "annotations": {"note": "x"}},
        "spec": {
            "containers": [{"name": "primary", "securityContext": {"runAsUser": 7}}],
            "priorityClassName": "batch",
        },
    }
    assert spec.primary_container_name == "primary"
    named = task(pod_template="gpu-pods").definition
    assert (named.pod_template_name, named.pod_template) == ("gpu-pods", None)


def test_file_secrets_go_to_the_primary_container_of_a_pod_template() -> None:
    template = PodTemplate(
        pod_spec={"containers": [{"name": "work", "tty": True}]}, primary_container_name="work"
    )
    spec = task(pod_template=template, secrets=Secret(key="k", mount="/etc/flyte/secrets"))
    (container,) = spec.definition.pod_template["spec"]["containers"]  # type: ignore[index]
    assert container["name"] == "work" and container["tty"] is True
    assert container["volumeMounts"][0]["mountPath"] == "/etc/flyte/secrets/k"


def test_scheduling_and_size_options() -> None:
    spec = task(queue="team-a", interruptible=True, max_inline_io_bytes=4096).definition
    assert (spec.queue, spec.interruptible, spec.max_inline_io_bytes) == ("team-a", True, 4096)


def test_short_name_and_docs_name_and_describe_the_resource() -> None:
    t = task(short_name="Area", docs="The area of an ellipse.")
    m = t.to_manifest(a=1)
    assert m["metadata"]["name"].startswith("area-")
    assert m["metadata"]["annotations"][manifest.SHORT_NAME_ANNOTATION] == "Area"
    assert m["metadata"]["annotations"][manifest.DOCS_ANNOTATION] == "The area of an ellipse."


def test_file_input_layout_takes_flytes_names() -> None:
    assert (
        task(file_input_layout="NAMED_DIR").definition.data_loading.file_input_layout == "namedDir"
    )


@pytest.mark.parametrize("reusable", [None, "off"])
def test_reusable_off_is_accepted(reusable: Any) -> None:
    task(reusable=reusable)


def test_override_accepts_every_flyte_keyword() -> None:
    changed = task().override(
        short_name="s",
        resources=Resources(cpu=2),
        cache=Cache("override", version_override="v1"),
        retries=2,
        timeout=60,
        reusable="off",
        env_vars={"A": "1"},
        secrets="k",
        max_inline_io_bytes=100,
        pod_template="tpl",
        queue="q",
        interruptible=True,
    )
    d = changed.definition
    assert (changed.short_name, d.cache_version, d.retries.limit, d.timeout_seconds) == (
        "s",
        "v1",
        2,
        60,
    )
    assert (d.max_inline_io_bytes, d.pod_template_name, d.queue, d.interruptible) == (
        100,
        "tpl",
        "q",
        True,
    )


def test_a_local_file_needs_a_place_to_be_uploaded(monkeypatch: pytest.MonkeyPatch) -> None:
    from containertask.sdk import uploads

    monkeypatch.delenv(uploads.LOCATION_ENV, raising=False)
    t = ContainerTask(name="f", image="busybox", command=["true"], inputs={"f": containertask.File})
    spec = t.spec(f=containertask.File.from_local("/etc/hostname"))
    with pytest.raises(containertask.SpecError, match="no location is set"):
        uploads.upload_local_inputs(spec, None)


def test_uploads_go_below_the_location(tmp_path: Any) -> None:
    from containertask.sdk import uploads

    src = tmp_path / "in.txt"
    src.write_text("x")
    t = ContainerTask(name="f", image="busybox", command=["true"], inputs={"f": containertask.File})
    spec = uploads.upload_local_inputs(t.spec(f=src), (tmp_path / "store").as_uri())
    (uploaded,) = spec.inputs
    assert uploaded.uri is not None and uploaded.uri.endswith("/f/in.txt")
    assert uploaded.uri.startswith((tmp_path / "store" / "uploads").as_uri())
    assert (tmp_path / uploaded.uri.removeprefix(tmp_path.as_uri() + "/")).read_text() == "x"


def test_file_and_dir_constructors() -> None:
    f = containertask.File(path="s3://b/k.csv")
    assert f.uri == "s3://b/k.csv" and f.name == "k.csv" and not f.is_local
    assert containertask.File.from_existing_remote("s3://b/k") == containertask.File("s3://b/k")
    local = containertask.Dir.from_local("data")
    assert local.is_local and local.path.endswith("/data")
    assert containertask.Directory is containertask.Dir


def test_from_local_can_be_awaited_as_in_flyte() -> None:
    import asyncio

    async def make() -> containertask.File:
        return await containertask.File.from_local("/tmp/x")

    assert asyncio.run(make()) == containertask.File("/tmp/x")


def test_task_template_carries_flytes_fields() -> None:
    template = task(
        resources=Resources(gpu="T4:1", shm="auto"),
        interruptible=True,
        cache=Cache("auto", serialize=True, ignored_inputs="a"),
        pod_template="gpu-pods",
    ).to_task_template()
    assert template.extended_resources.gpu_accelerator.device == "nvidia-tesla-t4"
    assert template.extended_resources.shared_memory.mount_path == "/dev/shm"
    metadata = template.metadata
    assert metadata.interruptible and metadata.cache_serializable
    assert list(metadata.cache_ignore_input_vars) == ["a"]
    assert metadata.pod_template_name == "gpu-pods"
