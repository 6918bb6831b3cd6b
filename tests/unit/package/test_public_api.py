"""The package's public names resolve lazily, so the operator and copilot never load the SDK."""

from __future__ import annotations

import subprocess
import sys

import pytest

import containertask

pytestmark = pytest.mark.unit


def test_every_public_name_resolves_to_its_module() -> None:
    assert sorted(containertask.__all__) == sorted(containertask._EXPORTS)
    for name in containertask.__all__:
        assert getattr(containertask, name).__module__.startswith("containertask.")


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = containertask.nope


@pytest.mark.parametrize(
    "module", ["containertask.copilot.entrypoint", "containertask.controller.handlers"]
)
def test_operator_and_copilot_do_not_import_the_sdk(module: str) -> None:
    probe = f"import sys, {module}; print('containertask.sdk' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
