"""``operatorkit`` as tests import it, from ``tests/integration/operator`` on pytest's path.

That directory holds a ``conftest.py`` so it cannot be on mypy's path (see ``[tool.mypy]`` in
``pyproject.toml``): this stub names its module instead, re-exporting everything."""

from tests.integration.operator.operatorkit import *  # noqa: F403
