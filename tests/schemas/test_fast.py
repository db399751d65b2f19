"""The fast decode path (`schemas.fast`) against the pydantic model it stands in for: on the
schema's instances and on mutants of them (tests/schemas/test_contract.py's strategies), in
several JSON spellings, `parse_fields` gives the same verdict, the same reject reason and the
same event as `parse_event`; and the fast path answers for the common event at all."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.history import Ev, from_fields, from_model
from engine.instant import to_us
from schemas import fast
from schemas.parse import InvalidEvent, parse_event, parse_fields
from tests.schemas.test_contract import BASE, EVENTS, SCALE, mutated


def _slow(raw: bytes) -> Ev | str:
    try:
        return from_model(parse_event(raw))
    except InvalidEvent as e:
        return e.reason


def _fast(raw: bytes) -> Ev | str:
    try:
        f = parse_fields(raw)
    except InvalidEvent as e:
        return e.reason
    return from_fields(f, to_us(f["occurred_at"]))


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
