"""Typed values in their three forms: Python objects, JSON (the resource), and flyteidl2 literals.

Also the text form of a primitive: what the downloader writes into a file named after an input and
what the uploader parses from a file named after an output. Parsing is strict: surrounding
whitespace is trimmed, anything else that is not exactly a value of the type is an error that names
the field.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from flyteidl2.core import literals_pb2, types_pb2

from containertask.api.errors import SpecError
from containertask.api.types import Directory, File, TypeRef

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_MICROS = 1_000_000
_SIMPLE = {
    "int": types_pb2.SimpleType.INTEGER,
    "float": types_pb2.SimpleType.FLOAT,
    "str": types_pb2.SimpleType.STRING,
    "bool": types_pb2.SimpleType.BOOLEAN,
    "datetime": types_pb2.SimpleType.DATETIME,
    "timedelta": types_pb2.SimpleType.DURATION,
}
_DIMENSIONALITY = {
    "file": types_pb2.BlobType.BlobDimensionality.SINGLE,
    "directory": types_pb2.BlobType.BlobDimensionality.MULTIPART,
}


def _type_error(field: str, t: TypeRef, value: Any) -> SpecError:
    return SpecError(field, f"expected a value of type {t}", value)


def _utc(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC, as Flyte does."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def coerce(t: TypeRef, value: Any, field: str) -> Any:
    """Check a Python value against ``t`` and return it in canonical form (File for files, ...)."""
    if t.name == "list":
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
            raise _type_error(field, t, value)
        assert t.item is not None
        return [coerce(t.item, v, f"{field}[{i}]") for i, v in enumerate(value)]
    if t.name == "dict":
        if not isinstance(value, Mapping):
            raise _type_error(field, t, value)
        assert t.item is not None
        out = {}
        for key, v in value.items():
            if not isinstance(key, str):
                raise SpecError(field, "dict keys must be strings", key)
            out[key] = coerce(t.item, v, f"{field}[{key!r}]")
        return out
    return _coerce_scalar(t, value, field)


def _coerce_scalar(t: TypeRef, value: Any, field: str) -> Any:
    match t.name:
        case "int" if isinstance(value, int) and not isinstance(value, bool):
            if not _INT64_MIN <= value <= _INT64_MAX:
                raise SpecError(field, "an int must fit in 64 bits", value)
            return value
        case "float" if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise SpecError(field, "a float must be finite", value)
            return float(value)
        case "str" if isinstance(value, str):
            return value
        case "bool" if isinstance(value, bool):
            return value
        case "datetime" if isinstance(value, datetime):
            return _utc(value)
        case "timedelta" if isinstance(value, timedelta):
            return value
        case "file" if isinstance(value, File | Directory | str | os.PathLike):
            return File(_uri_of(value, field))
        case "directory" if isinstance(value, File | Directory | str | os.PathLike):
            return Directory(_uri_of(value, field))
    raise _type_error(field, t, value)


def _uri_of(value: File | Directory | str | os.PathLike[str], field: str) -> str:
    uri = value.uri if isinstance(value, File | Directory) else os.fspath(value)
    if not uri:
        raise SpecError(field, "a file or directory needs a non-empty URI or path", value)
    return uri


# --- JSON: how values are written in the resource and in inputs.json / outputs.json -------------


def to_json(t: TypeRef, value: Any) -> Any:
    """Canonical Python value -> JSON-compatible value (datetimes RFC 3339, durations in seconds)."""
    if t.name == "list":
        assert t.item is not None
        return [to_json(t.item, v) for v in value]
    if t.name == "dict":
        assert t.item is not None
        return {k: to_json(t.item, v) for k, v in value.items()}
    if t.name == "datetime":
        return format_datetime(value)
    if t.name == "timedelta":
        return value.total_seconds()
    if t.is_blob:
        return str(value.uri)
    return value


def from_json(t: TypeRef, data: Any, field: str) -> Any:
    """JSON value from the resource -> canonical Python value; strict about types."""
    if t.name == "list":
        if not isinstance(data, list):
            raise _type_error(field, t, data)
        assert t.item is not None
        return [from_json(t.item, v, f"{field}[{i}]") for i, v in enumerate(data)]
    if t.name == "dict":
        if not isinstance(data, dict):
            raise _type_error(field, t, data)
        assert t.item is not None
        return {k: from_json(t.item, v, f"{field}[{k!r}]") for k, v in data.items()}
    if t.name == "datetime":
        if not isinstance(data, str):
            raise _type_error(field, t, data)
        return parse_text(t, data, field)
    if t.name == "timedelta":
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise _type_error(field, t, data)
        return timedelta(seconds=data)
    if t.is_blob and not isinstance(data, str):
        raise SpecError(field, f"a {t} is given by its URI, a string", data)
    return coerce(t, data, field)


# --- flyteidl2 literals: inputs.pb / outputs.pb -------------------------------------------------


def literal_type(t: TypeRef) -> types_pb2.LiteralType:
    if t.name == "list":
        assert t.item is not None
        return types_pb2.LiteralType(collection_type=literal_type(t.item))
    if t.name == "dict":
        assert t.item is not None
        return types_pb2.LiteralType(map_value_type=literal_type(t.item))
    if t.is_blob:
        return types_pb2.LiteralType(
            blob=types_pb2.BlobType(dimensionality=_DIMENSIONALITY[t.name])
        )
    return types_pb2.LiteralType(simple=_SIMPLE[t.name])


def to_literal(t: TypeRef, value: Any) -> literals_pb2.Literal:
    """Canonical Python value -> flyteidl2 Literal."""
    if t.name == "list":
        assert t.item is not None
        items = [to_literal(t.item, v) for v in value]
        return literals_pb2.Literal(collection=literals_pb2.LiteralCollection(literals=items))
    if t.name == "dict":
        assert t.item is not None
        entries = {k: to_literal(t.item, v) for k, v in value.items()}
        return literals_pb2.Literal(map=literals_pb2.LiteralMap(literals=entries))
    if t.is_blob:
        metadata = literals_pb2.BlobMetadata(type=literal_type(t).blob)
        blob = literals_pb2.Blob(metadata=metadata, uri=value.uri)
        return literals_pb2.Literal(scalar=literals_pb2.Scalar(blob=blob))
    primitive = literals_pb2.Primitive()
    match t.name:
        case "int":
            primitive.integer = value
        case "float":
            primitive.float_value = value
        case "str":
            primitive.string_value = value
        case "bool":
            primitive.boolean = value
        case "datetime":
            primitive.datetime.FromDatetime(value.astimezone(UTC).replace(tzinfo=None))
        case "timedelta":
            primitive.duration.FromTimedelta(value)
    return literals_pb2.Literal(scalar=literals_pb2.Scalar(primitive=primitive))


def from_literal(t: TypeRef, literal: literals_pb2.Literal, field: str) -> Any:
    """flyteidl2 Literal -> canonical Python value, checking that it holds what ``t`` says."""
    kind = literal.WhichOneof("value")
    if t.name == "list":
        if kind != "collection":
            raise _type_error(field, t, kind)
        assert t.item is not None
        return [
            from_literal(t.item, v, f"{field}[{i}]")
            for i, v in enumerate(literal.collection.literals)
        ]
    if t.name == "dict":
        if kind != "map":
            raise _type_error(field, t, kind)
        assert t.item is not None
        return {
            k: from_literal(t.item, literal.map.literals[k], f"{field}[{k!r}]")
            for k in sorted(literal.map.literals)
        }
    scalar = literal.scalar if kind == "scalar" else None
    if t.is_blob:
        if scalar is None or scalar.WhichOneof("value") != "blob":
            raise _type_error(field, t, kind)
        if scalar.blob.metadata.type.dimensionality != _DIMENSIONALITY[t.name]:
            other = "directory" if t.name == "file" else "file"
            raise _type_error(field, t, f"a {other} blob")
        return File(scalar.blob.uri) if t.name == "file" else Directory(scalar.blob.uri)
    if scalar is None or scalar.WhichOneof("value") != "primitive":
        raise _type_error(field, t, kind)
    primitive = scalar.primitive
    which = primitive.WhichOneof("value")
    expected = {
        "int": "integer",
        "float": "float_value",
        "str": "string_value",
        "bool": "boolean",
        "datetime": "datetime",
        "timedelta": "duration",
    }[t.name]
    if which != expected:
        raise _type_error(field, t, which)
    if t.name == "datetime":
        return primitive.datetime.ToDatetime(tzinfo=UTC)
    if t.name == "timedelta":
        return primitive.duration.ToTimedelta()
    return getattr(primitive, which)


def to_literal_map(
    types: Mapping[str, TypeRef], values: Mapping[str, Any]
) -> literals_pb2.LiteralMap:
    return literals_pb2.LiteralMap(
        literals={name: to_literal(types[name], value) for name, value in values.items()}
    )


def from_literal_map(
    types: Mapping[str, TypeRef], literal_map: literals_pb2.LiteralMap, field: str
) -> dict[str, Any]:
    """Read every declared name from a LiteralMap; a missing name is an error that names it."""
    out = {}
    for name, t in types.items():
        if name not in literal_map.literals:
            raise SpecError(f"{field}.{name}", "missing from the literal map")
        out[name] = from_literal(t, literal_map.literals[name], f"{field}.{name}")
    return out


# --- text: one primitive per file ----------------------------------------------------------------
#
# Written as Flyte's Go copilot writes them, so that images made for Flyte read the same bytes:
# floats as strconv.FormatFloat(f, 'f', -1, 64) (``0.00001``, ``3``), durations as Go's
# time.Duration.String() (``1h0m0s``, ``1.5s``), datetimes as RFC 3339 with trailing zeros of the
# fraction dropped. Reading accepts Go's forms (strconv.ParseBool, time.ParseDuration) and the
# earlier ones (decimal seconds for a duration, ``1``/``0`` for a bool).

_GO_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9}
_GO_UNITS.update({"m": 60 * 10**9, "h": 3600 * 10**9})
_GO_DURATION = re.compile(r"^[-+]?((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")
_GO_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}
_NANOS = 10**9


def format_datetime(value: datetime) -> str:
    """RFC 3339 in UTC with a ``Z``; a fraction only when non-zero, without trailing zeros."""
    utc = _utc(value)
    text = utc.replace(microsecond=0, tzinfo=None).isoformat()
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_float(value: float) -> str:
    """Go's ``strconv.FormatFloat(value, 'f', -1, 64)``: the shortest digits that read back as the
    same float, never an exponent (``1e-05`` -> ``0.00001``, ``3.0`` -> ``3``)."""
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _go_fraction(value: int, digits: int) -> str:
    whole, fraction = divmod(value, 10**digits)
    tail = f"{fraction:0{digits}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def format_duration(value: timedelta) -> str:
    """Go's ``time.Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``300ms``, ``0s``."""
    nanos = (value // timedelta(microseconds=1)) * 1000
    sign, n = ("-" if nanos < 0 else ""), abs(nanos)
    if n == 0:
        return "0s"
    if n < _NANOS:
        for unit, digits in (("ms", 6), ("µs", 3)):
            if n >= 10**digits:
                return sign + _go_fraction(n, digits) + unit
        return f"{sign}{n}ns"
    minutes, rest = divmod(n, 60 * _NANOS)
    hours, minutes = divmod(minutes, 60)
    text = _go_fraction(rest, 9) + "s"
    if hours:
        text = f"{hours}h{minutes}m" + text
    elif minutes:
        text = f"{minutes}m" + text
    return sign + text


def _parse_duration(s: str) -> timedelta | None:
    """Go's duration syntax, or decimal seconds; None when ``s`` is neither."""
    if _FLOAT.match(s):
        return timedelta(microseconds=int((Decimal(s) * _MICROS).to_integral_value()))
    if not _GO_DURATION.match(s):
        return None
    nanos = sum(
        (Decimal(number) * _GO_UNITS[unit] for number, unit in _GO_DURATION_PART.findall(s)),
        Decimal(0),
    )
    micros = int((nanos / 1000).to_integral_value())
    return timedelta(microseconds=-micros if s.startswith("-") else micros)


def format_text(t: TypeRef, value: Any) -> str:
    """Canonical primitive value -> the text written into a file named after the input."""
    match t.name:
        case "bool":
            return "true" if value else "false"
        case "float":
            return format_float(value)
        case "datetime":
            return format_datetime(value)
        case "timedelta":
            return format_duration(value)
        case "int" | "str":
            return str(value)
    raise SpecError("type", f"{t} has no text form", allowed="primitive types")


def parse_text(t: TypeRef, text: str, field: str) -> Any:
    """Strictly parse the text of a primitive (surrounding whitespace is trimmed)."""
    s = text.strip()
    match t.name:
        case "str":
            return s
        case "int" if _INT.match(s):
            return int(s)
        case "float" if _FLOAT.match(s):
            return float(s)
        case "timedelta":
            duration = _parse_duration(s)
            if duration is not None:
                return duration
        case "bool" if s in _GO_BOOLS:
            return _GO_BOOLS[s]
        case "datetime":
            try:
                return _utc(datetime.fromisoformat(s))
            except ValueError:
                pass
    allowed = {
        "int": "an integer such as 42",
        "float": "a finite decimal number such as 3.5 or 1e-3",
        "timedelta": "a Go duration such as 1h0m0s or 1.5s, or seconds such as 90",
        "bool": "true or false (also 1/0, t/f, TRUE/FALSE, True/False)",
        "datetime": "an RFC 3339 time such as 2024-05-01T12:00:00Z",
    }.get(t.name, "a primitive type")
    raise SpecError(field, f"not a valid {t}", s[:80], allowed=allowed)
