"""The ellipse area in shell (Flyte's ``calculate_ellipse_area_shell``)."""

from containertask import ContainerTask

calculate_ellipse_area_shell = ContainerTask(
    name="ellipse-area-metadata-shell",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs={"a": float, "b": float},
    outputs={"area": float, "metadata": str},
    image="ghcr.io/flyteorg/rawcontainers-shell:v2",
    command=[
        "./calculate-ellipse-area.sh",
        "{{.inputs.a}}",
        "{{.inputs.b}}",
        "/var/outputs",
    ],
)
