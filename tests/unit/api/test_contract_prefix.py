"""outside_prefix: an uploader's report may name only objects below its attempt's prefix."""

from __future__ import annotations

from typing import Any

import pytest

from containertask.api import TypeRef, UploadResult
from containertask.api.contract import outside_prefix

pytestmark = pytest.mark.unit

PREFIX = "s3://b/runs/ns/task/uid/attempt-1/"
TYPES = {
    "f": TypeRef.parse("file"),
    "n": TypeRef.parse("int"),
    "d": TypeRef.parse("list[directory]"),
}


@pytest.mark.parametrize(
    ("prefix", "fields", "inside"),
    [
        (PREFIX, {"outputs_uri": f"{PREFIX}outputs.pb"}, True),
        (PREFIX.rstrip("/"), {"outputs_uri": f"{PREFIX}outputs.pb"}, True),
        (PREFIX, {"outputs": {"f": f"{PREFIX}f", "d": [f"{PREFIX}d/0"], "n": 3}}, True),
        (PREFIX, {}, True),
        (None, {"outputs_uri": f"{PREFIX}outputs.pb"}, False),
        (PREFIX, {"outputs_uri": "s3://b/runs/ns/task/uid/attempt-10/outputs.pb"}, False),
        (PREFIX, {"outputs_uri": f"{PREFIX}./outputs.pb"}, False),
        (PREFIX, {"outputs_uri": f"{PREFIX}a//outputs.pb"}, False),
        (PREFIX, {"outputs_uri": PREFIX}, False),
        (PREFIX, {"outputs": {"d": [f"{PREFIX}d/0", "gs://other/x"]}}, False),
        (PREFIX, {"outputs": {"f": 42}}, False),
    ],
    ids=[
        "outputs-pb",
        "prefix-without-slash",
        "inline-blobs",
        "nothing-named",
        "no-prefix",
        "longer-attempt-number",
        "dot-segment",
        "empty-segment",
        "the-prefix-itself",
        "one-of-a-list",
        "not-a-uri",
    ],
)
def test_outside_prefix(prefix: str | None, fields: dict[str, Any], inside: bool) -> None:
    problem = outside_prefix(UploadResult(ok=True, **fields), prefix, TYPES)
    assert (problem is None) is inside, problem
