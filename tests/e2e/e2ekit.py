"""Types and helpers the e2e tests share: the chart's operator, tasks written as shell scripts
for the examples image, and the end of a run whatever its phase."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

import containertask
from containertask.api.constants import LABEL_TASK
from containertask.api.status import TaskStatus
from containertask.controller import naming
from containertask.sdk.errors import RunFailedError
from localcluster.images import Image


@dataclass(frozen=True)
class ChartOperator:
    """The chart's operator, installed with the local image."""

    release: str
    namespace: str  # where the operator runs and the tasks it watches live
    image: Image


def shell_task(
    image: Image,
    name: str,
    script: str,
    outputs: Mapping[str, Any] | None = None,
    **options: Any,
) -> containertask.ContainerTask:
    """A task running ``sh -c script`` in the examples image (busybox), with small resources."""
    options.setdefault("resources", containertask.Resources(cpu="50m", memory="32Mi"))
    return containertask.ContainerTask(
        name=name,
        image=image.ref,
        command=["sh", "-c", script],
        outputs=dict(outputs or {}),
        **options,
    )


def final_status(run: containertask.Run, timeout: float = 180) -> TaskStatus:
    """The run's status once it is Succeeded, Failed or Cancelled."""
    try:
        return run.wait(timeout)
    except RunFailedError as failed:
        return failed.status


def wait_for(
    what: str, probe: Callable[[], Any], timeout: float = 60, interval: float = 0.2
) -> Any:
    """``probe()`` once it returns something truthy; ``what`` names it in the timeout error."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout}s (last: {value!r})")
        time.sleep(interval)


def task_pods(api_client: Any, run: containertask.Run) -> list[Any]:
    """The pods of ``run``, by the operator's task label, oldest first."""
    pods = client.CoreV1Api(api_client).list_namespaced_pod(
        run.namespace, label_selector=f"{LABEL_TASK}={naming.label_value(run.name)}"
    )
    return sorted(pods.items, key=lambda p: p.metadata.creation_timestamp)
