"""Free text never reaches ticket state (RocksDB, changelog) or `explain` verbatim: only what
evaluation and the KPIs read is kept (issue #11, privacy)."""

from __future__ import annotations

import orjson

from engine.explain import explain
from engine.history import NOT_KEPT, RECORDED, from_model
from engine.instant import to_us
from engine.kpis import KpiAggregate, contributions
from engine.processor import Processor
from engine.ticket import Ticket
from schemas.parse import parse_event
from tests.engine.test_evaluate import POLICY, Story, day

PHONE = "+86 139 1234 5678"


def _story() -> Story:
    s = Story()
    s.created(day(0, 10), request_type="repair", customer={"id": "c-1", "name": "Wang Fang"})
    s.add("responded", day(0, 10, 1))
    s.add("exemption_requested", day(0, 10, 2), clock="resolution", reason=f"call {PHONE}")
    s.add("exemption_rejected", day(0, 10, 3), clock="resolution", reason="not_external")
    s.add("resolved", day(1, 16), solution=f"replaced the unit, customer on {PHONE}")
    s.add("closed", day(1, 17), customer_confirmed=True)
    s.add("survey_sent", day(1, 17, 1))
    s.add(
        "survey_submitted",
        day(1, 17, 5),
        survey={"overall": 1, "comment": f"ring {PHONE}", "invalid_reason": " Malicious "},
    )
    s.add(
        "survey_submitted",
        day(1, 17, 9),
        survey={"overall": 1, "invalid_reason": f"wrong number, mine is {PHONE}"},
    )
    return s


def _replayed() -> tuple[Processor, list[dict[str, object]]]:
    proc = Processor(POLICY)
    alerts = []
    for e in _story().events:
        alerts.extend(proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e)))))
    alerts.extend(proc.advance(to_us(day(3, 9))))
    return proc, alerts


def test_state_and_its_changelog_bytes_hold_no_free_text() -> None:
    proc, _ = _replayed()
    stored = proc.tickets["T-1"].to_bytes()
    assert PHONE.encode() not in stored
    assert b"Wang Fang" not in stored
    assert b"replaced the unit" not in stored
    data = {ev.type: ev.data for ev in proc.tickets["T-1"].history}
    assert data["resolved"]["solution"] == RECORDED
    assert data["exemption_requested"]["reason"] == NOT_KEPT
    assert data["exemption_rejected"]["reason"] == "not_external"  # a code is kept
    restored = Ticket.from_bytes(stored, POLICY)
    assert [e.data for e in restored.history] == [e.data for e in proc.tickets["T-1"].history]


def test_explain_prints_no_free_text() -> None:
    proc, alerts = _replayed()
    assert alerts, "the story must produce alerts to explain"
    for a in alerts:
        doc = explain(proc.tickets["T-1"], alerts, str(a["alert_id"]), proc.clock).to_dict()
        text = orjson.dumps(doc)
        assert PHONE.encode() not in text and b"replaced the unit" not in text


def test_the_kpis_still_see_a_solution_and_invalid_reasons() -> None:
    proc, _ = _replayed()
    store = KpiAggregate(POLICY, exact=True)
    store.add(contributions(proc.tickets["T-1"]))
    store.advance(to_us(day(3, 9)))
    overall = next(
        s
        for s in store.iter_snapshots()
        if s["dimension"] == "overall" and s["window"]["unit"] == "month"
    )
    m = overall["metrics"]
    assert m["records.missing.solution"] == 0 and m["records.complete"] == 1
    assert m["surveys.invalid.malicious"] == 1
    assert m["surveys.invalid.other"] == 1


def test_state_written_before_the_reduction_is_reduced_when_read() -> None:
    old = orjson.dumps(
        {
            "v": 1,
            "t": "T-9",
            "h": [
                [1, "e1", "created", {"priority": "A"}],
                [2, "e2", "resolved", {"solution": f"call {PHONE}"}],
                [3, "e3", "survey_submitted", {"survey": {"overall": 2, "invalid_reason": PHONE}}],
            ],
            "l": [],
            "z": 3,
        }
    )
    rewritten = Ticket.from_bytes(old, POLICY).to_bytes()
    assert PHONE.encode() not in rewritten
    assert RECORDED.encode() in rewritten and b'"invalid_reason":"other"' in rewritten
