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

from containertask.api.errors import SpecError
from containertask.api.spec import Backoff, Retries
from containertask.api.status import Phase, TaskStatus
from containertask.api.types import Directory, File
from containertask.sdk.errors import (
    RunDeletedError,
    RunFailedError,
    RunNotFinishedError,
    RunTimeoutError,
    TaskError,
)
from containertask.sdk.local import LocalExecutionUnavailableError
from containertask.sdk.options import Image, Resources, RetryStrategy, Secret, Timeout
from containertask.sdk.run import Run, RunContext, arun, run, with_runcontext
from containertask.sdk.task import ContainerTask, NativeInterface

__all__ = [
    "Backoff",
    "ContainerTask",
    "Directory",
    "File",
    "Image",
    "LocalExecutionUnavailableError",
    "NativeInterface",
    "Phase",
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
