"""Names shared by the SDK, the operator and the copilot."""

from typing import Final

GROUP: Final = "containertask.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
KIND: Final = "ContainerTask"
PLURAL: Final = "containertasks"
SINGULAR: Final = "containertask"
SHORT_NAME: Final = "ct"
CRD_NAME: Final = f"{PLURAL}.{GROUP}"

# Containers of a task's pod.
MAIN_CONTAINER: Final = "main"
DOWNLOADER_CONTAINER: Final = "downloader"
UPLOADER_CONTAINER: Final = "uploader"

# Labels the operator puts on pods, and the annotation on the resource that cancels it.
LABEL_TASK: Final = f"{GROUP}/task"
LABEL_ATTEMPT: Final = f"{GROUP}/attempt"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
# Holds each pod until its attempt's result is in the task's status (as the Job controller's
# batch.kubernetes.io/job-tracking does), so pod garbage collection cannot lose a result.
TRACKING_FINALIZER: Final = f"{GROUP}/tracking"

# Environment variable that carries the copilot's configuration (a JSON CopilotConfig).
COPILOT_CONFIG_ENV: Final = "CONTAINERTASK_COPILOT_CONFIG"

# Files in the input and output directories (Flyte copilot's names, so Flyte images work unchanged).
INPUTS_PB: Final = "inputs.pb"
OUTPUTS_PB: Final = "outputs.pb"
ERROR_FILE: Final = "_ERROR"

DEFAULT_INPUT_PATH: Final = "/var/inputs"
DEFAULT_OUTPUT_PATH: Final = "/var/outputs"

# Volumes of a task's pod: the data directories and the helpers' own /tmp.
INPUTS_VOLUME: Final = "inputs"
OUTPUTS_VOLUME: Final = "outputs"
COPILOT_TMP_VOLUME: Final = "copilot-tmp"

# Kernel file systems: never an input or output directory, never read as an output.
KERNEL_PATHS: Final = ("/proc", "/sys", "/dev")
