"""The ContainerTask resource model: the single source of truth for the SDK, operator and copilot."""

from containertask.api.constants import API_VERSION, GROUP, KIND, PLURAL, VERSION
from containertask.api.contract import CopilotConfig, UploadResult
from containertask.api.errors import SpecError
from containertask.api.spec import Backoff, DataLoading, Input, Output, Retries, TaskSpec
from containertask.api.status import Attempt, Phase, TaskStatus
from containertask.api.types import Dir, Directory, File, TypeRef

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "Attempt",
    "Backoff",
    "CopilotConfig",
    "DataLoading",
    "Dir",
    "Directory",
    "File",
    "Input",
    "Output",
    "Phase",
    "Retries",
    "SpecError",
    "TaskSpec",
    "TaskStatus",
    "TypeRef",
    "UploadResult",
]
