"""The published JSON Schema and the parser agree: whatever the schema accepts the parser
accepts (instances generated from the schema), whatever it rejects the parser rejects
(mutations judged by `jsonschema`, the oracle)."""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from engine.history import from_model
from schemas.bounds import CYCLE_MAX, NAME_MAX
from schemas.generate import documents
from schemas.parse import InvalidEvent, parse_event
from tests.schemas.strategy import from_schema

SCALE = float(os.environ.get("SLA_FUZZ_SCALE", "1"))  # e.g. 20 for a long local run
BASE: dict[str, Any] = {
    "event_id": "e-1",
    "ticket_id": "T-1",
    "occurred_at": "2026-11-23T09:00:00+08:00",
}


@cache
def schema() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(documents()["ticket-event.schema.json"])
    return doc


@cache
def oracle() -> Draft202012Validator:
    checker = FormatChecker()
    assert "date-time" in checker.checkers, "install rfc3339-validator: date-time is unchecked"
    return Draft202012Validator(schema(), format_checker=checker)


EVENTS = st.deferred(lambda: from_schema(schema()))  # built once: strategies are costly to make


def accepted(doc: Any) -> bool:
    try:
        parse_event(json.dumps(doc, ensure_ascii=False, allow_nan=False).encode())
    except InvalidEvent:
        return False
    return True


@settings(max_examples=int(300 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(EVENTS)
def test_every_instance_of_the_schema_is_accepted(doc: dict[str, Any]) -> None:
    assert oracle().is_valid(doc)
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False).encode()
    event = parse_event(text)
    from_model(event)  # and the engine's edge takes it


# Values that lax parsers turn into something else: each must be judged like the schema does.
TRICKY: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    3,
    3.0,
    3.5,
    -1,
    5,
    6,
    1e2,
    10**30,
    CYCLE_MAX,
    CYCLE_MAX + 1,
    1_700_000_000,
    1_700_000_000_000,
    "",
    "3",
    "true",
    "A",
    "Z",
    "x" * (NAME_MAX + 1),
    "x" * NAME_MAX,
    "in_progress",
    "pending customer",
    "+86 139 0000 0000",
    "2026-11-23T09:00:00+08:00",
    "2026-11-23T09:00:00+0800",
    "2026-11-23T09:00:00",
    "2026-11-23 09:00:00+08:00",
    "2026-11-23T09:00:00Z",
    "2026-11-23T09:00:00z",
    "2026-11-23t09:00:00Z",
    "2026-11-23T09:00:00Z\n",
    "2026-11-23T09:00:00.123456789Z",
    "2026-11-23T09:00:00.1234567891Z",
    "2026-11-23T09:00Z",
    "2026-02-29T09:00:00Z",
    "2028-02-29T09:00:00Z",
    "1899-12-31T23:59:59Z",
    "1900-01-01T00:00:00+14:00",
    "1999-12-31T23:59:59Z",
    "2000-01-01T00:00:00+14:00",
    "2099-12-31T23:59:59-12:00",
    "2100-01-01T00:00:00Z",
    "8999-12-31T23:59:59-12:00",
    "9000-01-01T00:00:00Z",
    "2026-11-23T24:00:00Z",
    "2026-11-23T09:00:60Z",
    "2026-11-23T09:00:00+24:00",
    "2026-11-23T09:00:00-00:00",
    "２０２６-11-23T09:00:00Z",
    [],
    {},
    {"overall": 5},
    {"overall": "5"},
    {"id": "c-1", "name": "Li Lei"},
    "created",
    "status_changed",
    "upheld",
]


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    return out


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    for k in path[:-1]:
        doc = doc[k]
    if delete:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(json.dumps(draw(EVENTS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        extra = ["priority", "cycle", "status", "survey", "customer_confirmed", "outcome"]
        path = draw(
            st.one_of(
                st.sampled_from(paths) if paths else st.nothing(),
                st.sampled_from(extra).map(lambda k: (k,)),
            )
        )
        if path == ("type",) and draw(st.booleans()):
            continue  # keep the type mostly: mutate the fields the type defines
        delete = path in paths and draw(st.integers(0, 5)) == 0
        _set(doc, path, draw(st.sampled_from(TRICKY)), delete)
    return doc


@settings(max_examples=int(600 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_the_parser_rejects_exactly_what_the_schema_rejects(doc: dict[str, Any]) -> None:
    assert accepted(doc) == oracle().is_valid(doc), doc


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("occurred_at", 1_700_000_000),
        ("occurred_at", 1_700_000_000.5),
        ("occurred_at", "2026-11-23T09:00:00+0800"),
        ("occurred_at", "2026-11-23T09:00:00.5+0800"),
        ("survey", {"overall": "3"}),
        ("survey", {"overall": True}),
        ("survey", {"overall": 3.5}),
        ("cycle", 10**30),
        ("cycle", "2"),
        ("customer_confirmed", "true"),
        ("customer_confirmed", 1),
        ("agent", "x" * 1_200_000),
        ("status", "call +86 139 0000 0000"),
    ],
)
def test_lax_inputs_of_issue_11_are_rejected_by_both(field: str, value: Any) -> None:
    types = {
        "survey": "survey_submitted",
        "cycle": "exemption_requested",
        "customer_confirmed": "closed",
        "status": "status_changed",
    }
    doc = {**BASE, "type": types.get(field, "created"), "priority": "A", "clock": "resolution"}
    doc["status"] = "in_progress"
    doc["survey"] = {"overall": 4}
    doc[field] = value
    assert not oracle().is_valid(doc)
    with pytest.raises(InvalidEvent, match=field):
        parse_event(json.dumps(doc).encode())


def test_integral_numbers_are_integers_as_in_json_schema() -> None:
    doc = {**BASE, "type": "survey_submitted", "survey": {"overall": 4.0, "recommend": 5e0}}
    assert oracle().is_valid(doc)
    event = parse_event(json.dumps(doc).encode())
    assert event.type == "survey_submitted" and event.survey.overall == 4


@pytest.mark.parametrize(
    "text",
    [
        b'{"event_id":"e","ticket_id":"T","type":"created","priority":"A","priority":"C",'
        b'"occurred_at":"2026-11-23T09:00:00Z"}',
        b'{"event_id":"e","ticket_id":"T","type":"closed","occurred_at":"2026-11-23T09:00:00Z",'
        b'"customer":{"id":"c-1","id":"c-2"}}',
        b'{"event_id":"e","ticket_id":"T","type":"closed","type":"created","priority":"A",'
        b'"occurred_at":"2026-11-23T09:00:00Z"}',
    ],
)
def test_duplicate_keys_are_rejected(text: bytes) -> None:
    # A JSON Schema validator sees one value of a repeated key; the contract forbids repeats.
    with pytest.raises(InvalidEvent, match="duplicate key"):
        parse_event(text)


def test_the_schema_says_keys_are_unique() -> None:
    assert "duplicate" in schema()["description"].lower()


def test_values_at_every_bound_do_not_crash_the_engine() -> None:
    # The poison pills of issue #11 (cycle 10**30, a 1.2 MB agent name) are now outside the
    # schema; at the bounds themselves the state serialises and every alert stays far below
    # Kafka's 1 MB default message size, even after many hand-offs.
    from engine.processor import Processor
    from engine.ticket import Ticket
    from schemas.bounds import ID_MAX
    from tests.engine.test_evaluate import POLICY

    wide = "\U0001f600" * NAME_MAX  # 4 bytes a character in UTF-8
    tid = "T" * ID_MAX
    holder = {"team": wide, "agent": wide, "supervisor": wide, "department": wide}
    docs: list[dict[str, Any]] = [
        {**BASE, "ticket_id": tid, "type": "created", "priority": "A", "category": wide, **holder},
    ]
    for i in range(40):
        docs.append(
            {
                **BASE,
                "event_id": f"{i:03d}" + "e" * (ID_MAX - 3),
                "ticket_id": tid,
                "type": "assigned",
                "occurred_at": f"2026-11-23T{9 + i // 10:02d}:{i % 10 * 5:02d}:00+08:00",
                **{k: f"{i:03d}{wide[3:]}" for k in holder},
            }
        )
    for kind in ("exemption_requested", "exemption_granted", "exemption_rejected"):
        docs.append(
            {
                **BASE,
                "event_id": kind,
                "ticket_id": tid,
                "type": kind,
                "occurred_at": "2026-11-23T20:00:00+08:00",
                "clock": "resolution",
                "cycle": CYCLE_MAX,
                "reason": "r" * 4000,
            }
        )
    proc = Processor(POLICY)
    alerts = []
    for d in docs:
        assert oracle().is_valid(d)
        alerts.extend(proc.ingest(tid, from_model(parse_event(json.dumps(d).encode()))))
    alerts.extend(proc.advance(proc.clock + 30 * 86_400 * 1_000_000))
    assert alerts
    largest = max(len(json.dumps(a, ensure_ascii=False).encode()) for a in alerts)
    assert largest < 256_000, largest
    ticket = proc.tickets[tid]
    restored = Ticket.from_bytes(ticket.to_bytes(), POLICY)
    assert len(restored.history) == len(docs)
