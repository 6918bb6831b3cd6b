"""Errors of the resource model: every one names the field, the value and what is allowed."""

from __future__ import annotations

from typing import Any


class SpecError(ValueError):
    """A ContainerTask field holds a value that is not allowed."""

    def __init__(self, field: str, problem: str, value: Any = None, *, allowed: str = "") -> None:
        self.field = field
        self.problem = problem
        self.value = value
        self.allowed = allowed
        text = f"{field}: {problem}"
        if value is not None:
            text += f" (got {value!r})"
        if allowed:
            text += f"; allowed: {allowed}"
        super().__init__(text)
