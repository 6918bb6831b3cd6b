"""``test_copilot_minio`` as tests import it, from ``tests/integration/copilot`` on pytest's path.

That directory holds a ``conftest.py`` so it cannot be on mypy's path (see ``[tool.mypy]`` in
``pyproject.toml``): this stub names its module instead, re-exporting everything."""

from tests.integration.copilot.test_copilot_minio import *  # noqa: F403
