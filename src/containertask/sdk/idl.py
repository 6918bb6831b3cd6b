"""A ContainerTask as Flyte sees it: flyteidl2 ``DataLoadingConfig`` and ``TaskTemplate``.

The task type is ``raw-container`` with copilot data loading, Flyte's own description of a raw
container task, so Flyte tooling can read a task defined here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from flyteidl2.core import identifier_pb2, interface_pb2, literals_pb2, tasks_pb2
from google.protobuf import duration_pb2, struct_pb2

from containertask.api import values
from containertask.api.spec import SHARED_MEMORY_AUTO, DataLoading, TaskSpec
from containertask.api.types import TypeRef

TASK_TYPE: Final = "raw-container"
_DOWNLOAD: Final = {
    "eager": tasks_pb2.IOStrategy.DOWNLOAD_EAGER,
    "stream": tasks_pb2.IOStrategy.DOWNLOAD_STREAM,
    "none": tasks_pb2.IOStrategy.DO_NOT_DOWNLOAD,
}
_UPLOAD: Final = {
    "onExit": tasks_pb2.IOStrategy.UPLOAD_ON_EXIT,
    "eager": tasks_pb2.IOStrategy.UPLOAD_EAGER,
    "none": tasks_pb2.IOStrategy.DO_NOT_UPLOAD,
}
_LAYOUT: Final = {
    "direct": tasks_pb2.DataLoadingConfig.DIRECT,
    "namedDir": tasks_pb2.DataLoadingConfig.NAMED_DIR,
}
_RESOURCE_NAMES: Final = {
    "cpu": tasks_pb2.Resources.CPU,
    "memory": tasks_pb2.Resources.MEMORY,
    "nvidia.com/gpu": tasks_pb2.Resources.GPU,
    "ephemeral-storage": tasks_pb2.Resources.EPHEMERAL_STORAGE,
}


def data_loading_config(dl: DataLoading) -> tasks_pb2.DataLoadingConfig:
    return tasks_pb2.DataLoadingConfig(
        enabled=True,
        input_path=dl.input_path,
        output_path=dl.output_path,
        format=tasks_pb2.DataLoadingConfig.LiteralMapFormat.Value(dl.format),
        io_strategy=tasks_pb2.IOStrategy(
            download_mode=_DOWNLOAD[dl.download_mode], upload_mode=_UPLOAD[dl.upload_mode]
        ),
        file_input_layout=_LAYOUT[dl.file_input_layout],
    )


def _variables(types: Mapping[str, TypeRef]) -> interface_pb2.VariableMap:
    return interface_pb2.VariableMap(
        variables=[
            interface_pb2.VariableEntry(
                key=name, value=interface_pb2.Variable(type=values.literal_type(t))
            )
            for name, t in types.items()
        ]
    )


def _resources(spec: TaskSpec) -> tasks_pb2.Resources:
    """Requests and limits Flyte has names for; the full value is in the template's custom."""
    given = spec.resources or {}

    def entries(kind: str) -> list[tasks_pb2.Resources.ResourceEntry]:
        return [
            tasks_pb2.Resources.ResourceEntry(name=_RESOURCE_NAMES[k], value=str(v))
            for k, v in (given.get(kind) or {}).items()
            if k in _RESOURCE_NAMES
        ]

    return tasks_pb2.Resources(requests=entries("requests"), limits=entries("limits"))


def _metadata(spec: TaskSpec) -> tasks_pb2.TaskMetadata:
    metadata = tasks_pb2.TaskMetadata(
        runtime=tasks_pb2.RuntimeMetadata(flavor="containertask"),
        retries=literals_pb2.RetryStrategy(retries=spec.retries.limit),
        discoverable=spec.cache_version is not None,
        discovery_version=spec.cache_version or "",
        interruptible=spec.interruptible,
        cache_serializable=spec.cache_serialize,
        cache_ignore_input_vars=list(spec.cache_ignored_inputs),
        pod_template_name=spec.pod_template_name or "",
    )
    if spec.timeout_seconds is not None:
        metadata.timeout.CopyFrom(duration_pb2.Duration(seconds=spec.timeout_seconds))
    return metadata


def _extended_resources(spec: TaskSpec) -> tasks_pb2.ExtendedResources | None:
    """The accelerator and /dev/shm, as flyte-sdk describes them."""
    if spec.accelerator is None and spec.shared_memory is None:
        return None
    extended = tasks_pb2.ExtendedResources()
    if spec.accelerator:
        extended.gpu_accelerator.device = spec.accelerator
    if spec.shared_memory is not None:
        extended.shared_memory.mount_path = "/dev/shm"
        extended.shared_memory.mount_name = "flyte-shm"
        if spec.shared_memory != SHARED_MEMORY_AUTO:
            extended.shared_memory.size_limit = spec.shared_memory
    return extended


def task_template(
    name: str,
    definition: TaskSpec,
    config: Mapping[str, str],
    custom: Mapping[str, Any],
    version: str,
) -> tasks_pb2.TaskTemplate:
    """``definition`` is the task's spec; its input values are not part of a template."""
    plain_env = [
        literals_pb2.KeyValuePair(key=e["name"], value=e["value"])
        for e in definition.env
        if isinstance(e.get("value"), str)
    ]
    custom_struct = struct_pb2.Struct()
    custom_struct.update(dict(custom))
    return tasks_pb2.TaskTemplate(
        id=identifier_pb2.Identifier(resource_type=identifier_pb2.TASK, name=name, version=version),
        type=TASK_TYPE,
        metadata=_metadata(definition),
        interface=interface_pb2.TypedInterface(
            inputs=_variables(definition.input_types), outputs=_variables(definition.output_types)
        ),
        container=tasks_pb2.Container(
            image=definition.image,
            command=list(definition.entrypoint),
            args=list(definition.container_args),
            resources=_resources(definition),
            env=plain_env,
            data_config=data_loading_config(definition.data_loading),
        ),
        custom=custom_struct,
        config=dict(config),
        extended_resources=_extended_resources(definition),
    )
