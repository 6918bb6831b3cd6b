"""ContainerTask resources as manifests: a dict for the API, YAML for ``kubectl apply -f -``.

Names are deterministic, with no ``generateName``: ``<task>-<hash>``, where the task name is
lower-cased with every run of other characters than ``a-z0-9`` turned into ``-``, and the hash is
the first 10 hex digits of the SHA-256 of the spec (definition and input values, canonical JSON).
The same task with the same inputs therefore always renders the same bytes and the same name, so
applying it twice is a no-op, while different inputs never collide.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Final

import yaml

from containertask.api.constants import API_VERSION, GROUP, KIND
from containertask.api.errors import SpecError
from containertask.api.spec import TaskSpec

# Labels hold the resource name (at most 63 characters); leave room for a suffix added by
# ``unique_name`` so that submitted names stay within that limit too.
HASH_LENGTH: Final = 10
SUFFIX_LENGTH: Final = 5
MAX_NAME: Final = 63
_BASE_LIMIT: Final = MAX_NAME - HASH_LENGTH - SUFFIX_LENGTH - 2
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
TASK_NAME_ANNOTATION: Final = f"{GROUP}/task-name"
SHORT_NAME_ANNOTATION: Final = f"{GROUP}/short-name"  # Flyte's short_name: the name shown
DOCS_ANNOTATION: Final = f"{GROUP}/docs"  # Flyte's docs: the task's description


def spec_hash(spec: TaskSpec) -> str:
    canonical = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:HASH_LENGTH]


def base_name(task_name: str) -> str:
    """The task name as the start of a Kubernetes name (``my_tasks.Area`` -> ``my-tasks-area``)."""
    base = re.sub(r"[^a-z0-9]+", "-", task_name.lower()).strip("-")[:_BASE_LIMIT].rstrip("-")
    if not base:
        raise SpecError(
            "name", "has no letters or digits to name a resource", task_name, allowed="[a-z0-9]"
        )
    return base


def resource_name(task_name: str, spec: TaskSpec) -> str:
    return f"{base_name(task_name)}-{spec_hash(spec)}"


def check_name(name: str) -> str:
    """A resource name chosen by the user: a DNS-1123 label, as it also becomes a label value."""
    if len(name) > MAX_NAME or not _LABEL.match(name):
        raise SpecError(
            "name",
            "not a valid resource name",
            name,
            allowed=f"lower-case letters, digits and '-', at most {MAX_NAME}, alphanumeric ends",
        )
    return name


def build(
    task_name: str,
    spec: TaskSpec,
    name: str,
    namespace: str | None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The resource; ``metadata.namespace`` is left out when None (kubectl's namespace applies)."""
    metadata: dict[str, Any] = {"name": check_name(name)}
    if namespace is not None:
        metadata["namespace"] = namespace
    metadata["annotations"] = {TASK_NAME_ANNOTATION: task_name, **(annotations or {})}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": spec.to_dict()}


class _Dumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.1 reader could take for another type. PyYAML already quotes
    ``yes``/``off``/``1_000``; kubectl's Go reader also takes ``y``/``n`` for booleans and ``1e3``
    for a number, so an input named ``n`` would otherwise arrive as ``false``."""

    def represent_str(self, data: str) -> yaml.ScalarNode:
        if _GO_NON_STRING.match(data):
            return self.represent_scalar("tag:yaml.org,2002:str", data, style="'")
        return super().represent_str(data)


_GO_NON_STRING: Final = re.compile(
    r"^([yYnN]|[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)$"
)
_Dumper.add_representer(str, _Dumper.represent_str)


def to_yaml(manifest: dict[str, Any]) -> str:
    """Block-style YAML in the manifest's own key order; strings that look like other types are
    quoted, so the apiserver reads back exactly the values written."""
    return yaml.dump(
        manifest, Dumper=_Dumper, sort_keys=False, default_flow_style=False, allow_unicode=True
    )
