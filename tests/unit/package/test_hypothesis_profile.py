"""The property tests' profile: no wall-clock limits unless asked for (see tests/conftest.py)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

pytestmark = pytest.mark.unit


@pytest.mark.skipif(
    os.environ.get("HYPOTHESIS_PROFILE", "ci") != "ci", reason="another profile was asked for"
)
def test_property_tests_run_without_wall_clock_limits() -> None:
    default = settings.default
    assert default is not None
    assert default.deadline is None
    assert HealthCheck.too_slow in default.suppress_health_check
