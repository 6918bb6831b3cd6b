"""A local container engine for tests of local execution: dockerd or Podman's service, and the
test images (``mkimage``), made without a registry.

Entry points: ``hack/engine`` (CLI) and the pytest fixture in ``tests/integration/local/``.
"""

from localengine.engine import KINDS, Engine, session

__all__ = ["KINDS", "Engine", "session"]
