"""Which targets and calendar apply to a ticket: `when` on any attribute (source-system
`attributes` included), calendars chosen per ticket, first match wins, untracked entries, and
tickets no target matches reported. Deadlines computed by hand in the comments."""

from __future__ import annotations

from typing import Any

import orjson

from config.loader import compile_policy, parse
from engine.evaluate import evaluate
from engine.history import Ev, from_model
from engine.kpis import contributions
from engine.processor import Processor
from schemas.parse import InvalidEvent, parse_event
from tests.config.test_policy_contract import FEATURES, to_us_iso

POLICY = compile_policy(parse(FEATURES))
FAR = to_us_iso("2027-03-01T00:00:00+08:00")


def event(eid: str, type_: str, at: str, ticket: str = "T-1", **fields: Any) -> Ev:
    """An event through the real parser and the compact form the engine keeps."""
    raw = {"event_id": eid, "ticket_id": ticket, "type": type_, "occurred_at": at, **fields}
    return from_model(parse_event(orjson.dumps(raw)))


def first_response(history: list[Ev]) -> list[tuple[str, int, str, str]]:
    """(kind, due µs, calendar, policy_version) of the first_response decisions."""
    _, decisions = evaluate(history, POLICY, FAR)
    return [
        (d.kind, d.due, d.calendar, d.policy_version)
        for d in decisions
        if d.clock == "first_response"
    ]


def test_team_picks_its_calendar() -> None:
    # Berlin desk, priority A, Mon 2026-11-30 16:30 CET: 1 h warning on Berlin 09-17:
    # 16:30-17:00 (30 min) + Tue 09:00-09:30 -> Tue 2026-12-01 09:30 CET = 08:30Z.
    history = [
        event("e1", "created", "2026-11-30T16:30:00+01:00", priority="A", team="berlin-desk")
    ]
    got = first_response(history)
    assert got[0] == ("warning", to_us_iso("2026-12-01T08:30:00+00:00"), "berlin", POLICY.version)
    # breach at 2 h: 16:30-17:00 + Tue 09:00-10:30 -> 10:30 CET = 09:30Z
    assert got[1][:2] == ("breach", to_us_iso("2026-12-01T09:30:00+00:00"))


def test_default_calendar_with_saturday_hours() -> None:
    # Another team, priority B, Sat 2026-12-05 11:30 +08:00 on `cn`: Sat 11:30-12:00,
    # Sunday 2026-12-06 closed by its date entry, Mon 09:00-09:30 -> Mon 2026-12-07 09:30.
    history = [event("e1", "created", "2026-12-05T11:30:00+08:00", priority="B", team="cn")]
    got = first_response(history)
    assert got[0][:3] == ("warning", to_us_iso("2026-12-07T09:30:00+08:00"), "cn")


def test_source_system_attribute_selects_target_and_calendar() -> None:
    # VIP, priority C (C alone is untracked): the VIP target 30 min comes first in file order.
    # region night -> the evening calendar 18:00-24:00: created Tue 2026-12-01 23:50 +08:00:
    # 23:50-24:00 (10 min) + Wed 18:00-18:20 -> Wed 2026-12-02 18:20 +08:00.
    history = [
        event(
            "e1",
            "created",
            "2026-12-01T23:50:00+08:00",
            priority="C",
            attributes={"tier": "vip", "region": "night"},
        )
    ]
    got = first_response(history)
    assert got[0][:3] == ("warning", to_us_iso("2026-12-02T18:20:00+08:00"), "evening")


def test_attribute_change_retargets_like_a_priority_change() -> None:
    # Priority C (untracked) from Tue 2026-12-01 10:00 +08:00; at 10:05 the source system
    # marks the customer vip: the 30-min VIP target applies to the time since 10:00 -> 10:30.
    history = [
        event("e1", "created", "2026-12-01T10:00:00+08:00", priority="C"),
        event("e2", "assigned", "2026-12-01T10:05:00+08:00", attributes={"tier": "vip"}),
    ]
    got = first_response(history)
    assert got[0][:3] == ("warning", to_us_iso("2026-12-01T10:30:00+08:00"), "cn")


def test_untracked_entry_is_deliberate_and_not_counted() -> None:
    history = [event("e1", "created", "2026-12-01T10:00:00+08:00", priority="C")]
    state, _ = evaluate(history, POLICY, FAR)
    assert first_response(history) == []
    assert state.untargeted == []


def test_first_match_wins_in_file_order() -> None:
    # resolution: {category: simple, department: retail} (2 h) comes before the catch-all 8 h.
    # Tue 2026-12-01 09:00 + 2 h -> 11:00; another department: + 8 h -> 18:00.
    retail = [
        event("e1", "created", "2026-12-01T09:00:00+08:00", priority="A", department="retail")
    ]
    other = [event("e1", "created", "2026-12-01T09:00:00+08:00", priority="A")]
    for history, due in ((retail, "11:00"), (other, "18:00")):
        _, decisions = evaluate(history, POLICY, FAR)
        warning = next(d for d in decisions if d.clock == "resolution")
        assert warning.due == to_us_iso(f"2026-12-01T{due}:00+08:00")


def test_a_ticket_no_target_matches_is_reported() -> None:
    # The resolution targets list every category of ticket_values; the event contract does not
    # bound categories, so a producer may still send another one: it is recorded.
    history = [event("e1", "created", "2026-12-01T09:00:00+08:00", priority="A", category="misc")]
    state, decisions = evaluate(history, POLICY, FAR)
    assert not [d for d in decisions if d.clock == "resolution"]
    assert state.untargeted == [("resolution", 1, "e1")]
    # ... and the replay tool counts it the same way
    proc = Processor(POLICY)
    proc.ingest("T-1", history[0])
    assert proc.tickets["T-1"].state.untargeted == [("resolution", 1, "e1")]


def test_attributes_are_bounded_labels() -> None:
    base = {
        "event_id": "e1",
        "ticket_id": "T-1",
        "type": "created",
        "occurred_at": "2026-12-01T09:00:00+08:00",
        "priority": "A",
    }
    for bad in ({"tier": 1}, {"": "x"}, {"a b": "x"}, {f"k{i}": "v" for i in range(33)}):
        try:
            parse_event(orjson.dumps({**base, "attributes": bad}))
        except InvalidEvent as e:
            assert "attributes" in e.reason
        else:
            raise AssertionError(f"accepted {bad}")
    ev = from_model(parse_event(orjson.dumps({**base, "attributes": {"tier": "vip"}})))
    assert ev.data["attributes"] == {"tier": "vip"}


def test_untracked_cycles_stay_out_of_sla_attainment() -> None:
    proc = Processor(POLICY)
    for ticket, priority in (("T-A", "A"), ("T-C", "C")):
        proc.ingest(
            ticket,
            event(f"{ticket}-1", "created", "2026-12-01T10:00:00+08:00", ticket, priority=priority),
        )
        proc.ingest(ticket, event(f"{ticket}-2", "responded", "2026-12-01T10:10:00+08:00", ticket))
    met = {
        t: [f.value for f in contributions(proc.tickets[t]) if f.metric == "sla.first_response"]
        for t in ("T-A", "T-C")
    }
    assert met == {"T-A": [1], "T-C": []}
