"""Pieces of local execution that need no engine (the engine's part: tests/integration/local)."""

from __future__ import annotations

from pathlib import Path

import pytest

from containertask import ContainerTask
from containertask.sdk import local

pytestmark = pytest.mark.unit


def test_log_lines_are_whole_even_when_chunks_split_them() -> None:
    chunks = [b"fir", b"st\nsec", b"ond\r\nthi", b"rd"]  # Podman's stream splits mid-line
    assert list(local._lines(iter(chunks))) == ["first", "second", "third"]


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [({}, None), ({"a": 1}, 1), ({"a": 1, "b": "x"}, (1, "x"))],
)
def test_a_direct_call_returns_none_one_value_or_a_tuple(
    outputs: dict[str, object], expected: object
) -> None:
    task = ContainerTask("t", "busybox", "true", outputs={k: type(v) for k, v in outputs.items()})
    assert local.result(task, local.LocalResult(outputs, 0, [], Path("/x"))) == expected


@pytest.mark.parametrize(("quantity", "size"), [("64Mi", 64 * 2**20), ("1G", 10**9), ("512", 512)])
def test_shm_sizes(quantity: str, size: int) -> None:
    assert local._bytes(quantity) == size
