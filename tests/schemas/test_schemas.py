"""The message contract: committed JSON Schemas match the models; input validation; privacy."""

from __future__ import annotations

import io
import json
from typing import Any

import orjson
import pytest

from config.loader import load
from offline.file import replay
from schemas.events import EVENT_TYPES
from schemas.generate import JSON_DIR, documents
from schemas.outputs import Alert, KpiSnapshot, Reject
from schemas.parse import InvalidEvent, parse_event
from workload import generate

CREATED: dict[str, Any] = {
    "event_id": "e-1001",
    "ticket_id": "T-1",
    "type": "created",
    "occurred_at": "2026-11-23T09:00:00+08:00",
    "priority": "A",
    "channel": "phone",
    "category": "simple",
    "team": "hotline-east",
    "agent": "a-17",
    "supervisor": "s-3",
    "department": "after-sales",
    "product_line": "router",
    "customer": {"id": "c-9", "name": "Li Lei", "phone": "+86 139 0000 0000", "email": "l@x.cn"},
}


def raw(**changes: Any) -> bytes:
    d = dict(CREATED)
    for k, v in changes.items():
        if v is None:
            d.pop(k, None)
        else:
            d[k] = v
    return orjson.dumps(d)


# --------------------------------------------------------------------------------------------
# generated schema files


def test_committed_schemas_match_the_models() -> None:
    docs = documents()
    committed = {p.name: p.read_text(encoding="utf-8") for p in JSON_DIR.glob("*.json")}
    assert set(committed) == set(docs), "schemas/json has missing or stray files"
    for name, text in docs.items():
        assert committed[name] == text, (
            f"schemas/json/{name} is stale: run `python -m schemas.generate`"
        )


def test_schema_files_are_valid_json_with_every_event_type() -> None:
    docs = {name: json.loads(text) for name, text in documents().items()}
    event_schema = json.dumps(docs["ticket-event.schema.json"])
    for t in EVENT_TYPES:
        assert f'"{t}"' in event_schema, t
    assert "onsite_requested" in EVENT_TYPES
    spec_types = {
        "created",
        "assigned",
        "responded",
        "onsite_arrived",
        "updated",
        "status_changed",
        "priority_changed",
        "resolved",
        "reopened",
        "closed",
        "survey_sent",
        "survey_submitted",
        "exemption_granted",
        "appeal_decided",
    }
    assert spec_types <= set(EVENT_TYPES)


def test_alert_schema_has_the_spec_fields() -> None:
    props = Alert.model_json_schema()["properties"]
    for f in (
        "alert_id",
        "ticket_id",
        "clock",
        "kind",
        "level",
        "priority",
        "due_at",
        "target_seconds",
        "elapsed_seconds",
        "responsible",
        "notify",
        "policy_version",
        "caused_by",
        "detected_at",
        "retracts",
    ):
        assert f in props, f


# --------------------------------------------------------------------------------------------
# input validation


def test_valid_created_event() -> None:
    e = parse_event(raw())
    assert e.type == "created"
    assert e.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    "bad_time", ["2026-11-23T09:00:00", "2026-11-23 09:00:00", "2026-11-23", "yesterday"]
)
def test_naive_or_bad_occurred_at_is_rejected(bad_time: str) -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw(occurred_at=bad_time))
    assert "occurred_at" in info.value.reason


@pytest.mark.parametrize("far", ["9999-12-31T20:00:00+08:00", "0001-01-01T00:00:00-08:00"])
def test_occurred_at_outside_calendar_range_is_rejected(far: str) -> None:
    # a valid but absurd instant must be a reject, not a crash in calendar arithmetic later
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(raw(occurred_at=far))


def test_missing_occurred_at_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="occurred_at"):
        parse_event(raw(occurred_at=None))


@pytest.mark.parametrize("offset", ["+08:00", "Z", "-05:00", "+05:45"])
def test_any_utc_offset_is_accepted(offset: str) -> None:
    e = parse_event(raw(occurred_at=f"2026-11-23T09:00:00{offset}"))
    assert e.occurred_at.utcoffset() is not None


def test_unknown_type_is_rejected() -> None:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw(type="exploded"))
    assert "unknown event type 'exploded'" in info.value.reason


def test_missing_type_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="type"):
        parse_event(raw(type=None))


def test_unknown_priority_is_rejected() -> None:
    with pytest.raises(InvalidEvent, match="priority"):
        parse_event(raw(priority="Z"))
    with pytest.raises(InvalidEvent, match="priority"):
        parse_event(
            orjson.dumps(
                {
                    "event_id": "e-2",
                    "ticket_id": "T-1",
                    "type": "priority_changed",
                    "occurred_at": "2026-11-23T09:00:00+08:00",
                    "priority": "urgent",
                }
            )
        )


@pytest.mark.parametrize("text", [b"not json", b"[1, 2]", b"42", b'"x"', b"null", b"{"])
def test_not_an_object_is_rejected(text: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(text)


def test_required_fields_per_type() -> None:
    base = {"event_id": "e", "ticket_id": "T", "occurred_at": "2026-11-23T09:00:00+08:00"}
    for type_, missing in [
        ("status_changed", "status"),
        ("priority_changed", "priority"),
        ("exemption_granted", "clock"),
        ("appeal_decided", "alert_id"),
        ("appeal_decided", "outcome"),
        ("survey_submitted", "survey"),
    ]:
        d = {
            **base,
            "type": type_,
            "status": "x",
            "priority": "A",
            "clock": "resolution",
            "reason": "r",
            "alert_id": "a",
            "outcome": "overturned",
            "survey": {"overall": 5},
        }
        del d[missing]
        with pytest.raises(InvalidEvent, match=missing):
            parse_event(orjson.dumps(d))


def test_appeal_outcome_must_be_upheld_or_overturned() -> None:
    d = {
        "event_id": "e",
        "ticket_id": "T",
        "type": "appeal_decided",
        "occurred_at": "2026-11-23T09:00:00+08:00",
        "alert_id": "a",
        "outcome": "maybe",
    }
    with pytest.raises(InvalidEvent, match="outcome"):
        parse_event(orjson.dumps(d))


def test_survey_scores_are_one_to_five() -> None:
    d = {
        "event_id": "e",
        "ticket_id": "T",
        "type": "survey_submitted",
        "occurred_at": "2026-11-23T09:00:00+08:00",
        "survey": {"overall": 6},
    }
    with pytest.raises(InvalidEvent, match="overall"):
        parse_event(orjson.dumps(d))


def test_unknown_extra_fields_are_kept() -> None:
    e = parse_event(raw(source_system="crm-7", tags=["vip"], nested={"a": 1}))
    dumped = e.model_dump(mode="json")
    assert dumped["source_system"] == "crm-7"
    assert dumped["tags"] == ["vip"]
    assert dumped["nested"] == {"a": 1}
    assert e.customer is not None
    c = parse_event(raw(customer={"id": "c-1", "loyalty": "gold"})).customer
    assert c is not None and c.model_dump()["loyalty"] == "gold"


def test_customer_name_phone_email_are_accepted_on_input() -> None:
    e = parse_event(raw())
    assert e.type == "created"
    assert e.customer is not None
    assert e.customer.name == "Li Lei"
    assert e.customer.phone == "+86 139 0000 0000"
    assert e.customer.email == "l@x.cn"


# --------------------------------------------------------------------------------------------
# privacy: no output model has customer name or contact


def _all_property_names(schema: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(schema, dict):
        for k, v in schema.items():
            if k == "properties" and isinstance(v, dict):
                names.update(v)
            names |= _all_property_names(v)
    elif isinstance(schema, list):
        for v in schema:
            names |= _all_property_names(v)
    return names


@pytest.mark.parametrize("model", [Alert, Reject, KpiSnapshot])
def test_no_output_model_has_customer_name_or_contact(model: Any) -> None:
    names = {n.lower() for n in _all_property_names(model.model_json_schema())}
    for forbidden in ("name", "phone", "email", "customer", "contact"):
        assert not any(forbidden in n for n in names), (model.__name__, names)


@pytest.mark.parametrize("model", [Alert, KpiSnapshot])
def test_output_models_forbid_extra_fields(model: Any) -> None:
    assert model.model_json_schema().get("additionalProperties") is False


def test_replay_output_never_carries_customer_name_or_phone() -> None:
    events = list(generate(150, seed=11))
    named = [e for e in events if (e.get("customer") or {}).get("name")]
    assert len(named) > 10, "the workload should carry customer names"
    names = {e["customer"]["name"].encode() for e in named}
    phones = {e["customer"]["phone"].encode() for e in named}
    # add an email and a bad line with a name too: rejects keep raw input, alerts must not
    for e in named[:5]:
        e["customer"]["email"] = "zhang.wei@example.cn"
    source = io.BytesIO(b"".join(orjson.dumps(e) + b"\n" for e in events))
    out = io.BytesIO()
    result = replay(source, load(), None, out, None)
    alerts = out.getvalue()
    assert result.events == len(events)
    assert sum(result.alerts.values()) > 50
    for secret in names | phones | {b"zhang.wei@example.cn"}:
        assert secret not in alerts
    assert b'"customer' not in alerts
    for line in alerts.splitlines():
        Alert.model_validate_json(line)
