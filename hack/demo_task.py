"""Runs the README's example task on the local cluster and prints its typed outputs.

kwok nodes run no containers: they play each container's part from pod annotations. This script
plays the main container's part (it computes what ``area.sh`` would write) and hands kwok the
uploader's report for it, naming the ``metadata`` file below the attempt's own prefix, where the
operator accepts outputs (known once the resource has its uid); everything else, the resource,
the operator, the scheduler, the pod, its status and the SDK reading outputs back, is the real
thing.
"""

from __future__ import annotations

import math
import os
import time

from kubernetes import client, config

import containertask
from containertask.api.contract import UploadResult
from containertask.controller import naming
from examples.ellipse import ellipse_area

A, B = 3.0, 4.0
OUTPUT_LOCATION = f"s3://{os.environ['CONTAINERTASK_TEST_BUCKET']}/demo"  # as hack/demo's operator
SIM = "sim.containertask.io"


def report_for(run: containertask.Run) -> str:
    uid = run.client.get(run.name, run.namespace)["metadata"]["uid"]
    prefix = naming.output_prefix(OUTPUT_LOCATION, run.namespace, run.name, uid, 1)
    outputs = {"area": math.pi * A * B, "metadata": f"{prefix}metadata"}
    return UploadResult(ok=True, outputs=outputs).to_message()


def hand_to_kwok(run: containertask.Run, message: str) -> None:
    """Annotate the attempt's pod with the uploader's report before kwok ends it."""
    core = client.CoreV1Api(config.new_client_from_config())
    pod = naming.pod_name(run.name, 1)
    deadline = time.monotonic() + 60
    while not core.list_namespaced_pod(run.namespace, field_selector=f"metadata.name={pod}").items:
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: pod {pod} not created in 60s")
        time.sleep(0.2)
    patch = {"metadata": {"annotations": {f"{SIM}/message.uploader": message}}}
    core.patch_namespaced_pod(pod, run.namespace, patch)


def main() -> None:
    task = ellipse_area.override(
        pod_template={"metadata": {"annotations": {f"{SIM}/run-seconds": "5"}}}
    )
    run = containertask.run(task, a=A, b=B)
    print(f"demo: submitted ContainerTask {run.namespace}/{run.name}")
    hand_to_kwok(run, report_for(run))
    run.wait(progress=True)
    print(f"demo: outputs {run.outputs()}")


if __name__ == "__main__":
    main()
