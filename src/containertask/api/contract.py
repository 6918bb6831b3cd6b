"""The contract between the operator and the copilot.

The operator hands the copilot a :class:`CopilotConfig` (JSON in an environment variable); the
uploader hands back an :class:`UploadResult` as its termination message, which the kubelet copies
into the pod status, so the operator needs no object-store access and the pod no API permissions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from containertask.api.errors import SpecError
from containertask.api.spec import DataLoading, Input, Output, TaskSpec, _input_to_dict
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import from_json

TERMINATION_MESSAGE_LIMIT: Final = 4096
# user: the program's own _ERROR file; output: a declared output is missing or invalid (a user
# error only when the main container exited 0); system: the uploader or the store failed.
ErrorKind = Literal["user", "output", "system"]


@dataclass(frozen=True)
class CopilotConfig:
    """Everything the downloader and uploader of one attempt need."""

    inputs: tuple[Input, ...]
    outputs: tuple[Output, ...]
    data_loading: DataLoading
    output_prefix: str | None
    inputs_uri: str | None = None
    inline_limit_bytes: int = 1024

    @classmethod
    def for_attempt(cls, spec: TaskSpec, output_prefix: str | None, **kw: Any) -> CopilotConfig:
        return cls(
            spec.inputs, spec.outputs, spec.data_loading, output_prefix, spec.inputs_uri, **kw
        )

    def to_json(self) -> str:
        spec_part = TaskSpec(
            image="scratch",
            inputs=self.inputs,
            outputs=self.outputs,
            data_loading=self.data_loading,
            inputs_uri=self.inputs_uri,
        ).to_dict()
        return json.dumps(
            {
                "inputs": [_input_to_dict(i) for i in self.inputs],
                "outputs": spec_part["outputs"],
                "dataLoading": spec_part["dataLoading"],
                "inputsUri": self.inputs_uri,
                "outputPrefix": self.output_prefix,
                "inlineLimitBytes": self.inline_limit_bytes,
            },
            sort_keys=True,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> CopilotConfig:
        data = json.loads(text)
        spec = TaskSpec.from_dict(
            {
                "image": "scratch",
                "inputs": data["inputs"],
                "outputs": data["outputs"],
                "dataLoading": data["dataLoading"],
                "inputsUri": data.get("inputsUri"),
            },
            where="copilotConfig",
        )
        return cls(
            spec.inputs,
            spec.outputs,
            spec.data_loading,
            data.get("outputPrefix"),
            spec.inputs_uri,
            int(data.get("inlineLimitBytes", 1024)),
        )


@dataclass(frozen=True)
class UploadResult:
    """The uploader's report. ``ok`` with ``outputs_uri`` means every declared output is in that
    outputs.pb; ``outputs`` repeats those whose JSON fits the termination message. Which outputs
    are only in outputs.pb follows from the declared ones, so the message never lists them: a
    list of up to 64 long names alone could overflow the kubelet's 4 KiB."""

    ok: bool
    outputs: Mapping[str, Any] = field(default_factory=dict)
    outputs_uri: str | None = None
    error_kind: ErrorKind | None = None
    error: str | None = None

    def to_message(self) -> str:
        """Serialise within the kubelet's 4 KiB limit: the largest inline outputs are left to
        outputs.pb and an over-long error is cut, so the message is always valid JSON."""
        outputs = dict(self.outputs)
        error = self.error
        while True:
            text = json.dumps(
                {
                    "ok": self.ok,
                    "outputs": outputs,
                    "outputsUri": self.outputs_uri,
                    "errorKind": self.error_kind,
                    "error": error,
                },
                sort_keys=True,
                separators=(",", ":"),
            )
            if len(text.encode()) <= TERMINATION_MESSAGE_LIMIT:
                return text
            if outputs:
                largest = max(outputs, key=lambda k: len(json.dumps(outputs[k])))
                del outputs[largest]
            elif error:
                error = error[: len(error) // 2] + " [truncated]"
            else:  # pragma: no cover - a URI of at most 2 KiB and fixed keys always fit
                raise ValueError("upload result does not fit a termination message")

    @classmethod
    def from_message(cls, text: str) -> UploadResult:
        data = json.loads(text)
        return cls(
            ok=bool(data["ok"]),
            outputs=data.get("outputs") or {},
            outputs_uri=data.get("outputsUri"),
            error_kind=data.get("errorKind"),
            error=data.get("error"),
        )

    def typed_outputs(self, types: Mapping[str, TypeRef]) -> dict[str, Any]:
        """Inline outputs as Python values of their declared types."""
        return {k: from_json(types[k], v, f"outputs.{k}") for k, v in self.outputs.items()}


def outside_prefix(
    result: UploadResult, prefix: str | None, types: Mapping[str, TypeRef]
) -> str | None:
    """Why ``result`` names an object outside the attempt's ``prefix`` (None when it names none):
    its ``outputsUri`` and every file or directory among its inline outputs must be below the
    prefix, with no ``.``, ``..`` or empty segment on the way. The operator publishes only what
    passes, so an uploader it did not configure (a forged pod, a changed helper) cannot point a
    task's results at another tenant's objects."""
    named = [("outputsUri", result.outputs_uri)] if result.outputs_uri else []
    for name, value in result.outputs.items():
        t = types.get(name)
        if t is None or not t.contains_blob:
            continue
        try:
            named += [(f"outputs.{name}", uri) for uri in _blob_uris(from_json(t, value, name))]
        except SpecError as e:
            return f"the uploader reported an invalid output: {e}"
    for field_name, uri in named:
        if not _below(uri, prefix):
            return (
                f"the uploader reported {field_name} {uri!r}, outside the attempt's prefix "
                f"{prefix!r}"
            )
    return None


def _blob_uris(value: object) -> Iterator[str]:
    if isinstance(value, File | Directory):
        yield value.uri
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _blob_uris(v)
    elif isinstance(value, list):
        for v in value:
            yield from _blob_uris(v)


def _below(uri: str, prefix: str | None) -> bool:
    if not prefix or not uri.startswith(prefix.rstrip("/") + "/"):
        return False
    rest = uri[len(prefix.rstrip("/")) + 1 :]
    return all(segment not in ("", ".", "..") for segment in rest.split("/"))
