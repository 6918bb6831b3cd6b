"""Running a task directly (``task(x=1)``): the place where a local container engine plugs in.

Not available yet; the error says how to run the task on Kubernetes instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class LocalExecutionUnavailableError(NotImplementedError):
    """A direct call needs a local container engine, which containertask does not drive yet."""


def execute(task_name: str, inputs: Mapping[str, Any]) -> Any:
    """Run the task in a local container and return its outputs (one value, a tuple, or None)."""
    args = ", ".join(f"{k}=..." for k in inputs)
    raise LocalExecutionUnavailableError(
        f"calling ContainerTask {task_name!r} directly runs it in a local container engine, "
        "which containertask does not support yet; run it on Kubernetes instead with "
        f"containertask.run(task, {args}) or task.submit({args})"
    )
