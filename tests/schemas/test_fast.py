"""The fast decode path (`schemas.fast`) against the pydantic model it stands in for: on the
schema's instances and on mutants of them (tests/schemas/test_contract.py's strategies), in
several JSON spellings, `parse_fields` gives the same verdict, the same reject reason and the
same event as `parse_event`; and the fast path answers for the common event at all."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.history import Ev, decoded, from_fields, from_model
from engine.instant import to_us
from schemas import fast
from schemas.bounds import INSTANT_RE
from schemas.parse import InvalidEvent, parse_event, parse_fields
from tests.schemas.test_contract import BASE, EVENTS, SCALE, mutated


def _slow(raw: bytes) -> Ev | str:
    try:
        return from_model(parse_event(raw))
    except InvalidEvent as e:
        return e.reason


def _fast(raw: bytes) -> Ev | str:
    """What the replay and the worker decode (`engine.history.decoded`), checked against
    `parse_fields`; and `fast.timed`, when it answers, saying the same (its instant in µs as
    `to_us` gives it)."""
    try:
        f = parse_fields(raw)
    except InvalidEvent as e:
        with pytest.raises(InvalidEvent) as raised:
            decoded(raw)
        assert raised.value.reason == e.reason
        return e.reason
    at = to_us(f["occurred_at"])
    found = fast.timed(raw)
    if found is not None:
        fields, fast_at = found
        assert fast_at == at
        assert {**fields, "occurred_at": f["occurred_at"]} == f
    ev = from_fields(f, at)
    assert decoded(raw) == (f["ticket_id"], ev)
    return ev


def _spellings(doc: Any) -> list[bytes]:
    """The same document as a compact line, indented, with escaped non-ASCII and spaces."""
    return [
        json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() + b"\n",
        json.dumps(doc, ensure_ascii=False, indent=1).encode(),
        json.dumps(doc).encode(),
        json.dumps(doc, ensure_ascii=False, separators=(" ,", " : ")).encode() + b"\r\n",
    ]


def _agree(doc: Any) -> None:
    for raw in _spellings(doc):
        assert _fast(raw) == _slow(raw), raw


@settings(max_examples=int(150 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(EVENTS)
def test_fast_path_agrees_on_every_instance_of_the_schema(doc: dict[str, Any]) -> None:
    _agree(doc)


@settings(max_examples=int(150 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_fast_path_agrees_on_mutants(doc: dict[str, Any]) -> None:
    _agree(doc)


def _repeat(raw: bytes, key: str, value: str) -> bytes:
    """`raw` with `key` written a second time, after the first key (a JSON object's text)."""
    return raw[:1] + f'"{key}":{value},'.encode() + raw[1:]


@settings(max_examples=int(150 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(EVENTS, st.data())
def test_a_repeated_key_is_rejected_as_before(doc: dict[str, Any], data: st.DataObject) -> None:
    raw = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()
    key = data.draw(st.sampled_from(sorted(doc)))
    value = data.draw(st.sampled_from(['"x"', '"a:b"', "1", "null", json.dumps(doc[key])]))
    mutant = _repeat(raw, key, value)
    assert fast.fields(mutant) is None
    assert _fast(mutant) == _slow(mutant)
    assert isinstance(_slow(mutant), str)


CREATED = {
    **BASE,
    "type": "created",
    "priority": "B",
    "channel": "online",
    "category": "complex",
    "team": "team-1",
    "agent": "a-38",
    "customer": {"id": "c-1", "name": "Li Lei"},
    "attributes": {"tier": "vip"},
}


@pytest.mark.parametrize(
    "doc",
    [
        CREATED,
        {**BASE, "type": "responded"},
        {**BASE, "type": "status_changed", "status": "pending_customer"},
        {**BASE, "type": "resolved", "solution": "reset: done"},
        {**BASE, "type": "closed", "customer_confirmed": True},
        {**BASE, "type": "survey_submitted", "survey": {"overall": 4, "comment": "ok"}},
        {**BASE, "type": "exemption_granted", "clock": "resolution", "reason": "system_fault"},
        {**BASE, "type": "appeal_decided", "alert_id": "a1", "outcome": "overturned"},
        {**BASE, "type": "assigned", "agent": "a-2", "extra": "kept:not read", "n": 1.5},
    ],
)
def test_the_common_events_take_the_fast_path(doc: dict[str, Any]) -> None:
    raw = orjson.dumps(doc)
    assert fast.fields(raw) is not None
    assert _fast(raw) == _slow(raw)


@pytest.mark.parametrize(
    "raw",
    [
        _repeat(orjson.dumps(CREATED), "priority", '"A"'),
        _repeat(orjson.dumps(CREATED), "occurred_at", '"2026-11-23T09:00:00Z"'),
        orjson.dumps(CREATED).replace(b'"team"', b'"agent"'),  # a repeat with another value
        b'{"a":1,' + orjson.dumps({**CREATED, "note": "a:b"})[1:-1] + b',"a" :2}',
        orjson.dumps({**CREATED, "occurred_at": "2026-02-30T09:00:00Z"}),
        orjson.dumps({**CREATED, "category": None}),
        orjson.dumps({**CREATED, "extra": {"nested": [1]}}),
        orjson.dumps({**BASE, "type": "exemption_requested", "clock": "c", "cycle": 2.0}),
        orjson.dumps({**BASE, "type": "status_changed", "status": "a b"}),
        b'{"event_id":"e\\u003a","ticket_id":"t","type":"responded"}',
    ],
)
def test_what_the_fast_path_leaves_to_the_model(raw: bytes) -> None:
    assert fast.fields(raw) is None
    assert _fast(raw) == _slow(raw)


def _instant_reference(text: str) -> int | None:
    """The model's verdict on an `occurred_at` text (pattern, then a real date) and its µs."""
    if INSTANT_RE.search(text) is None:
        return None
    try:
        return to_us(datetime.fromisoformat(text))
    except ValueError:
        return None


_TWO_DIGITS = st.one_of(st.integers(0, 12), st.integers(0, 99)).map(lambda n: f"{n:02d}")
_INSTANTS = st.builds(
    lambda y, mo, d, h, mi, s, frac, tz, sep: f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{frac}{tz}",
    st.sampled_from(["2026", "2000", "2099", "1999", "2100", "20x6"]),
    _TWO_DIGITS,
    _TWO_DIGITS,
    _TWO_DIGITS,
    _TWO_DIGITS,
    _TWO_DIGITS,
    st.sampled_from(["", ".5", ".12", ".123", ".1234", ".123456", ".1234567", ".12a456", ".", "x"]),
    st.sampled_from(["Z", "+08:00", "-05:30", "+23:59", "+24:00", "+08:60", "", "z", "+0800"]),
    st.sampled_from(["T", "t", " "]),
)


@settings(max_examples=int(600 * SCALE), deadline=None)
@given(_INSTANTS, st.sampled_from(["", "\n", "x"]))
def test_the_instant_shortcut_agrees_with_pattern_and_datetime(text: str, end: str) -> None:
    """`fast._instant` (an hour cache and a minute-second table) against the model's rule."""
    text += end
    expected = _instant_reference(text)
    for _ in range(2):  # the second time from the hour cache
        try:
            got: int | None = fast._instant(text)
        except fast._Unsure:
            got = None
        assert got == expected
