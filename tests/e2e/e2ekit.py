"""Types the e2e fixtures hand to tests."""

from __future__ import annotations

from dataclasses import dataclass

from localcluster.images import Image


@dataclass(frozen=True)
class ChartOperator:
    """The chart's operator, installed with the local image."""

    release: str
    namespace: str  # where the operator runs and the tasks it watches live
    image: Image
