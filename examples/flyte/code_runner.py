"""A code runner: the program to run is a File input named like a file (``script.py``), found
by path in the input directory, as Flyte passes File inputs."""

from containertask import ContainerTask, File

python_code_runner = ContainerTask(
    name="python_code_runner",
    image="docker.io/library/python:3.11-slim",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs={"script.py": File, "a": int, "b": int},
    outputs={"result": int},
    command=[
        "/bin/sh",
        "-c",
        "python /var/inputs/script.py {{.inputs.a}} {{.inputs.b}} > /var/outputs/result",
    ],
)
