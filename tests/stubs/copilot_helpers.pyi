"""``copilot_helpers`` as tests import it, from ``tests/unit/copilot`` on pytest's path.

That directory holds a ``conftest.py`` so it cannot be on mypy's path (see ``[tool.mypy]`` in
``pyproject.toml``): this stub names its module instead, re-exporting everything."""

from tests.unit.copilot.copilot_helpers import *  # noqa: F403
