"""Errors of the SDK: a task defined or called wrongly, and a run that did not succeed."""

from __future__ import annotations

from containertask.api.errors import SpecError
from containertask.api.status import TaskStatus


class TaskError(SpecError):
    """A ContainerTask was defined or called with a value that is not allowed.

    ``field`` uses the SDK's names (``metadata_format``, ``inputs.x``), not the resource's."""

    def __init__(self, task: str, cause: SpecError, field: str | None = None) -> None:
        super().__init__(field or cause.field, cause.problem, cause.value, allowed=cause.allowed)
        self.task = task
        self.args = (f"ContainerTask {task!r}: {self.args[0]}",)


class RunFailedError(RuntimeError):
    """A run ended Failed or Cancelled; carries its phase, reason, message and exit code."""

    def __init__(self, name: str, namespace: str, status: TaskStatus) -> None:
        self.name, self.namespace, self.status = name, namespace, status
        self.phase = status.phase
        self.reason = status.reason
        self.message = status.message
        last = status.attempts[-1] if status.attempts else None
        self.exit_code = last.exit_code if last else None
        details = [f"reason={self.reason}" if self.reason else "", f"exit code {self.exit_code}"]
        if self.exit_code is None:
            details.pop()
        text = f"ContainerTask {namespace}/{name} {self.phase.value}"
        text += f" after {len(status.attempts)} attempt(s)"
        extra = ", ".join(d for d in details if d)
        if extra:
            text += f" ({extra})"
        if self.message:
            text += f": {self.message}"
        super().__init__(text)


class RunTimeoutError(TimeoutError):
    """``wait(timeout=...)`` elapsed before the run finished (the run itself goes on)."""


class RunNotFinishedError(RuntimeError):
    """Outputs or logs were asked for before the run produced them."""


class RunDeletedError(RuntimeError):
    """The resource was deleted while waiting for it."""
