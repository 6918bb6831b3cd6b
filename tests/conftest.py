"""Shared test setup: makes ``hack/`` importable so tests can use ``localcluster`` and
``localengine``, and the repository root so they can import ``examples``; registers the hypothesis
profiles.

Property tests run under the ``ci`` profile unless ``HYPOTHESIS_PROFILE`` names another: no
per-example deadline and no wall-clock health checks, which fail on a loaded 2-core machine
(``FailedHealthCheck: Input generation is slow``) without saying anything about the code. The
``dev`` profile keeps hypothesis' defaults for finding slow strategies on purpose.
"""

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

_ROOT = Path(__file__).resolve().parents[1]
for _path in (str(_ROOT / "hack"), str(_ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
