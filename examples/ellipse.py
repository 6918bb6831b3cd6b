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

import containertask

ellipse_area = containertask.ContainerTask(
    name="ellipse-area",
    image="docker.io/library/busybox:1.36",
    command=[
        "sh",
        "-c",
        'echo "3.14159265 * $0 * $1" | bc -l > /var/outputs/area'
        ' && echo "a=$0 b=$1" > /var/outputs/metadata',
        "{{.inputs.a}}",
        "{{.inputs.b}}",
    ],
    inputs={"a": float, "b": float},
    outputs={"area": float, "metadata": containertask.File},
    resources=containertask.Resources(cpu="100m", memory="64Mi"),
    retries=containertask.RetryStrategy(count=2, backoff=5),
    timeout=600,
)
