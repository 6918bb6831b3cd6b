"""containertask: run typed container tasks on Kubernetes.

Define a task as with ``flyte.extras.ContainerTask``, render it as a manifest, or run it::

    import containertask

    area = containertask.ContainerTask(
        name="ellipse-area",
        image="ghcr.io/example/shell:1",
        command=["./area.sh", "{{.inputs.a}}", "{{.inputs.b}}", "/var/outputs"],
        inputs={"a": float, "b": float},
        outputs={"area": float},
    )
    print(area.to_yaml(a=3.0, b=4.0))          # for kubectl apply -f -
    run = containertask.run(area, a=3.0, b=4.0)
    run.wait(progress=True)
    print(run.outputs()["area"])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Public names and the module that defines each. They load on first use, so the operator and the
# copilot (which import containertask.controller / containertask.copilot) never pay for the SDK
# and its Kubernetes client.
_EXPORTS = {
    "SpecError": "containertask.api.errors",
    "Backoff": "containertask.api.spec",
    "Retries": "containertask.api.spec",
    "Phase": "containertask.api.status",
    "TaskStatus": "containertask.api.status",
    "Dir": "containertask.api.types",
    "Directory": "containertask.api.types",
    "File": "containertask.api.types",
    "RunDeletedError": "containertask.sdk.errors",
    "RunFailedError": "containertask.sdk.errors",
    "RunNotFinishedError": "containertask.sdk.errors",
    "RunTimeoutError": "containertask.sdk.errors",
    "TaskError": "containertask.sdk.errors",
    "LocalExecutionUnavailableError": "containertask.sdk.local",
    "LocalRunError": "containertask.sdk.local",
    "Cache": "containertask.sdk.options",
    "Image": "containertask.sdk.options",
    "PodTemplate": "containertask.sdk.options",
    "Resources": "containertask.sdk.options",
    "RetryStrategy": "containertask.sdk.options",
    "Secret": "containertask.sdk.options",
    "Timeout": "containertask.sdk.options",
    "LocalRun": "containertask.sdk.run",
    "Run": "containertask.sdk.run",
    "RunContext": "containertask.sdk.run",
    "arun": "containertask.sdk.run",
    "run": "containertask.sdk.run",
    "with_runcontext": "containertask.sdk.run",
    "ContainerTask": "containertask.sdk.task",
    "NativeInterface": "containertask.sdk.task",
}

__all__ = [
    "Backoff",
    "Cache",
    "ContainerTask",
    "Dir",
    "Directory",
    "File",
    "Image",
    "LocalExecutionUnavailableError",
    "LocalRun",
    "LocalRunError",
    "NativeInterface",
    "Phase",
    "PodTemplate",
    "Resources",
    "Retries",
    "RetryStrategy",
    "Run",
    "RunContext",
    "RunDeletedError",
    "RunFailedError",
    "RunNotFinishedError",
    "RunTimeoutError",
    "Secret",
    "SpecError",
    "TaskError",
    "TaskStatus",
    "Timeout",
    "arun",
    "run",
    "with_runcontext",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'containertask' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from containertask.api.errors import SpecError
    from containertask.api.spec import Backoff, Retries
    from containertask.api.status import Phase, TaskStatus
    from containertask.api.types import Dir, Directory, File
    from containertask.sdk.errors import (
        RunDeletedError,
        RunFailedError,
        RunNotFinishedError,
        RunTimeoutError,
        TaskError,
    )
    from containertask.sdk.local import LocalExecutionUnavailableError, LocalRunError
    from containertask.sdk.options import (
        Cache,
        Image,
        PodTemplate,
        Resources,
        RetryStrategy,
        Secret,
        Timeout,
    )
    from containertask.sdk.run import LocalRun, Run, RunContext, arun, run, with_runcontext
    from containertask.sdk.task import ContainerTask, NativeInterface
