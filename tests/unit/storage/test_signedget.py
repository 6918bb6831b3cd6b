"""When ranges may bypass obstore: only with no proxy configured (obstore honours one)."""

from __future__ import annotations

import pytest

from containertask.storage import signedget

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("environ", "usable"),
    [
        ({}, True),
        ({"NO_PROXY": "127.0.0.1"}, True),
        ({"HTTPS_PROXY": "http://proxy:3128"}, False),
        ({"http_proxy": "http://proxy:3128"}, False),
        ({"ALL_PROXY": "socks5://proxy:1080"}, False),
        ({"HTTPS_PROXY": ""}, True),
    ],
)
def test_presigned_ranges_only_without_a_proxy(environ: dict[str, str], usable: bool) -> None:
    assert signedget.usable(environ) is usable
