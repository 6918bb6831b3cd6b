"""An example ContainerTask: the area of an ellipse, computed by a shell script in a plain image.

Render it for kubectl::

    containertask render examples/ellipse.py:ellipse_area --input a=3 --input b=4 | kubectl apply -f -

or run it from Python::

    import containertask
    from examples.ellipse import ellipse_area

    run = containertask.run(ellipse_area, a=3.0, b=4.0)
    run.wait(progress=True)
    print(run.outputs())   # {'area': 37.69..., 'metadata': File(uri='s3://.../metadata')}
"""

import os

import containertask

# The examples image: busybox plus examples/*.sh (working directory /examples). The local cluster
# builds it (`hack/cluster images`) and `hack/cluster env` names it in this variable.
IMAGE = os.environ.get("CONTAINERTASK_EXAMPLES_IMAGE", "ghcr.io/containertask/examples:0.1.0")

ellipse_area = containertask.ContainerTask(
    name="ellipse-area",
    image=IMAGE,
    command=["./area.sh", "{{.inputs.a}}", "{{.inputs.b}}", "/var/outputs"],
    inputs={"a": float, "b": float},
    outputs={"area": float, "metadata": containertask.File},
    resources=containertask.Resources(cpu="100m", memory="64Mi"),
    retries=containertask.RetryStrategy(count=2, backoff=5),
    timeout=600,
)
