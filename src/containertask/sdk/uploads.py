"""Local files and directories given as inputs of a cluster run: uploaded to the object store.

Flyte uploads a ``File.from_local(...)`` (or a local path) to its raw-data store when a run is
submitted; here the run's inputs go below ``<location>/uploads/<random id>/<input>/``, where the
location is ``with_runcontext(raw_data_path=...)``, the task's ``output_location`` or
``$CONTAINERTASK_RAW_DATA_PATH``. The upload uses the same storage layer as the copilot.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from containertask.api.errors import SpecError
from containertask.api.spec import Input, TaskSpec
from containertask.api.types import Directory, File
from containertask.storage import Storage, join

LOCATION_ENV: Final = "CONTAINERTASK_RAW_DATA_PATH"


def first_local_path(value: Any) -> str | None:
    """The first file or directory in ``value`` given by a local path rather than a URI."""
    if isinstance(value, File | Directory):
        return os.fspath(value) if value.is_local else None
    items = list(value.values()) if isinstance(value, Mapping) else value
    if isinstance(items, list):
        for item in items:
            found = first_local_path(item)
            if found is not None:
                return found
    return None


def upload_local_inputs(
    spec: TaskSpec, location: str | None, storage: Storage | None = None
) -> TaskSpec:
    """``spec`` with every local file or directory input uploaded and replaced by its URI."""
    local = [i for i in spec.inputs if first_local_path(i.resolved_value) is not None]
    if not local:
        return spec
    base = location or spec.output_location or os.environ.get(LOCATION_ENV)
    if not base:
        raise SpecError(
            f"inputs.{local[0].name}",
            "a local path must be uploaded for a cluster run, but no location is set",
            first_local_path(local[0].resolved_value),
            allowed=f"with_runcontext(raw_data_path=...), output_location=... or ${LOCATION_ENV}",
        )
    store = storage or Storage()
    prefix = join(base, "uploads", secrets.token_hex(8))
    replaced = {i.name: _upload(i, store, join(prefix, i.name)) for i in local}
    inputs = tuple(replaced.get(i.name, i) for i in spec.inputs)
    return dataclasses.replace(spec, inputs=inputs)


def _upload(inp: Input, storage: Storage, prefix: str) -> Input:
    value = _upload_value(inp.resolved_value, storage, prefix, f"inputs.{inp.name}")
    if isinstance(value, File | Directory):
        return dataclasses.replace(inp, uri=value.uri)
    return dataclasses.replace(inp, value=value)


def _upload_value(value: Any, storage: Storage, prefix: str, where: str) -> Any:
    if isinstance(value, File | Directory):
        if not value.is_local:
            return value
        path = Path(os.fspath(value))
        if isinstance(value, File):
            if not path.is_file():
                raise SpecError(where, "no such file", str(path))
            uri = join(prefix, path.name)
            storage.upload_file(path, uri)
            return File(uri)
        if not path.is_dir():
            raise SpecError(where, "no such directory", str(path))
        storage.upload_dir(path, prefix)
        return Directory(prefix)
    if isinstance(value, list):
        return [
            _upload_value(v, storage, join(prefix, str(i)), f"{where}[{i}]")
            for i, v in enumerate(value)
        ]
    if isinstance(value, Mapping):
        return {
            k: _upload_value(v, storage, join(prefix, k), f"{where}[{k!r}]")
            for k, v in value.items()
        }
    return value
