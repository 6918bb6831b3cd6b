"""``e2ekit`` as tests import it, from ``tests/e2e`` on pytest's path.

That directory holds a ``conftest.py`` so it cannot be on mypy's path (see ``[tool.mypy]`` in
``pyproject.toml``): this stub names its module instead, re-exporting everything."""

from tests.e2e.e2ekit import *  # noqa: F403
