"""Hypothesis strategies for instances of a JSON Schema: the subset pydantic emits.

hypothesis-jsonschema 0.23.1 (the newest) reaches into Hypothesis internals that Hypothesis
6.170 no longer has (`many.more`), so this small generator stands in for it. A keyword it does
not know fails loudly: a schema change cannot silently narrow what the tests generate.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from schemas.bounds import YEAR_MAX, YEAR_MIN

ANNOTATIONS = frozenset({"title", "default", "description", "discriminator", "$defs", "examples"})
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


@st.composite
def instants(draw: st.DrawFn, pattern: str | None) -> str:
    """RFC 3339 date-times (the `date-time` format) in the contract's years, any offset and
    precision."""
    moment = draw(st.datetimes(datetime(YEAR_MIN, 1, 1), datetime(YEAR_MAX, 12, 31, 23, 59, 59)))
    minutes = draw(st.integers(-(24 * 60 - 1), 24 * 60 - 1))
    digits = draw(st.integers(0, 9))
    zone = timezone(timedelta(minutes=minutes))
    text = moment.replace(tzinfo=zone).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + draw(st.from_regex(rf"[0-9]{{{digits}}}", fullmatch=True))
    if minutes == 0 and draw(st.booleans()):
        text += "Z"
    else:
        sign = "-" if minutes < 0 else "+"
        text += f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if pattern is not None and re.search(pattern, text) is None:
        raise AssertionError(f"{text} does not match {pattern}")  # the generator is wrong
    return text


def from_schema(schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """A strategy for the instances of `schema` (refs resolved against `root`)."""
    root = schema if root is None else root
    keys = set(schema) - ANNOTATIONS
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return st.deferred(lambda: from_schema(root["$defs"][name], root))
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return st.one_of([from_schema(s, root) for s in schema[combinator]])
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    known = {"type"}
    if kind == "null":
        out: Any = st.none()
    elif kind == "boolean":
        out = st.booleans()
    elif kind == "integer":
        known |= {"minimum", "maximum"}
        lo, hi = schema.get("minimum"), schema.get("maximum")
        ints = st.integers(lo, hi)
        edges = [v for v in (lo, hi) if v is not None]
        out = st.one_of(ints, st.sampled_from(edges)) if edges else ints
    elif kind == "string":
        known |= {"minLength", "maxLength", "pattern", "format"}
        out = _strings(schema)
    elif kind == "object" and "propertyNames" in schema:
        known |= {"propertyNames", "additionalProperties", "maxProperties"}
        out = _maps(schema, root)
    elif kind == "object":
        known |= {"properties", "required", "additionalProperties"}
        out = _objects(schema, root)
    else:
        raise NotImplementedError(f"schema type {kind!r}")
    unknown = keys - known
    if unknown:
        raise NotImplementedError(f"schema keywords {sorted(unknown)}")
    return out


def _strings(schema: dict[str, Any]) -> Any:
    lo, hi = schema.get("minLength", 0), schema.get("maxLength")
    pattern = schema.get("pattern")
    if schema.get("format") == "date-time":
        return instants(pattern)
    if "format" in schema:
        raise NotImplementedError(f"format {schema['format']!r}")
    if pattern is not None:
        base = st.from_regex(pattern)
    else:
        base = st.text(min_size=lo, max_size=hi)
        if hi is not None and hi > 40:  # reach the bound now and then
            base = st.one_of(base, st.text(min_size=hi - 2, max_size=hi).filter(bool))
    return base.filter(lambda s: lo <= len(s) <= (hi if hi is not None else len(s)))


def _objects(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    props = schema.get("properties", {})
    required = set(schema.get("required", ()))
    fixed = {k: from_schema(v, root) for k, v in props.items() if k in required}
    optional = {k: from_schema(v, root) for k, v in props.items() if k not in required}
    extra = st.just({})
    if schema.get("additionalProperties", True) is not False:
        extra = st.dictionaries(
            st.text(max_size=10).filter(lambda k: k not in props), JSON_VALUES, max_size=3
        )

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        out = dict(draw(extra))
        out.update(draw(st.fixed_dictionaries(fixed, optional=optional)))
        return out

    return build()


def _maps(schema: dict[str, Any], root: dict[str, Any]) -> Any:
    """A map with constrained keys (`propertyNames`) and one schema for every value."""
    keys = from_schema({"type": "string", **schema["propertyNames"]}, root)
    values = from_schema(schema.get("additionalProperties", {"type": "string"}), root)
    return st.dictionaries(keys, values, max_size=min(schema.get("maxProperties", 4), 4))
