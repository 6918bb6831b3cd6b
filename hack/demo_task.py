"""Runs the README's example task on the local cluster and prints its typed outputs.

kwok nodes run no containers: they play each container's part from pod annotations. This script
plays the main container's part (it computes what ``area.sh`` would write) and hands kwok the
uploader's report for it; everything else, the resource, the operator, the scheduler, the pod,
its status and the SDK reading outputs back, is the real thing.
"""

from __future__ import annotations

import math
import os

import containertask
from containertask.api.contract import UploadResult
from examples.ellipse import ellipse_area

A, B = 3.0, 4.0
SIMULATED_URI = f"s3://{os.environ['CONTAINERTASK_TEST_BUCKET']}/demo/metadata"


def main() -> None:
    report = UploadResult(ok=True, outputs={"area": math.pi * A * B, "metadata": SIMULATED_URI})
    task = ellipse_area.override(
        pod_template={
            "metadata": {
                "annotations": {"sim.containertask.io/message.uploader": report.to_message()}
            }
        }
    )
    run = containertask.run(task, a=A, b=B)
    print(f"demo: submitted ContainerTask {run.namespace}/{run.name}")
    run.wait(progress=True)
    print(f"demo: outputs {run.outputs()}")


if __name__ == "__main__":
    main()
