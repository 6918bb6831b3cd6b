"""Directories in and out: count the files of a Dir input and write an upper-cased copy of each
into a Dir output."""

from containertask import ContainerTask, Dir

shout_files = ContainerTask(
    name="shout_files",
    image="docker.io/library/busybox:1.36",
    input_data_dir="/var/inputs",
    output_data_dir="/var/outputs",
    inputs={"docs": Dir},
    outputs={"count": int, "shouted": Dir},
    command=[
        "/bin/sh",
        "-c",
        "mkdir -p /var/outputs/shouted"
        " && for f in /var/inputs/docs/*; do"
        ' tr a-z A-Z < "$f" > "/var/outputs/shouted/$(basename "$f")"; done'
        " && ls /var/inputs/docs | wc -l > /var/outputs/count",
    ],
)
