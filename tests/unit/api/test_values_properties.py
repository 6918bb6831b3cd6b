"""Properties of the value forms in ``containertask.api.values``: the text of a primitive, the JSON
form and the flyteidl2 literal form all give back the value they were made from, for any type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from containertask.api.errors import SpecError
from containertask.api.types import Directory, File, TypeRef
from containertask.api.values import (
    coerce,
    format_text,
    from_json,
    from_literal,
    parse_text,
    to_json,
    to_literal,
)

pytestmark = pytest.mark.unit

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
DATETIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
# Whole microseconds within ~285 years survive a float number of seconds exactly.
TIMEDELTAS = st.timedeltas(min_value=timedelta(days=-100_000), max_value=timedelta(days=100_000))
URIS = st.builds(lambda k: f"s3://bucket/{k}", st.text("abcxyz/_-.0123456789", min_size=1))

PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "int": INT64,
    "float": FLOATS,
    "str": st.text(),
    "bool": st.booleans(),
    "datetime": DATETIMES,
    "timedelta": TIMEDELTAS,
}
SCALARS = {**PRIMITIVES, "file": URIS.map(File), "directory": URIS.map(Directory)}


def typed_values() -> st.SearchStrategy[tuple[TypeRef, Any]]:
    """(type, value) pairs for any type: scalars, and lists and dicts nested up to three deep."""
    scalars = st.sampled_from(sorted(SCALARS)).flatmap(
        lambda name: st.tuples(st.just(TypeRef(name)), SCALARS[name])
    )

    def extend(inner: st.SearchStrategy[tuple[TypeRef, Any]]) -> st.SearchStrategy[Any]:
        def collections(pair: tuple[TypeRef, Any]) -> st.SearchStrategy[tuple[TypeRef, Any]]:
            t, _ = pair
            items = inner.filter(lambda p: p[0] == t).map(lambda p: p[1])
            return st.one_of(
                st.tuples(st.just(TypeRef("list", t)), st.lists(items, max_size=3)),
                st.tuples(
                    st.just(TypeRef("dict", t)),
                    st.dictionaries(st.text(min_size=1, max_size=5), items, max_size=3),
                ),
            )

        return inner.flatmap(collections)

    return st.recursive(scalars, extend, max_leaves=6)


@given(st.sampled_from(sorted(PRIMITIVES)).flatmap(lambda n: st.tuples(st.just(n), PRIMITIVES[n])))
def test_text_round_trip(pair: tuple[str, Any]) -> None:
    name, value = pair
    t = TypeRef(name)
    if name == "str":
        value = value.strip()  # text files are read with surrounding whitespace trimmed
    assert parse_text(t, format_text(t, value), "x") == value


@given(
    st.sampled_from(sorted(PRIMITIVES)), st.text(" \t\n", max_size=3), st.text(" \t\n", max_size=3)
)
def test_surrounding_whitespace_is_ignored(name: str, before: str, after: str) -> None:
    t = TypeRef(name)
    text = format_text(
        t,
        coerce(
            t,
            {
                "int": 5,
                "float": 2.5,
                "str": "s",
                "bool": False,
                "datetime": datetime(2024, 1, 1),
                "timedelta": timedelta(1),
            }[name],
            "x",
        ),
    )
    assert parse_text(t, before + text + after, "x") == parse_text(t, text, "x")


@given(st.text(max_size=12))
def test_parse_text_accepts_only_well_formed_numbers(text: str) -> None:
    for name, convert in (("int", int), ("float", float)):
        try:
            parsed = parse_text(TypeRef(name), text, "x")
        except SpecError as e:
            assert e.field == "x"
            continue
        assert parsed == convert(text.strip())


@given(st.sampled_from(["yes", "no", "on", "off", "tRUE", "2", "-1", "", "truee"]))
def test_bool_text_is_strict(text: str) -> None:
    with pytest.raises(SpecError, match="true or false"):
        parse_text(TypeRef("bool"), text, "x")


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("float", 1e-05, "0.00001"),
        ("float", 3.0, "3"),
        ("float", -0.5, "-0.5"),
        ("float", 1e21, "1000000000000000000000"),
        ("float", 0.1 + 0.2, "0.30000000000000004"),
        ("timedelta", timedelta(hours=1), "1h0m0s"),
        ("timedelta", timedelta(seconds=90), "1m30s"),
        ("timedelta", timedelta(seconds=1.5), "1.5s"),
        ("timedelta", timedelta(milliseconds=300), "300ms"),
        ("timedelta", timedelta(microseconds=2), "2µs"),
        ("timedelta", timedelta(0), "0s"),
        ("timedelta", -timedelta(hours=25, microseconds=1), "-25h0m0.000001s"),
        ("datetime", datetime(2024, 5, 1, 12, tzinfo=UTC), "2024-05-01T12:00:00Z"),
        ("datetime", datetime(2024, 5, 1, 12, 0, 0, 120000, UTC), "2024-05-01T12:00:00.12Z"),
        ("bool", True, "true"),
    ],
)
def test_text_is_written_as_flytes_go_copilot_writes_it(name: str, value: Any, text: str) -> None:
    """strconv.FormatFloat(f, 'f', -1, 64), time.Duration.String(), RFC 3339 (Go)."""
    assert format_text(TypeRef(name), value) == text
    assert parse_text(TypeRef(name), text, "x") == value


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("timedelta", "90", timedelta(seconds=90)),
        ("timedelta", "1.5", timedelta(seconds=1.5)),
        ("timedelta", "1h30m", timedelta(minutes=90)),
        ("timedelta", "1.5h", timedelta(minutes=90)),
        ("timedelta", "2us", timedelta(microseconds=2)),
        ("timedelta", "-1m", timedelta(minutes=-1)),
        ("float", "1e-05", 1e-05),
        ("bool", "1", True),
        ("bool", "T", True),
        ("bool", "False", False),
        ("bool", "f", False),
    ],
)
def test_text_reads_gos_forms_and_the_earlier_ones(name: str, text: str, value: Any) -> None:
    assert parse_text(TypeRef(name), text, "x") == value


@given(typed_values())
def test_json_round_trip(pair: tuple[TypeRef, Any]) -> None:
    t, value = pair
    assert from_json(t, to_json(t, value), "x") == coerce(t, value, "x")


@given(typed_values())
def test_literal_round_trip(pair: tuple[TypeRef, Any]) -> None:
    t, value = pair
    literal = to_literal(t, value)
    again = type(literal).FromString(literal.SerializeToString())
    assert from_literal(t, again, "x") == coerce(t, value, "x")


@given(typed_values(), typed_values())
def test_literal_of_another_type_is_refused(a: tuple[TypeRef, Any], b: tuple[TypeRef, Any]) -> None:
    (ta, va), (tb, _) = a, b
    literal = to_literal(ta, va)
    try:
        decoded = from_literal(tb, literal, "x")
    except SpecError:
        return
    # Only an empty collection can read as another collection of the same kind.
    assert ta == tb or (ta.name == tb.name and decoded in ([], {}))


@given(st.permutations(sorted(SCALARS)).map(lambda names: names[:2]), st.data())
def test_scalar_literal_of_another_scalar_type_is_refused(names: list[str], data: Any) -> None:
    written, read = TypeRef(names[0]), TypeRef(names[1])
    literal = to_literal(written, data.draw(SCALARS[names[0]]))
    with pytest.raises(SpecError):
        from_literal(read, literal, "x")


@given(st.one_of(st.integers(max_value=-(2**63) - 1), st.integers(min_value=2**63)))
def test_ints_beyond_64_bits_are_refused(value: int) -> None:
    with pytest.raises(SpecError, match="64 bits"):
        coerce(TypeRef("int"), value, "x")
