"""A greeting: a string in, a string out, in a plain shell image."""

from containertask import ContainerTask, Image

greeting_task = ContainerTask(
    name="echo_and_return_greeting",
    image=Image.from_base("docker.io/library/busybox:1.36"),
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs={"name": str},
    outputs={"greeting": str},
    command=[
        "/bin/sh",
        "-c",
        "echo 'Hello, my name is {{.inputs.name}}.' | tee -a /var/outputs/greeting",
    ],
)
