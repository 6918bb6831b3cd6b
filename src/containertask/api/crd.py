"""The CustomResourceDefinition of ContainerTask, generated from the model's names and bounds.

``crds/containertask.io_containertasks.yaml`` is this function's output; a unit test keeps the file, the
Helm chart's copy and the model from drifting apart. The OpenAPI schema and CEL rules reject what they
can at admission, with messages that name the field; the operator rejects the rest (TaskSpec.from_dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from containertask.api import constants as c
from containertask.api import spec as s
from containertask.api.types import SCALARS

# Loose on purpose: nesting depth is not regular, so the operator's parser has the last word.
TYPE_PATTERN = r"^((list\[|dict\[\s*str\s*,\s*))*(" + "|".join(SCALARS) + r")(\s*\])*$"
_TEMPLATE = r"\\{\\{\\s*\\.inputs\\.[A-Za-z_][A-Za-z0-9_]*\\s*\\}\\}"
_MAX_ARGS = 128
_MAX_ARG_LENGTH = 4096
_MAX_URI_LENGTH = 2048


def _obj(description: str, properties: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties, **extra}


def _str(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def _int(description: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "description": description, "minimum": minimum, "maximum": maximum}


def _open(description: str) -> dict[str, Any]:
    """An object of the status kept as the operator writes it (never compared by CEL rules)."""
    return {
        "type": "object",
        "description": description,
        "x-kubernetes-preserve-unknown-fields": True,
    }


def _any(description: str) -> dict[str, Any]:
    """Any JSON value, kept as given. Untyped on purpose: CEL compares such a value as a whole
    (deep equality), whereas an open ``type: object`` is compared only by the keys both sides
    have, which would let a changed key slip past the immutability rules."""
    return {"description": description, "x-kubernetes-preserve-unknown-fields": True}


def _string_map(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "additionalProperties": {"type": "string"},
    }


def _args(description: str) -> dict[str, Any]:
    return {
        "type": "array",
        "description": description,
        "maxItems": _MAX_ARGS,
        "items": {"type": "string", "maxLength": _MAX_ARG_LENGTH},
        "x-kubernetes-validations": [
            {
                "rule": "self.all(a, a.findAll('\\\\{\\\\{').size() == a.findAll('"
                + _TEMPLATE
                + "').size() && a.findAll('\\\\}\\\\}').size() == a.findAll('"
                + _TEMPLATE
                + "').size())",
                "message": "malformed template: use {{.inputs.<name>}} with a declared input",
            }
        ],
    }


def _declared_templates() -> dict[str, Any]:
    """Every ``{{.inputs.x}}`` in command and arguments names a declared input. One rule for both
    lists: two would double the estimated cost, which the apiserver caps per schema."""
    return {
        "rule": "((has(self.command) ? self.command : []) + (has(self.arguments) "
        f"? self.arguments : [])).all(a, a.findAll('{_TEMPLATE}').all(t, "
        "has(self.inputs) && self.inputs.exists(i, "
        "t.replace(' ', '') == '{{.inputs.' + i.name + '}}')))",
        "message": "a template in command or arguments names an input that is not declared in "
        "spec.inputs",
    }


def _unique_names(what: str) -> dict[str, Any]:
    return {
        "rule": "self.all(x, self.filter(y, y.name == x.name).size() == 1)",
        "message": f"{what} names must be unique",
    }


def _name() -> dict[str, Any]:
    return _str(
        "Name: a letter, then letters, digits or _; the file name in the data directories.",
        pattern=s.NAME_PATTERN,
        maxLength=63,
    )


def _type() -> dict[str, Any]:
    return _str(
        "Type: int, float, str, bool, datetime, timedelta, file, directory, list[T] or dict[str, T].",
        pattern=TYPE_PATTERN,
        maxLength=256,
    )


def _inputs() -> dict[str, Any]:
    item = _obj(
        "A typed input and its value.",
        {
            "name": _name(),
            "type": _type(),
            "value": {
                "description": "The value of a non-file input (datetime: RFC 3339; timedelta: "
                "seconds; collections of files: URIs).",
                "x-kubernetes-preserve-unknown-fields": True,
            },
            "uri": _str(
                "Where a file or directory input is read from (s3://, gs://, az://, file://).",
                maxLength=_MAX_URI_LENGTH,
            ),
        },
        required=["name", "type"],
        # CEL cannot see the untyped ``value``: the schema forbids value and uri together, CEL
        # forbids a uri on a non-blob, and the operator's TaskSpec.from_dict checks the rest.
        **{
            "not": {"required": ["value", "uri"]},
            "x-kubernetes-validations": [
                {
                    "rule": "self.type in ['file', 'directory'] || !has(self.uri)",
                    "message": "only file and directory inputs take uri; all other types take value",
                    "fieldPath": ".uri",
                }
            ],
        },
    )
    return _variables("The task's inputs and their values, in declaration order.", item, "input")


def _outputs() -> dict[str, Any]:
    item = _obj(
        "A typed output, read from <outputPath>/<name> when the main container exits.",
        {"name": _name(), "type": _type()},
        required=["name", "type"],
    )
    return _variables("The task's outputs.", item, "output")


def _variables(description: str, item: dict[str, Any], kind: str) -> dict[str, Any]:
    """A list of named inputs or outputs: bounded, names unique."""
    return {
        "type": "array",
        "description": description,
        "maxItems": s.MAX_VARIABLES,
        "items": item,
        "x-kubernetes-validations": [_unique_names(kind)],
    }


def _data_loading() -> dict[str, Any]:
    path = {"pattern": r"^/.+$", "maxLength": 1024}
    return _obj(
        "How the copilot moves data; mirrors flyteidl2 DataLoadingConfig.",
        {
            "inputPath": _str(
                f"Directory the inputs are written to (default {c.DEFAULT_INPUT_PATH}).", **path
            ),
            "outputPath": _str(
                f"Directory the outputs are read from (default {c.DEFAULT_OUTPUT_PATH}).", **path
            ),
            "format": _str("Format of inputs/outputs metadata files.", enum=list(s.FORMATS)),
            "downloadMode": _str("When inputs are downloaded.", enum=list(s.DOWNLOAD_MODES)),
            "uploadMode": _str("When outputs are uploaded.", enum=list(s.UPLOAD_MODES)),
            "fileInputLayout": _str(
                "direct: a file input is <inputPath>/<name>; namedDir: "
                "<inputPath>/<name>/<original file name>.",
                enum=list(s.FILE_INPUT_LAYOUTS),
            ),
        },
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.inputPath) || !has(self.outputPath) "
                    "|| self.inputPath != self.outputPath",
                    "message": "inputPath and outputPath must differ",
                },
                *(
                    {
                        "rule": f"!has(self.{name}) || !("
                        + " || ".join(
                            f"self.{name} == '{k}' || self.{name}.startsWith('{k}/')"
                            for k in c.KERNEL_PATHS
                        )
                        + ")",
                        "message": f"{name} must be outside {', '.join(c.KERNEL_PATHS)}",
                        "fieldPath": f".{name}",
                    }
                    for name in ("inputPath", "outputPath")
                ),
            ]
        },
    )


def _retries() -> dict[str, Any]:
    return _obj(
        "Retries of failed attempts (a non-zero exit, OOMKilled or a signal included; a user "
        "error is not retried; an attempt disrupted by the cluster is replaced without using one).",
        {
            "limit": _int("How many retries after the first attempt.", 0, s.MAX_RETRIES),
            "backoff": _obj(
                "Delay before retry n: min(initialSeconds * factor^(n-1), maxSeconds).",
                {
                    "initialSeconds": _int("First delay.", 0, s.MAX_BACKOFF_SECONDS),
                    "factor": {
                        "type": "number",
                        "description": "Growth factor.",
                        "minimum": 1,
                        "maximum": s.MAX_BACKOFF_FACTOR,
                    },
                    "maxSeconds": _int("Longest delay.", 0, s.MAX_BACKOFF_SECONDS),
                },
                **{
                    "x-kubernetes-validations": [
                        {
                            "rule": "!has(self.initialSeconds) || !has(self.maxSeconds) "
                            "|| self.initialSeconds <= self.maxSeconds",
                            "message": "initialSeconds must not exceed maxSeconds",
                            "fieldPath": ".initialSeconds",
                        }
                    ]
                },
            ),
        },
    )


def spec_schema() -> dict[str, Any]:
    seconds = s.MAX_TIMEOUT_SECONDS
    properties: dict[str, Any] = {
        "image": _str(
            "Container image of the main container: [registry[:port]/]name[:tag][@digest].",
            minLength=1,
            maxLength=1024,
            pattern=s.IMAGE_PATTERN,
        ),
        "command": _args("Command; {{.inputs.<name>}} is replaced by the input's value or path."),
        "arguments": _args("Arguments after the command; templated like command."),
        "inputs": _inputs(),
        "outputs": _outputs(),
        "dataLoading": _data_loading(),
        "inputsUri": _str(
            "An inputs.pb LiteralMap holding the input values (then inputs carry no values).",
            maxLength=_MAX_URI_LENGTH,
        ),
        "outputLocation": _str(
            "Prefix where outputs of each attempt are stored (default: the operator's).",
            maxLength=_MAX_URI_LENGTH,
        ),
        "retries": _retries(),
        "timeoutSeconds": _int(
            "Deadline of one attempt, from its pod's creation: scheduling, image pulls, "
            "downloading inputs, running and uploading outputs.",
            1,
            seconds,
        ),
        "activeDeadlineSeconds": _int(
            "Deadline of the whole task, from its creation, across attempts and backoffs; "
            "once passed the task fails (DeadlineExceeded) and is not retried.",
            1,
            seconds,
        ),
        "ttlSecondsAfterFinished": _int(
            "Delete the task (and its pods) this long after it finished; stored outputs "
            "stay in the object store.",
            0,
            s.MAX_TTL_SECONDS,
        ),
        "pendingTimeoutSeconds": _int(
            "How long an attempt may wait for scheduling and image pulls before it fails "
            "(downloading inputs does not count).",
            1,
            seconds,
        ),
        "uploadTimeoutSeconds": _int(
            "Time the uploader has after the main container exits (the pod's grace period).",
            1,
            s.MAX_UPLOAD_SECONDS,
        ),
        "cacheVersion": _str(
            "When set, a Succeeded task with the same definition, inputs and cacheVersion is reused.",
            maxLength=128,
        ),
        "resources": _obj(
            "Resources of the main container (core/v1 ResourceRequirements).",
            {
                "limits": _any("Limits by resource name."),
                "requests": _any("Requests by resource name."),
                "claims": _any("Resource claims (core/v1 ResourceClaim)."),
            },
        ),
        "env": {
            "type": "array",
            "description": "Environment of the main container (core/v1 EnvVar).",
            "items": _obj(
                "An EnvVar.",
                {
                    "name": _str("Variable name.", minLength=1),
                    "value": _str("Value."),
                    "valueFrom": _any("Source of the value (core/v1 EnvVarSource)."),
                },
                required=["name"],
            ),
        },
        "serviceAccountName": _str(
            "Service account of the pod; without one the pod gets no API token.",
            maxLength=253,
        ),
        "nodeSelector": _string_map("Node selector of the pod."),
        "tolerations": {
            "type": "array",
            "description": "Tolerations of the pod (core/v1 Toleration).",
            "items": _obj(
                "A Toleration.",
                {
                    "key": _str("Taint key."),
                    "operator": _str("Exists or Equal."),
                    "value": _str("Taint value."),
                    "effect": _str("Taint effect."),
                    "tolerationSeconds": {"type": "integer", "description": "Seconds."},
                },
            ),
        },
        "podTemplate": _obj(
            "Merged into the pod: metadata.labels/annotations and spec fields. The downloader "
            "and uploader, their volumes and extra regular containers are the operator's.",
            {
                "metadata": _obj(
                    "Labels and annotations of the pod.",
                    {
                        "labels": _string_map("Labels."),
                        "annotations": _string_map("Annotations."),
                    },
                ),
                "spec": _any("core/v1 PodSpec fields laid under the operator's."),
            },
        ),
        "cancel": {
            "type": "boolean",
            "description": "Set to true to cancel the task; the one field that may change.",
        },
    }
    return _obj(
        "One execution of a container task: the definition and its input values. Immutable once "
        "created, except cancel: retries and cache entries always match what ran.",
        properties,
        required=["image"],
        **{
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.inputsUri) || !has(self.inputs) || self.inputs.all(i, "
                    "!(i.type in ['file', 'directory']) || has(i.uri))",
                    "message": "file and directory inputs need a uri unless spec.inputsUri is set",
                    "fieldPath": ".inputs",
                },
                {
                    "rule": "!has(self.inputsUri) || !has(self.inputs) || self.inputs.all(i, "
                    "!has(i.uri))",
                    "message": "inputs carry no values or uris when spec.inputsUri is set",
                    "fieldPath": ".inputs",
                },
                _declared_templates(),
                {
                    "rule": "!has(self.dataLoading) || !has(self.dataLoading.uploadMode) "
                    "|| self.dataLoading.uploadMode != 'none' || !has(self.outputs) "
                    "|| size(self.outputs) == 0",
                    "message": "dataLoading.uploadMode none uploads nothing: declare no outputs",
                    "fieldPath": ".dataLoading.uploadMode",
                },
                *_immutable(properties),
            ]
        },
    )


def _immutable(properties: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Transition rules: every field but ``cancel`` keeps its value (and its absence) on update,
    one rule per field so the refusal names it; ``cancel`` may be set, never unset."""
    rules = [
        {
            "rule": f"has(self.{name}) == has(oldSelf.{name}) "
            f"&& (!has(self.{name}) || self.{name} == oldSelf.{name})",
            "message": f"spec.{name} cannot change once the task exists (only spec.cancel can)",
            "fieldPath": f".{name}",
            "reason": "FieldValueForbidden",
        }
        for name in properties
        if name != "cancel"
    ]
    rules.append(
        {
            "rule": "!has(oldSelf.cancel) || !oldSelf.cancel || (has(self.cancel) && self.cancel)",
            "message": "spec.cancel cannot be undone",
            "fieldPath": ".cancel",
            "reason": "FieldValueForbidden",
        }
    )
    return rules


def status_schema() -> dict[str, Any]:
    return {
        **_open("Observed state, written by the operator."),
        "properties": {
            "phase": _str("Pending, Initializing, Running, Succeeded, Failed or Cancelled."),
            "reason": _str("Machine-readable reason of the phase."),
            "message": _str("Human-readable detail."),
            "attempts": {
                "type": "array",
                "description": "One entry per pod run.",
                "items": _open(
                    "An attempt: number, pod, startedAt, finishedAt, exitCode, reason, message, "
                    "disrupted (ended by the cluster, not counted against retries.limit)."
                ),
            },
            "outputs": _open("Output values small enough for the status."),
            "storedOutputs": {
                "type": "array",
                "description": "Outputs only in outputsUri.",
                "items": {"type": "string"},
            },
            "outputsUri": _str("The outputs.pb LiteralMap of the successful attempt."),
            "conditions": {
                "type": "array",
                "description": "Standard conditions.",
                "items": _open("A metav1.Condition."),
            },
        },
    }


def build_crd() -> dict[str, Any]:
    columns = [
        ("Phase", "string", ".status.phase", "Phase of the task"),
        ("Attempts", "integer", ".status.attempts[-1:].number", "Attempts so far"),
        ("Age", "date", ".metadata.creationTimestamp", ""),
        ("Message", "string", ".status.message", "Detail of the phase"),
    ]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": c.CRD_NAME},
        "spec": {
            "group": c.GROUP,
            "names": {
                "kind": c.KIND,
                "listKind": f"{c.KIND}List",
                "plural": c.PLURAL,
                "singular": c.SINGULAR,
                "shortNames": [c.SHORT_NAME],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": c.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": n, "type": t, "jsonPath": p, **({"description": d} if d else {})}
                        for n, t, p, d in columns
                    ],
                    "schema": {
                        "openAPIV3Schema": _obj(
                            "ContainerTask runs an image with typed inputs and collects typed "
                            "outputs.",
                            {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema(),
                                "status": status_schema(),
                            },
                            required=["spec"],
                        )
                    },
                }
            ],
        },
    }


def render_yaml() -> str:
    """The CRD file as committed under crds/ (and copied into the Helm chart)."""
    header = "# Generated by hack/generate-crds from containertask.api.crd; do not edit.\n"
    return header + yaml.safe_dump(build_crd(), sort_keys=False, width=100)
