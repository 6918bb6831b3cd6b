"""Why the apiserver refused a pod, and whether asking again can help. Pure: status code and
message in, a :class:`Refusal` out.

- Invalid (400, 422: a bad podTemplate) and forbidden by policy (403 from PodSecurity admission, a
  LimitRange, an admission webhook): the same pod would be refused again. The attempt fails at once
  with the API's message, and the task with it: no retry.
- A ResourceQuota that is used up (403 ``exceeded quota``) may free up: asked again with backoff,
  until the pending deadline.
- Anything else (429, 5xx, a timeout, a dropped connection, the operator's own RBAC): the cluster's
  trouble, not the task's: asked again with backoff, shown in the status meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

REJECTED: Final = "PodRejected"
QUOTA_EXCEEDED: Final = "QuotaExceeded"
CREATE_FAILED: Final = "PodCreateFailed"
# The operator's own identity may not create pods here: an admin can fix that, so ask again.
_RBAC_DENIAL: Final = "cannot create resource"
# Used up, or not yet counted by the quota controller (a new quota): either may pass.
_QUOTA: Final = ("exceeded quota", "status unknown for quota")


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str
    final: bool  # asking again with the same pod cannot succeed


def classify(status: int | None, message: str) -> Refusal:
    """``status``: the HTTP status of the answer (None: no answer, e.g. a timeout)."""
    if status in (400, 422):
        return Refusal(REJECTED, message, final=True)
    if status == 403 and any(text in message for text in _QUOTA):
        return Refusal(QUOTA_EXCEEDED, message, final=False)
    if status == 403 and _RBAC_DENIAL not in message:
        return Refusal(REJECTED, message, final=True)
    return Refusal(CREATE_FAILED, message, final=False)
