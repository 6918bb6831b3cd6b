"""The ellipse area in Python (Flyte's ``calculate_ellipse_area_python``), with the template
spellings Flyte's backend also accepts."""

from containertask import ContainerTask

calculate_ellipse_area_python = ContainerTask(
    name="ellipse-area-metadata-python",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs={"a": float, "b": float},
    outputs={"area": float, "metadata": str},
    image="ghcr.io/flyteorg/rawcontainers-python:v2",
    command=[
        "python",
        "calculate-ellipse-area.py",
        "{{.Inputs.a}}",
        "{{ $inputs.b }}",
        "/var/outputs",
    ],
)
