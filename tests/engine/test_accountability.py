"""Breach and escalation counts per holder for a period (`engine.accountability`).

Expected counts and seconds are worked out by hand from the default policy (see the sums in the
comments): first_response A 60/120 s (moderate 180 s, severe 240 s); resolution simple on
`business-cn` 4/8 bh (12, 16 bh); 2026-11-23 is a Monday. Periods are in Asia/Shanghai.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.accountability import Report, period, tally
from engine.instant import to_us
from engine.processor import Processor
from tests.engine.test_evaluate import CST, POLICY, Story, day, tick
from tests.engine.test_properties import ev_of

TZ = "Asia/Shanghai"
A1 = {"agent": "a-1", "supervisor": "s-1", "team": "team-1", "department": "after-sales"}
A2 = {"agent": "a-2", "supervisor": "s-2", "team": "team-9", "department": "field"}
NONE = {"minor": 0, "moderate": 0, "severe": 0}


def report(events: list[dict[str, Any]], until: datetime, when: str, by: str) -> Report:
    proc = Processor(POLICY)
    for e in events:
        proc.ingest(e["ticket_id"], ev_of(e))
    proc.advance(to_us(until))
    return tally(proc.tickets.values(), period(when, TZ), by, proc.clock, POLICY.version)


def rows(r: Report) -> dict[str, dict[str, Any]]:
    return {x["key"]: x for x in r.to_dict()["rows"]}


def counts(level: tuple[int, int, int]) -> dict[str, int]:
    return dict(zip(("minor", "moderate", "severe"), level, strict=True))


def test_hand_off_between_departments_counts_and_splits() -> None:
    # a-1 (after-sales) Mon 10:00-12:00, 13:00-16:30 = 19800 s; a-2 (field) 16:30-18:00 and
    # Tue 09:00-09:30 = 7200 s; a-1 again from Tue 09:30: 8 bh at Tue 10:00, a-1 21600 s.
    # The breach (Tue 10:00), moderate (Tue 15:00) and severe (Wed 10:00) are a-1's, of
    # after-sales; the breach's clock time is split 21600 s / 7200 s between the departments.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 1))
    s.add("assigned", day(0, 16, 30), **A2)
    s.add("assigned", day(1, 9, 30), **A1)
    r = report(s.events, day(3), "2026-11", "department")
    got = rows(r)
    assert got["after-sales"]["standing"] == counts((1, 1, 1))
    assert got["after-sales"]["breach_seconds"] == 21600
    assert got["field"]["standing"] == NONE
    assert got["field"]["breach_seconds"] == 7200
    assert list(got) == ["after-sales", "field"]
    assert r.to_dict()["totals"]["breach_seconds"] == 28800
    by_agent = rows(report(s.events, day(3), "2026-11", "agent"))
    assert by_agent["a-1"]["total"] == 3 and by_agent["a-2"]["total"] == 0
    assert by_agent["a-2"]["breach_seconds"] == 7200
    assert len(by_agent["a-1"]["alert_ids"]) == 3


def _ladder(ticket: str, agent: str, at: datetime) -> Story:
    s = Story(ticket)
    s.created(at, priority="A", agent=agent)
    return s


def test_exempted_and_overturned_are_counted_apart() -> None:
    # T-2 (a-5): breach 10:02, moderate 10:03, severe 10:04, all exempted at 10:10.
    # T-3 (a-6): the moderate escalation is overturned on appeal at 10:10: moderate and severe
    # leave, the minor breach stands. T-4 (a-6): untouched ladder, all standing.
    t2, t3, t4 = (_ladder(t, a, day(0, 10)) for t, a in [("T-2", "a-5"), ("T-3", "a-6"),
                                                            ("T-4", "a-6")])  # fmt: skip
    first = [*t2.events, *t3.events, *t4.events, tick("X", day(0, 10, 5), 1)]
    proc = Processor(POLICY)
    emitted: list[dict[str, Any]] = []
    for e in first:
        emitted.extend(proc.ingest(e["ticket_id"], ev_of(e)))
    moderate = next(
        a["alert_id"]
        for a in emitted
        if a["ticket_id"] == "T-3" and a["level"] == "moderate" and a["clock"] == "first_response"
    )
    t2.add("exemption_granted", day(0, 10, 10), clock="first_response", reason="outage")
    t3.add("appeal_decided", day(0, 10, 10), alert_id=moderate, outcome="overturned")
    for e in (t2.events[-1], t3.events[-1]):
        proc.ingest(e["ticket_id"], ev_of(e))
    proc.advance(to_us(day(1)))
    r = tally(proc.tickets.values(), period("2026-11-23", TZ), "agent", proc.clock)
    got = rows(r)
    assert got["a-5"]["standing"] == NONE
    assert got["a-5"]["exempted"] == counts((1, 1, 1))
    assert got["a-5"]["overturned"] == NONE
    assert got["a-5"]["breach_seconds"] == 0  # an exempted breach's time is nobody's
    assert got["a-6"]["standing"] == counts((2, 1, 1))  # T-3's minor + T-4's ladder
    assert got["a-6"]["overturned"] == counts((0, 1, 1))
    assert got["a-6"]["exempted"] == NONE
    assert got["a-6"]["breach_seconds"] == 240  # two standing breaches of 120 s
    assert list(got) == ["a-6", "a-5"]  # most severe first
    totals = r.to_dict()["totals"]
    assert (totals["total"], sum(totals["exempted"].values())) == (4, 3)
    assert sum(totals["overturned"].values()) == 2


def test_period_edges_are_local_midnights() -> None:
    # Created Mon 2026-11-30 23:57 +08:00: breach 23:59 (Nov), moderate Tue 2026-12-01 00:00
    # and severe 00:01 (December locally, though still 30 November in UTC).
    s = Story()
    s.created(datetime(2026, 11, 30, 23, 57, tzinfo=CST), priority="A")
    until = datetime(2026, 12, 1, 1, tzinfo=CST)
    assert rows(report(s.events, until, "2026-11", "agent"))["a-1"]["standing"] == counts((1, 0, 0))
    assert rows(report(s.events, until, "2026-12", "agent"))["a-1"]["standing"] == counts((0, 1, 1))
    assert rows(report(s.events, until, "2026-W49", "team"))["team-1"]["standing"] == counts(
        (1, 1, 1)
    )
    assert rows(report(s.events, until, "2026-11-30", "agent"))["a-1"]["standing"] == counts(
        (1, 0, 0)
    )
    assert rows(report(s.events, until, "2026", "agent"))["a-1"]["total"] == 3
    # not yet due by the clock: not counted
    early = rows(report(s.events, datetime(2026, 12, 1, 0, 0, 30, tzinfo=CST), "2026-12", "agent"))
    assert early["a-1"]["standing"] == counts((0, 1, 0))


def test_a_breach_a_late_response_undid_is_not_counted() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("responded", day(0, 10, 1, 30))
    late = [s.events[0], tick("X", day(0, 10, 2, 30), 1), s.events[1]]
    r = report(late, day(1), "2026-11", "agent")
    assert "a-1" not in rows(r)
    assert r.to_dict()["totals"]["total"] == 0


def test_period_parsing() -> None:
    p = period("2026-11", TZ)
    assert p.start == to_us(datetime(2026, 11, 1, tzinfo=CST))
    assert p.end == to_us(datetime(2026, 12, 1, tzinfo=CST))
    w = period("2026-W48", TZ)
    assert (w.start, w.end) == (to_us(day(0)), to_us(day(7)))
    dec = period("2026-12", TZ)
    assert dec.end == to_us(datetime(2027, 1, 1, tzinfo=CST))
    assert period("2026-11-23", TZ).end - period("2026-11-23", TZ).start == to_us(day(1)) - to_us(
        day(0)
    )
    assert period("2026", "UTC").end == to_us(datetime(2027, 1, 1, tzinfo=CST) + timedelta(hours=8))
    for bad in ("2026-13", "Nov", "2026-W54", "2026-02-30", "26-11"):
        with pytest.raises(ValueError):
            period(bad, TZ)
    with pytest.raises(ValueError):
        tally([], p, "customer", 0)
