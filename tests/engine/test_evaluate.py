"""Every rule of the SLA core (issue 3 §3 and §5), checked against hand-computed instants.

Expected instants are worked out by hand from the default policy table (the comments show the
sums); none was copied from the engine's output. Business hours of `business-cn`: Monday-Friday
09:00-12:00 and 13:00-18:00 Asia/Shanghai (8 business hours a day), Chinese holidays and
make-up working days. 2026-11-23 is a Monday; no holiday falls in late November or early
December 2026.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from config.loader import load
from engine.evaluate import evaluate, fold
from engine.history import Ev, from_model
from engine.instant import from_us, to_us
from engine.replay import replay as pipeline
from schemas.outputs import Alert
from schemas.parse import parse_event

POLICY = load()
CST = timezone(timedelta(hours=8))
MIN = 60
HOUR = 3600


def cst(month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    """A wall time in Shanghai in 2026."""
    return datetime(2026, month, day, hour, minute, sec, tzinfo=CST)


MON = cst(11, 23)  # Monday 2026-11-23 00:00 +08:00


def day(offset: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    """`offset` days after Monday 2026-11-23 at the given wall time."""
    return MON + timedelta(days=offset, hours=hour, minutes=minute, seconds=sec)


class Story:
    """A ticket's events as producers would send them; event ids number in creation order."""

    def __init__(self, ticket_id: str = "T-1") -> None:
        self.ticket_id = ticket_id
        self.events: list[dict[str, Any]] = []

    def add(self, type_: str, when: datetime, event_id: str | None = None, **fields: Any) -> str:
        eid = event_id or f"{self.ticket_id}-e{len(self.events) + 1:03d}"
        self.events.append(
            {
                "event_id": eid,
                "ticket_id": self.ticket_id,
                "type": type_,
                "occurred_at": when.isoformat(),
                **fields,
            }
        )
        return eid

    def created(
        self, when: datetime, priority: str = "C", category: str = "simple", **fields: Any
    ) -> str:
        base: dict[str, Any] = {
            "priority": priority,
            "category": category,
            "channel": "phone",
            "team": "team-1",
            "agent": "a-1",
            "supervisor": "s-1",
            "department": "after-sales",
            "product_line": "router",
        }
        base.update(fields)
        return self.add("created", when, **base)

    def history(self) -> list[Ev]:
        return [from_model(parse_event(orjson.dumps(e))) for e in self.events]


Row = tuple[str, int, str, str | None, datetime]


def rows(story: Story, now: datetime, clock: str | None = None) -> list[Row]:
    """evaluate()'s decisions as (clock, cycle, kind, level, due) sorted by due, then kind order."""
    _, decisions = evaluate(story.history(), POLICY, to_us(now))
    out = [(d.clock, d.cycle, d.kind, d.level, from_us(d.due)) for d in decisions]
    if clock is not None:
        out = [r for r in out if r[0] == clock]
    return sorted(out, key=lambda r: (r[4], r[0], r[1]))


def ladder(clock: str, *dues: datetime, cycle: int = 1) -> list[Row]:
    """The expected decisions of a clock crossing its first len(dues) thresholds in order."""
    steps = [
        ("warning", None),
        ("breach", "minor"),
        ("escalation", "moderate"),
        ("escalation", "severe"),
    ]
    return [(clock, cycle, k, lv, d) for (k, lv), d in zip(steps, dues, strict=False)]


def replay(
    events: Iterable[dict[str, Any]], until: datetime | None = None, clock: str | None = None
) -> list[dict[str, Any]]:
    """Events through the replay pipeline in the given order; every alert it emits (only
    those of `clock` when given)."""
    decoded = ((e["ticket_id"], from_model(parse_event(orjson.dumps(e)))) for e in events)
    _, out = pipeline(decoded, POLICY, to_us(until) if until is not None else None)
    return [a for a in out if clock is None or a["clock"] == clock]


def effective(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """alert_id -> alert for every alert not withdrawn by a later retraction."""
    live: dict[str, dict[str, Any]] = {}
    for a in alerts:
        if a["kind"] == "retraction":
            assert a["retracts"] in live, f"retraction of an unknown or dead alert: {a}"
            del live[a["retracts"]]
        else:
            live[a["alert_id"]] = a
    return live


def summary(alerts: Iterable[dict[str, Any]]) -> list[tuple[str, str, str | None, datetime]]:
    return sorted(
        (a["clock"], a["kind"], a["level"], datetime.fromisoformat(a["due_at"])) for a in alerts
    )


def tick(ticket_id: str, when: datetime, n: int) -> dict[str, Any]:
    """An event of an unrelated ticket: moves stream time to `when`."""
    return {
        "event_id": f"clock-{n}",
        "ticket_id": ticket_id,
        "type": "assigned",
        "occurred_at": when.isoformat(),
        "agent": "x",
    }


# --------------------------------------------------------------------------------------------
# first_response (24x7): A 60/120 s, B 180/300 s, C 300/600 s; escalations at 150 % and 200 %.


@pytest.mark.parametrize(
    ("priority", "warn", "limit"),
    [("A", 60, 120), ("B", 180, 300), ("C", 300, 600)],
)
def test_first_response_full_ladder_by_priority(priority: str, warn: int, limit: int) -> None:
    s = Story()
    start = day(0, 10)
    s.created(start, priority=priority)
    got = rows(s, day(1), "first_response")
    sec = timedelta(seconds=1)
    assert got == ladder(
        "first_response",
        start + warn * sec,
        start + limit * sec,
        start + limit * 3 // 2 * sec,
        start + limit * 2 * sec,
    )


def test_first_response_threshold_values_and_elapsed() -> None:
    s = Story()
    s.created(day(0, 10), priority="B")
    _, decisions = evaluate(s.history(), POLICY, to_us(day(1)))
    fr = [d for d in decisions if d.clock == "first_response"]
    # B: warn 180 s, limit 300 s, moderate 1.5 x 300 = 450 s, severe 2 x 300 = 600 s.
    assert [d.target_us for d in fr] == [180e6, 300e6, 450e6, 600e6]
    assert [d.elapsed_us for d in fr] == [180e6, 300e6, 450e6, 600e6]
    assert {d.priority for d in fr} == {"B"}


def test_first_response_stops_on_responded() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("responded", day(0, 10, 1, 30))  # after the warning (10:01), before the breach (10:02)
    assert rows(s, day(3), "first_response") == ladder("first_response", day(0, 10, 1))


def test_first_response_met_fires_nothing() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("responded", day(0, 10, 0, 59))
    assert rows(s, day(3), "first_response") == []


def test_first_response_counts_nights_and_weekends() -> None:
    # 24x7: a ticket created Saturday 03:00 warns at 03:01 the same night.
    s = Story()
    s.created(day(5, 3), priority="A")
    assert rows(s, day(6), "first_response") == ladder(
        "first_response", day(5, 3, 1), day(5, 3, 2), day(5, 3, 3), day(5, 3, 4)
    )


def test_first_response_not_paused_by_pending_customer() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("status_changed", day(0, 10, 0, 10), status="pending_customer")
    assert rows(s, day(1), "first_response") == ladder(
        "first_response", day(0, 10, 1), day(0, 10, 2), day(0, 10, 3), day(0, 10, 4)
    )


def test_only_thresholds_due_by_now_are_returned() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    # now = 10:02:00 exactly: warning (10:01) and the breach at the limit (10:02) are due.
    assert rows(s, day(0, 10, 2), "first_response") == ladder(
        "first_response", day(0, 10, 1), day(0, 10, 2)
    )
    assert rows(s, day(0, 10, 1, 59), "first_response") == ladder("first_response", day(0, 10, 1))


# --------------------------------------------------------------------------------------------
# onsite_arrival (24x7): starts on onsite_requested. A 15/30 min, B 30/60, C 60/120.


@pytest.mark.parametrize(
    ("priority", "warn", "limit"), [("A", 15, 30), ("B", 30, 60), ("C", 60, 120)]
)
def test_onsite_arrival_ladder(priority: str, warn: int, limit: int) -> None:
    s = Story()
    s.created(day(0, 10), priority=priority)
    s.add("responded", day(0, 10, 0, 30))
    req = day(0, 14)
    s.add("onsite_requested", req)
    m = timedelta(minutes=1)
    assert rows(s, day(2), "onsite_arrival") == ladder(
        "onsite_arrival",
        req + warn * m,
        req + limit * m,
        req + limit * 3 // 2 * m,
        req + 2 * limit * m,
    )


def test_onsite_arrival_stops_on_arrival_and_needs_a_request() -> None:
    s = Story()
    s.created(day(0, 10), priority="B")
    s.add("responded", day(0, 10, 0, 30))
    assert rows(s, day(2), "onsite_arrival") == []  # never requested: the clock never starts
    s.add("onsite_requested", day(0, 14))
    s.add("onsite_arrived", day(0, 15, 10))  # after the minor breach (15:00), before 15:30
    assert rows(s, day(2), "onsite_arrival") == ladder("onsite_arrival", day(0, 14, 30), day(0, 15))


# --------------------------------------------------------------------------------------------
# resolution (business-cn): simple 4/8 bh; complex, urgent, complaint 24/40 bh.


def test_resolution_simple_monday_10() -> None:
    # Monday 10:00: 10-12 (2 h) + 13-15 (2 h) = 4 bh -> Mon 15:00; Monday gives 7 bh by 18:00,
    # +1 h Tue 09-10 = 8 bh -> Tue 10:00; Tue 10-12 (2) + 13-15 (2) = 12 bh -> Tue 15:00;
    # Tue 15-18 (3) = 15 bh, Wed 09-10 = 16 bh -> Wed 10:00.
    s = Story()
    s.created(day(0, 10))
    assert rows(s, day(7), "resolution") == ladder(
        "resolution", day(0, 15), day(1, 10), day(1, 15), day(2, 10)
    )


def test_resolution_thresholds_are_business_seconds() -> None:
    s = Story()
    s.created(day(0, 10))
    _, decisions = evaluate(s.history(), POLICY, to_us(day(7)))
    res = [d for d in decisions if d.clock == "resolution"]
    # 4 bh, 8 bh, 12 bh, 16 bh in clock time, whatever the wall time between them.
    assert [d.target_us / 1e6 for d in res] == [4 * HOUR, 8 * HOUR, 12 * HOUR, 16 * HOUR]


def test_resolution_created_on_saturday_lands_on_block_ends() -> None:
    # Counting starts Monday 09:00. 4 bh: 09-12 (3) + 13-14 (1) -> 14:00. 8 bh is the whole
    # working day: the deadline is Mon 18:00 (end of the block), not Tue 09:00. 12 bh: Tue
    # 09-12 = 11 bh at 12:00 (not 13:00), +1 -> Tue 14:00. 16 bh -> Tue 18:00.
    s = Story()
    s.created(day(-2, 10))
    assert rows(s, day(7), "resolution") == ladder(
        "resolution", day(0, 14), day(0, 18), day(1, 14), day(1, 18)
    )


def test_threshold_at_the_end_of_a_block_is_12_not_13() -> None:
    # Urgent response, created Monday 10:00: 2 bh = 10:00-12:00, so the warning is at 12:00,
    # the end of the morning block, not 13:00 when the afternoon block starts.
    s = Story()
    s.created(day(0, 10), category="urgent")
    assert rows(s, day(0, 12), "urgent_response") == ladder("urgent_response", day(0, 12))


@pytest.mark.parametrize("category", ["complex", "urgent", "complaint"])
def test_resolution_long_categories(category: str) -> None:
    # Monday 09:00, 8 bh a day. 24 bh -> Wed 18:00; 40 bh -> Fri 18:00 (Nov 27);
    # 60 bh: 48 at Mon Nov 30 18:00, 56 at Tue Dec 1 18:00, Wed Dec 2 09-12 -> 59, 13-14 -> 60
    # -> Wed Dec 2 14:00; 80 bh = 10 full days -> Fri Dec 4 18:00.
    s = Story()
    s.created(day(0, 9), category=category)
    assert rows(s, day(14), "resolution") == ladder(
        "resolution", day(2, 18), day(4, 18), day(9, 14), day(11, 18)
    )


def test_resolution_stops_on_resolved() -> None:
    s = Story()
    s.created(day(0, 10))
    s.add("resolved", day(0, 16))  # after the warning (15:00), before the breach (Tue 10:00)
    assert rows(s, day(7), "resolution") == ladder("resolution", day(0, 15))


def test_resolution_across_national_day_and_make_up_saturday() -> None:
    # Complex ticket created Friday 2026-10-09 09:00. Saturday 2026-10-10 is a make-up working
    # day: Fri 8 bh + Sat 8 bh = 16 bh, Mon Oct 12 -> 24 bh at Mon 18:00 (warning).
    # 40 bh: Tue 13 (32), Wed 14 (40) -> Wed Oct 14 18:00.
    s = Story()
    s.created(cst(10, 9, 9), category="complex")
    got = rows(s, cst(10, 15), "resolution")
    assert got == ladder("resolution", cst(10, 12, 18), cst(10, 14, 18))


def test_urgent_response_across_the_national_day_holidays() -> None:
    # Urgent ticket created Wed 2026-09-30 16:00. 2 bh: 16-18 -> Wed 18:00 (end of the block).
    # Oct 1-7 are days off; next working day Thu Oct 8: 09-11 -> 4 bh at 11:00; 09-12 (3) and
    # 13-14 -> 6 bh at 14:00; 14-16 -> 8 bh at 16:00.
    s = Story()
    s.created(cst(9, 30, 16), category="urgent")
    assert rows(s, cst(10, 9), "urgent_response") == ladder(
        "urgent_response", cst(9, 30, 18), cst(10, 8, 11), cst(10, 8, 14), cst(10, 8, 16)
    )


def test_resolution_on_make_up_sunday() -> None:
    # Sunday 2026-09-20 is a make-up working day: a simple ticket created Saturday 09-19 10:00
    # starts counting Sunday 09:00; 4 bh -> Sunday 14:00; 8 bh -> Sunday 18:00.
    s = Story()
    s.created(cst(9, 19, 10))
    assert rows(s, cst(9, 20, 23), "resolution") == ladder(
        "resolution", cst(9, 20, 14), cst(9, 20, 18)
    )


# --------------------------------------------------------------------------------------------
# pause: pending_customer pauses resolution and first_solution.


def test_pending_customer_pauses_resolution() -> None:
    # Monday 10:00; paused at 11:00 (1 bh counted) until Tuesday 11:00. Warning needs 3 more bh:
    # Tue 11-12 (1) + 13-15 (2) -> Tue 15:00. Breach needs 7 more: Tue 11-12 (1) + 13-18 (5) = 6,
    # Wed 09-10 -> Wed 10:00. Moderate 12 bh: 11 more -> Wed 10-12 (2 -> 10) 13-15 -> Wed 15:00.
    # Severe 16 bh: Wed 15-18 (3 -> 15) Thu 09-10 -> Thu 10:00.
    s = Story()
    s.created(day(0, 10))
    s.add("status_changed", day(0, 11), status="pending_customer")
    s.add("status_changed", day(1, 11), status="in_progress")
    assert rows(s, day(7), "resolution") == ladder(
        "resolution", day(1, 15), day(2, 10), day(2, 15), day(3, 10)
    )


def test_pause_that_never_ends_stops_counting() -> None:
    s = Story()
    s.created(day(0, 10))
    s.add("status_changed", day(0, 14), status="pending_customer")  # 3 bh counted
    assert rows(s, day(30), "resolution") == []


def test_pending_customer_pauses_first_solution() -> None:
    # Complex, Monday 09:00; paused Monday 13:00 (3 bh) to Wednesday 13:00; 21 bh more for the
    # warning: Wed 13-18 (5 -> 8), Thu (16), Fri (24) -> Fri Nov 27 18:00.
    s = Story()
    s.created(day(0, 9), category="complex")
    s.add("responded", day(0, 9, 0, 30))
    s.add("status_changed", day(0, 13), status="pending_customer")
    s.add("status_changed", day(2, 13), status="in_progress")
    assert rows(s, day(4, 18), "first_solution") == ladder("first_solution", day(4, 18))


def test_pause_outside_business_hours_changes_nothing() -> None:
    # Paused Monday 19:00 to Tuesday 08:00: no business time lost, same ladder as unpaused.
    s = Story()
    s.created(day(0, 10))
    s.add("status_changed", day(0, 19), status="pending_customer")
    s.add("status_changed", day(1, 8), status="in_progress")
    assert rows(s, day(7), "resolution") == ladder(
        "resolution", day(0, 15), day(1, 10), day(1, 15), day(2, 10)
    )


# --------------------------------------------------------------------------------------------
# first_solution, urgent_response, complaint_response: only for their category.


def test_first_solution_complex_only_and_ladder() -> None:
    # Complex, Monday 09:00: 24 bh -> Wed 18:00; 48 bh -> Mon Nov 30 18:00; 72 bh (9 days) ->
    # Thu Dec 3 18:00; 96 bh (12 days) -> Tue Dec 8 18:00.
    s = Story()
    s.created(day(0, 9), category="complex")
    assert rows(s, day(20), "first_solution") == ladder(
        "first_solution", day(2, 18), day(7, 18), day(10, 18), day(15, 18)
    )
    for category in ("simple", "urgent", "complaint"):
        o = Story()
        o.created(day(0, 9), category=category)
        assert rows(o, day(20), "first_solution") == []


@pytest.mark.parametrize("stop", ["updated", "resolved"])
def test_first_solution_stops_on_update_or_resolution(stop: str) -> None:
    s = Story()
    s.created(day(0, 9), category="complex")
    s.add(stop, day(3, 9))  # Thursday 09:00: after the warning (Wed 18:00)
    assert rows(s, day(20), "first_solution") == ladder("first_solution", day(2, 18))


def test_urgent_response_ladder_and_category() -> None:
    # Urgent, Monday 10:00: 2 bh -> 12:00; 4 bh -> 15:00; 6 bh -> 17:00; 8 bh: Mon 17-18 (7),
    # Tue 09-10 -> Tue 10:00.
    s = Story()
    s.created(day(0, 10), category="urgent")
    assert rows(s, day(3), "urgent_response") == ladder(
        "urgent_response", day(0, 12), day(0, 15), day(0, 17), day(1, 10)
    )
    s.add("responded", day(0, 13))  # stops it after the warning
    assert rows(s, day(3), "urgent_response") == ladder("urgent_response", day(0, 12))
    o = Story()
    o.created(day(0, 10), category="complex")
    assert rows(o, day(3), "urgent_response") == []


def test_complaint_response_ladder_and_category() -> None:
    # 24x7, Monday 10:00: 12 h -> Mon 22:00; 24 h -> Tue 10:00; 36 h -> Tue 22:00;
    # 48 h -> Wed 10:00.
    s = Story()
    s.created(day(0, 10), category="complaint")
    assert rows(s, day(5), "complaint_response") == ladder(
        "complaint_response", day(0, 22), day(1, 10), day(1, 22), day(2, 10)
    )
    s.add("responded", day(1, 9))
    assert rows(s, day(5), "complaint_response") == ladder("complaint_response", day(0, 22))
    o = Story()
    o.created(day(0, 10), category="simple")
    assert rows(o, day(5), "complaint_response") == []


# --------------------------------------------------------------------------------------------
# survey_dispatch (24x7): starts on resolved, stops on survey_sent or reopened.


def test_survey_dispatch_ladder() -> None:
    # Resolved Monday 16:00: 12 h -> Tue 04:00; 24 h -> Tue 16:00; 36 h -> Wed 04:00;
    # 48 h -> Wed 16:00.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 0, 30))
    s.add("resolved", day(0, 11))
    assert rows(s, day(0, 22, 59), "survey_dispatch") == []  # 12 h after 11:00 is 23:00
    assert rows(s, day(0, 23), "survey_dispatch") == ladder("survey_dispatch", day(0, 23))
    s2 = Story()
    s2.created(day(0, 10))
    s2.add("responded", day(0, 10, 0, 30))
    s2.add("resolved", day(0, 16))
    assert rows(s2, day(5), "survey_dispatch") == ladder(
        "survey_dispatch", day(1, 4), day(1, 16), day(2, 4), day(2, 16)
    )


def test_survey_dispatch_stops_on_survey_sent() -> None:
    s = Story()
    s.created(day(0, 10))
    s.add("resolved", day(0, 16))
    s.add("survey_sent", day(1, 5))
    assert rows(s, day(5), "survey_dispatch") == ladder("survey_dispatch", day(1, 4))


def test_survey_dispatch_new_cycle_per_resolution() -> None:
    # Resolved Mon 16:00, reopened Tue 08:00 (warning at Tue 04:00 already fired; the cycle
    # stops), resolved again Tue 11:00 -> cycle 2: 12 h -> Tue 23:00, 24 h -> Wed 11:00.
    s = Story()
    s.created(day(0, 10))
    s.add("resolved", day(0, 16))
    s.add("reopened", day(1, 8))
    s.add("resolved", day(1, 11))
    s.add("survey_sent", day(2, 12))
    got = rows(s, day(6), "survey_dispatch")
    assert got == [
        ("survey_dispatch", 1, "warning", None, day(1, 4)),
        ("survey_dispatch", 2, "warning", None, day(1, 23)),
        ("survey_dispatch", 2, "breach", "minor", day(2, 11)),
    ]


# --------------------------------------------------------------------------------------------
# reopen: resolution resumes with its elapsed time kept; the reopen is counted.


def test_reopen_resumes_resolution_with_elapsed_kept() -> None:
    # Simple, Monday 10:00, resolved 12:00 (2 bh), reopened Tuesday 14:00. 2 more bh for the
    # warning -> Tue 16:00; 6 more for the breach: Tue 14-18 (4), Wed 09-11 -> Wed 11:00.
    # Moderate 12 bh: 10 more: Tue 4, Wed 09-12 (3 -> 7), 13-16 (3 -> 10) -> Wed 16:00.
    # Severe 16 bh: 14 more: Tue 4 + Wed 8 = 12, Thu 09-11 -> Thu 11:00.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 0, 30))
    s.add("resolved", day(0, 12))
    assert rows(s, day(7), "resolution") == []
    s.add("reopened", day(1, 14))
    got = rows(s, day(7), "resolution")
    assert got == ladder("resolution", day(1, 16), day(2, 11), day(2, 16), day(3, 11))
    assert {r[1] for r in got} == {1}  # the same cycle: resumed, not restarted


def test_reopen_after_warning_does_not_warn_again() -> None:
    # Resolved Monday 16:00 (5 bh; warning at 15:00 fired), reopened Tue 09:00: breach after
    # 3 more bh -> Tue 12:00.
    s = Story()
    s.created(day(0, 10))
    s.add("resolved", day(0, 16))
    s.add("reopened", day(1, 9))
    assert rows(s, day(1, 12), "resolution") == ladder("resolution", day(0, 15), day(1, 12))


def test_reopen_is_counted() -> None:
    s = Story()
    s.created(day(0, 10))
    s.add("resolved", day(0, 12))
    s.add("reopened", day(1, 9))
    s.add("resolved", day(1, 10))
    s.add("reopened", day(1, 11))
    state, _ = evaluate(s.history(), POLICY, to_us(day(2)))
    assert state.reopens == 2


# --------------------------------------------------------------------------------------------
# closed stops every clock still running.


def test_closed_stops_every_clock() -> None:
    s = Story()
    s.created(day(0, 10), priority="A", category="complex")
    s.add("onsite_requested", day(0, 10, 0, 10))
    s.add("closed", day(0, 10, 0, 30))
    assert rows(s, day(30)) == []


def test_closed_stops_survey_dispatch() -> None:
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 0, 30))
    s.add("resolved", day(0, 11))
    s.add("closed", day(0, 20))
    assert rows(s, day(30)) == []


# --------------------------------------------------------------------------------------------
# priority_changed: the new targets apply to the time elapsed since the clock started.


def test_priority_change_not_yet_exceeded_moves_deadlines() -> None:
    # C at 10:00:00, B from 10:01:00 (60 s elapsed): B's 180 s warning -> 10:03:00, 300 s
    # breach -> 10:05:00, 450 s -> 10:07:30, 600 s -> 10:10:00.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("priority_changed", day(0, 10, 1), priority="B")
    assert rows(s, day(1), "first_response") == ladder(
        "first_response", day(0, 10, 3), day(0, 10, 5), day(0, 10, 7, 30), day(0, 10, 10)
    )


def test_priority_change_exceeding_every_threshold_fires_all_at_the_change() -> None:
    # C at 10:00:00, A from 10:04:10: 250 s elapsed >= 60, 120, 180 and 240: all four fire at
    # 10:04:10, warning included.
    s = Story()
    s.created(day(0, 10), priority="C")
    pc = s.add("priority_changed", day(0, 10, 4, 10), priority="A")
    got = rows(s, day(1), "first_response")
    change = day(0, 10, 4, 10)
    assert got == ladder("first_response", change, change, change, change)
    _, decisions = evaluate(s.history(), POLICY, to_us(day(1)))
    fr = [d for d in decisions if d.clock == "first_response"]
    assert [d.target_us / 1e6 for d in fr] == [60, 120, 180, 240]
    assert {d.elapsed_us / 1e6 for d in fr} == {250}
    assert {d.priority for d in fr} == {"A"}
    assert all(pc in d.caused_by for d in fr)


def test_priority_change_partly_exceeded() -> None:
    # C at 10:00, A from 10:01:30 (90 s): warning (60) fires at the change; breach at 120 s ->
    # 10:02:00; 180 s -> 10:03:00; 240 s -> 10:04:00.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("priority_changed", day(0, 10, 1, 30), priority="A")
    assert rows(s, day(1), "first_response") == ladder(
        "first_response", day(0, 10, 1, 30), day(0, 10, 2), day(0, 10, 3), day(0, 10, 4)
    )


def test_priority_change_after_warning_fires_the_rest() -> None:
    # C at 10:00, warning at 10:05:00; A from 10:05:10 (310 s): breach, moderate and severe fire
    # at the change; the warning stays at 10:05:00 and is not repeated.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("priority_changed", day(0, 10, 5, 10), priority="A")
    at = day(0, 10, 5, 10)
    assert rows(s, day(1), "first_response") == ladder("first_response", day(0, 10, 5), at, at, at)


def test_priority_downgrade_does_not_unfire() -> None:
    # A at 10:00: warning 10:01, breach 10:02. C from 10:02:30 (150 s): what fired stays; the
    # next threshold is C's moderate escalation at 900 s -> 10:15:00, severe 1200 s -> 10:20:00.
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("priority_changed", day(0, 10, 2, 30), priority="C")
    assert rows(s, day(1), "first_response") == ladder(
        "first_response", day(0, 10, 1), day(0, 10, 2), day(0, 10, 15), day(0, 10, 20)
    )


def test_priority_change_after_the_clock_stopped_changes_nothing() -> None:
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("responded", day(0, 10, 4))
    s.add("priority_changed", day(0, 10, 10), priority="A")
    assert rows(s, day(1), "first_response") == []


def test_priority_change_moves_onsite_deadlines() -> None:
    # Onsite requested 14:00 at C (60/120 min); A from 14:20 (20 min elapsed): A's 15 min warning
    # fires at 14:20; breach at 30 min -> 14:30; 45 -> 14:45; 60 -> 15:00.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("responded", day(0, 10, 1))
    s.add("onsite_requested", day(0, 14))
    s.add("priority_changed", day(0, 14, 20), priority="A")
    assert rows(s, day(1), "onsite_arrival") == ladder(
        "onsite_arrival", day(0, 14, 20), day(0, 14, 30), day(0, 14, 45), day(0, 15)
    )


# --------------------------------------------------------------------------------------------
# ordering: by occurred_at, ties by event_id; repeated event ids are ignored.


@pytest.mark.parametrize(
    ("change_id", "response_id", "expected_kinds"),
    [
        # priority change folded first: A's breach and escalations fire at 10:06:40, then stop.
        ("T-1-b", "T-1-c", ["warning", "breach", "escalation", "escalation"]),
        # the response folded first: the clock is stopped; the change changes nothing.
        ("T-1-c", "T-1-b", ["warning"]),
    ],
)
def test_ties_are_ordered_by_event_id(
    change_id: str, response_id: str, expected_kinds: list[str]
) -> None:
    s = Story()
    s.created(day(0, 10), event_id="T-1-a", priority="C")
    tie = day(0, 10, 6, 40)  # 400 s: C's warning (300 s) fired at 10:05:00
    s.add("priority_changed", tie, event_id=change_id, priority="A")
    s.add("responded", tie, event_id=response_id)
    got = rows(s, day(1), "first_response")
    assert [r[2] for r in got] == expected_kinds
    assert got[0][4] == day(0, 10, 5)
    assert all(r[4] == tie for r in got[1:])
    # the same, whatever order the history is given in
    hist = s.history()
    _, a = evaluate(hist, POLICY, to_us(day(1)))
    _, b = evaluate(list(reversed(hist)), POLICY, to_us(day(1)))
    assert a == b


def test_history_order_does_not_matter_for_evaluate() -> None:
    s = Story()
    s.created(day(0, 10), priority="C", category="complex")
    s.add("priority_changed", day(0, 10, 2), priority="A")
    s.add("status_changed", day(0, 11), status="pending_customer")
    s.add("status_changed", day(1, 11), status="in_progress")
    s.add("responded", day(0, 10, 3, 30))
    hist = s.history()
    expected = evaluate(hist, POLICY, to_us(day(20)))[1]
    for k in range(1, len(hist)):
        shuffled = hist[k:] + hist[:k]
        assert evaluate(shuffled, POLICY, to_us(day(20)))[1] == expected


def test_repeated_event_id_is_ignored() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("responded", day(0, 10, 1, 30))
    hist = s.history()
    once = evaluate(hist, POLICY, to_us(day(3)))[1]
    twice = evaluate(hist + hist + [hist[0]], POLICY, to_us(day(3)))[1]
    assert once == twice
    # through the stream processor: a repeat emits nothing at all
    events = [*s.events, s.events[1], s.events[0]]
    assert replay(events, day(3)) == replay(s.events, day(3))


# --------------------------------------------------------------------------------------------
# exemptions and appeals.


def test_exemption_retracts_breach_and_stops_further_escalations() -> None:
    # A at 10:00, no response. Stream time reaches 10:02:30 (warning 10:01 and breach 10:02 out),
    # then the exemption: the breach is retracted, the warning stays, nothing more fires.
    s = Story()
    s.created(day(0, 10), priority="A")
    events = [*s.events, tick("OTHER", day(0, 10, 2, 30), 1)]
    ex = s.add("exemption_granted", day(0, 10, 2, 40), clock="first_response", reason="outage")
    events.append(s.events[-1])
    out = [a for a in replay(events, day(1)) if a["ticket_id"] == "T-1"]
    fr = [a for a in out if a["clock"] == "first_response"]
    assert [(a["kind"], a["level"]) for a in fr] == [
        ("warning", None),
        ("breach", "minor"),
        ("retraction", "minor"),
    ]
    breach, retraction = fr[1], fr[2]
    assert retraction["retracts"] == breach["alert_id"]
    assert retraction["reason"] == "exempted"
    assert retraction["retracted_kind"] == "breach"
    assert retraction["caused_by"] == [ex]
    assert summary(effective(fr).values()) == [("first_response", "warning", None, day(0, 10, 1))]


def test_exemption_before_the_breach_means_it_never_fires() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("exemption_granted", day(0, 10, 1, 30), clock="first_response", reason="outage")
    out = [a for a in replay(s.events, day(1)) if a["clock"] == "first_response"]
    assert summary(out) == [("first_response", "warning", None, day(0, 10, 1))]


def test_exemption_names_a_cycle() -> None:
    # Survey cycle 1 (resolved Mon 16:00) breached Tue 16:00; reopened Tue 17:00, resolved Tue
    # 18:00 -> cycle 2: 12 h -> Wed 06:00, 24 h -> Wed 18:00. Cycle 1 is exempted (explicitly)
    # on Wed 07:00: its breach is retracted; cycle 2 is untouched and keeps firing.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 0, 30))
    s.add("resolved", day(0, 16))
    s.add("reopened", day(1, 17))
    s.add("resolved", day(1, 18))
    s.add("exemption_granted", day(2, 7), clock="survey_dispatch", cycle=1, reason="mail outage")
    out = [a for a in replay(s.events, day(2, 19)) if a["clock"] == "survey_dispatch"]
    live = effective(out)
    assert sorted(
        (a["cycle"], a["kind"], a["level"], a["due_at"]) for a in live.values()
    ) == sorted(
        [
            (1, "warning", None, day(1, 4).astimezone(UTC).isoformat()),
            (2, "warning", None, day(2, 6).astimezone(UTC).isoformat()),
            (2, "breach", "minor", day(2, 18).astimezone(UTC).isoformat()),
        ]
    )
    retractions = [a for a in out if a["kind"] == "retraction"]
    assert [(a["cycle"], a["retracted_kind"], a["reason"]) for a in retractions] == [
        (1, "breach", "exempted")
    ]


def _ladder_story() -> tuple[Story, list[dict[str, Any]]]:
    s = Story()
    s.created(day(0, 10), priority="A")
    events = [*s.events, tick("OTHER", day(0, 10, 5), 1)]
    return s, replay(events, clock="first_response")


@pytest.mark.parametrize("outcome", ["upheld", "overturned"])
def test_appeal_on_the_breach(outcome: str) -> None:
    s, first = _ladder_story()
    fr = [a for a in first if a["ticket_id"] == "T-1"]
    assert [(a["kind"], a["level"]) for a in fr] == [
        ("warning", None),
        ("breach", "minor"),
        ("escalation", "moderate"),
        ("escalation", "severe"),
    ]
    breach_id = fr[1]["alert_id"]
    events = [*s.events, tick("OTHER", day(0, 10, 5), 1)]
    ap = s.add(
        "appeal_decided", day(0, 11), alert_id=breach_id, outcome=outcome, reason="customer away"
    )
    events.append(s.events[-1])
    out = [a for a in replay(events, day(1), "first_response") if a["ticket_id"] == "T-1"]
    later = out[4:]
    if outcome == "upheld":
        assert later == []
        return
    assert sorted((a["kind"], a["retracts"], a["reason"]) for a in later) == sorted(
        ("retraction", x["alert_id"], "appeal_overturned") for x in fr[1:]
    )
    assert all(a["caused_by"] == [ap] for a in later)
    assert [a["kind"] for a in effective(out).values()] == ["warning"]


def test_appeal_on_an_escalation_keeps_the_grades_below_it() -> None:
    s, first = _ladder_story()
    fr = [a for a in first if a["ticket_id"] == "T-1"]
    moderate_id = fr[2]["alert_id"]
    events = [*s.events, tick("OTHER", day(0, 10, 5), 1)]
    s.add("appeal_decided", day(0, 11), alert_id=moderate_id, outcome="overturned")
    events.append(s.events[-1])
    out = [a for a in replay(events, day(1), "first_response") if a["ticket_id"] == "T-1"]
    retracted = {a["retracts"] for a in out if a["kind"] == "retraction"}
    assert retracted == {fr[2]["alert_id"], fr[3]["alert_id"]}
    assert sorted((a["kind"], a["level"]) for a in effective(out).values()) == [
        ("breach", "minor"),
        ("warning", None),
    ]


def test_appeal_with_unknown_alert_id_changes_nothing() -> None:
    s, _ = _ladder_story()
    events = [*s.events, tick("OTHER", day(0, 10, 5), 1)]
    s.add("appeal_decided", day(0, 11), alert_id="no-such-alert", outcome="overturned")
    events.append(s.events[-1])
    out = [a for a in replay(events, day(1), "first_response") if a["ticket_id"] == "T-1"]
    assert [a["kind"] for a in out] == ["warning", "breach", "escalation", "escalation"]


# --------------------------------------------------------------------------------------------
# alert ids, retractions and re-issues.


def test_alert_ids_are_deterministic_and_per_decision() -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    a = replay(s.events, day(1), "first_response")
    b = replay(s.events, day(1), "first_response")
    assert a == b
    ids = [x["alert_id"] for x in a]
    assert len(set(ids)) == len(ids) == 4
    # the same story for another ticket: other ids
    o = Story("T-2")
    o.created(day(0, 10), priority="A")
    assert not set(ids) & {x["alert_id"] for x in replay(o.events, day(1), "first_response")}
    # the id does not depend on things outside (ticket, clock, cycle, kind, level, due_at):
    # another agent, channel or policy run later gives the same ids
    s2 = Story()
    s2.created(day(0, 10), priority="A", agent="a-99", channel="online")
    assert [x["alert_id"] for x in replay(s2.events, day(1), "first_response")] == ids


def test_alert_id_depends_on_due_at() -> None:
    s1, s2 = Story(), Story()
    s1.created(day(0, 10), priority="A")
    s2.created(day(0, 10, 0, 1), priority="A")
    ids1 = {a["alert_id"] for a in replay(s1.events, day(1))}
    ids2 = {a["alert_id"] for a in replay(s2.events, day(1))}
    assert not ids1 & ids2


def test_late_response_retracts_an_emitted_breach() -> None:
    # Issue §6: T-1 (A) created 10:00; T-2's event at 10:02:30 moves stream time: T-1's warning
    # (10:01) and breach (10:02) are emitted. Then T-1's response, stamped 10:01:30, arrives:
    # the breach is retracted (late_event); the warning stands; no escalation ever fires.
    s = Story()
    s.created(day(0, 10), priority="A")
    resp = s.add("responded", day(0, 10, 1, 30))
    events = [s.events[0], tick("T-2", day(0, 10, 2, 30), 1), s.events[1]]
    out = [a for a in replay(events, day(1), "first_response") if a["ticket_id"] == "T-1"]
    assert [(a["kind"], a["level"]) for a in out] == [
        ("warning", None),
        ("breach", "minor"),
        ("retraction", "minor"),
    ]
    assert out[2]["retracts"] == out[1]["alert_id"]
    assert out[2]["reason"] == "late_event"
    assert out[2]["caused_by"] == [resp]
    assert out[2]["alert_id"] not in {out[0]["alert_id"], out[1]["alert_id"]}


def test_moved_deadline_is_a_retraction_plus_a_new_alert() -> None:
    # C at 10:00 -> warning at 10:05:00, emitted when stream time reaches 10:06. A late change
    # to B stamped 10:01 (60 s) moves it: B's warning is due at 10:03:00 (180 s), breach
    # 10:05:00 (300 s). The 10:05 warning is retracted; the 10:03 warning and the 10:05 breach
    # are new alerts with new ids.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("priority_changed", day(0, 10, 1), priority="B")
    events = [s.events[0], tick("T-2", day(0, 10, 6), 1), s.events[1]]
    out = [a for a in replay(events) if a["ticket_id"] == "T-1"]
    assert [(a["kind"], a["level"], a["due_at"]) for a in out] == [
        ("warning", None, day(0, 10, 5).astimezone(UTC).isoformat()),
        ("retraction", None, day(0, 10, 5).astimezone(UTC).isoformat()),
        ("warning", None, day(0, 10, 3).astimezone(UTC).isoformat()),
        ("breach", "minor", day(0, 10, 5).astimezone(UTC).isoformat()),
    ]
    assert out[1]["retracts"] == out[0]["alert_id"]
    assert out[2]["alert_id"] != out[0]["alert_id"]
    assert len({a["alert_id"] for a in out}) == 4


def test_retracted_decision_true_again_gets_a_new_id() -> None:
    # Simple ticket Monday 10:00: resolution warning at 15:00, emitted when stream time passes
    # it. A late pause stamped 11:00 withdraws it (retraction); a late resume stamped 11:00 too
    # (a later event id) makes the paused time zero: the 15:00 warning is due again, and is
    # announced under a new id that was never used before.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("responded", day(0, 10, 1))
    s.add("status_changed", day(0, 11), event_id="T-1-p1", status="pending_customer")
    s.add("status_changed", day(0, 11), event_id="T-1-p2", status="in_progress")
    created, responded, pause, resume = s.events
    events = [created, responded, tick("T-2", day(0, 16), 1), pause, resume]
    out = [a for a in replay(events) if a["ticket_id"] == "T-1" and a["clock"] == "resolution"]
    assert [a["kind"] for a in out] == ["warning", "retraction", "warning"]
    first, retraction, again = out
    assert first["due_at"] == again["due_at"] == day(0, 15).astimezone(UTC).isoformat()
    assert retraction["retracts"] == first["alert_id"]
    assert again["alert_id"] not in {first["alert_id"], retraction["alert_id"]}
    # and once more: pause again and resume again -> a third, still new id
    s.add("status_changed", day(0, 11, 30), event_id="T-1-p3", status="pending_customer")
    s.add("status_changed", day(0, 11, 30), event_id="T-1-p4", status="in_progress")
    out2 = [
        a
        for a in replay([*events, s.events[4], s.events[5]])
        if a["ticket_id"] == "T-1" and a["clock"] == "resolution"
    ]
    assert [a["kind"] for a in out2] == [
        "warning",
        "retraction",
        "warning",
        "retraction",
        "warning",
    ]
    ids = [a["alert_id"] for a in out2]
    assert len(set(ids)) == 5
    assert effective(out2).keys() == {out2[-1]["alert_id"]}


def test_alert_ids_are_never_reused_across_tickets_and_kinds() -> None:
    s = Story()
    s.created(day(0, 10), priority="A", category="complaint")
    s.add("onsite_requested", day(0, 10))
    s.add("resolved", day(0, 11))
    out = replay(s.events, day(5))
    ids = [a["alert_id"] for a in out]
    assert len(ids) == len(set(ids))
    assert len(ids) > 10


def test_alert_id_is_a_hash_of_the_decision() -> None:
    # The contract (issue §5): a hash of ticket, clock, cycle, kind, level and due_at. Equal
    # decisions on the same ticket get the same id in two runs with different inputs: a warning
    # due 10:01 is the same decision whether the ticket later responds or not.
    s1 = Story()
    s1.created(day(0, 10), priority="A")
    s2 = Story()
    s2.created(day(0, 10), priority="A")
    s2.add("responded", day(0, 10, 1, 30))
    w1 = [a for a in replay(s1.events, day(1), "first_response") if a["kind"] == "warning"]
    w2 = [a for a in replay(s2.events, day(1), "first_response") if a["kind"] == "warning"]
    assert w1[0]["alert_id"] == w2[0]["alert_id"]
    assert len(w1[0]["alert_id"]) >= 16


# --------------------------------------------------------------------------------------------
# the alert contract: spec §4 fields, notify, responsible.

SPEC_FIELDS = {
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
}


def test_every_alert_has_the_spec_fields_and_validates() -> None:
    s = Story()
    s.created(day(0, 10), priority="A", category="complex")
    s.add("onsite_requested", day(0, 10, 5))
    s.add("resolved", day(3, 10))
    s.add("reopened", day(4, 9))
    late = Story("T-2")
    late.created(day(0, 10), priority="B")
    late.add("responded", day(0, 10, 4))
    events = [*s.events[:2], late.events[0], tick("T-3", day(0, 10, 6), 1), late.events[1]]
    events += s.events[2:]
    out = replay(events, day(10))
    kinds = {a["kind"] for a in out}
    assert kinds == {"warning", "breach", "escalation", "retraction"}
    for a in out:
        assert a.keys() >= SPEC_FIELDS, a
        Alert.model_validate(a)
        assert a["policy_version"] == POLICY.version
        assert set(a["responsible"]) == {"agent", "supervisor", "team", "department"}
        assert a["caused_by"], a
        if a["kind"] == "warning":
            assert a["level"] is None
        else:
            assert a["level"] in {"minor", "moderate", "severe"}
        if a["kind"] == "retraction":
            assert a["retracts"] and a["reason"] == "late_event"
        else:
            assert a.get("retracts") is None
    # the JSON form of every alert validates too (what consumers read)
    for a in out:
        Alert.model_validate_json(orjson.dumps(a))


def test_first_response_alert_fields() -> None:
    s = Story()
    c = s.created(day(0, 10), priority="B")
    out = replay(s.events, day(1), "first_response")
    breach = next(a for a in out if a["kind"] == "breach")
    assert breach["ticket_id"] == "T-1"
    assert breach["clock"] == "first_response"
    assert breach["cycle"] == 1
    assert breach["priority"] == "B"
    assert breach["target_seconds"] == 300
    assert breach["elapsed_seconds"] == 300
    assert datetime.fromisoformat(breach["due_at"]) == day(0, 10, 5)
    assert breach["caused_by"] == [c]
    assert breach["calendar"] == "24x7"
    assert breach["responsible"] == {
        "agent": "a-1",
        "supervisor": "s-1",
        "team": "team-1",
        "department": "after-sales",
    }


def test_caused_by_lists_the_events_that_started_moved_or_paused_the_clock() -> None:
    s = Story()
    c = s.created(day(0, 10))
    p = s.add("status_changed", day(0, 11), status="pending_customer")
    u = s.add("status_changed", day(1, 11), status="in_progress")
    _, decisions = evaluate(s.history(), POLICY, to_us(day(7)))
    warn = next(d for d in decisions if d.clock == "resolution")
    assert list(warn.caused_by) == [c, p, u]


@pytest.mark.parametrize(
    ("kind", "level", "roles"),
    [
        ("warning", None, ["agent"]),
        ("breach", "minor", ["agent"]),
        ("escalation", "moderate", ["agent", "supervisor"]),
        ("escalation", "severe", ["agent", "supervisor", "department_manager"]),
    ],
)
def test_notify_roles_per_level(kind: str, level: str | None, roles: list[str]) -> None:
    s = Story()
    s.created(day(0, 10), priority="A")
    out = replay(s.events, day(1), "first_response")
    a = next(x for x in out if (x["kind"], x["level"]) == (kind, level))
    assert a["notify"] == roles


def test_responsible_is_the_holder_at_the_threshold() -> None:
    # A at 10:00 held by a-1/team-1; handed off at 10:01:30 to a-2 of team-2 in another
    # department. The warning (10:01) is a-1's; the breach (10:02) and escalations are a-2's;
    # the supervisor, not named in the hand-off, stays s-1.
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("assigned", day(0, 10, 1, 30), agent="a-2", team="team-2", department="field")
    out = replay(s.events, day(1), "first_response")
    by_kind = {(a["kind"], a["level"]): a["responsible"] for a in out}
    assert by_kind[("warning", None)] == {
        "agent": "a-1",
        "supervisor": "s-1",
        "team": "team-1",
        "department": "after-sales",
    }
    for key in [("breach", "minor"), ("escalation", "moderate"), ("escalation", "severe")]:
        assert by_kind[key] == {
            "agent": "a-2",
            "supervisor": "s-1",
            "team": "team-2",
            "department": "field",
        }


def test_late_hand_off_restates_the_breach_for_the_new_holder() -> None:
    # The hand-off arrives after the breach (10:02) was emitted to a-1 but is stamped 10:01:30,
    # before it: the breach was a-2's. Arrival order must not change the final alerts, so the
    # breach is retracted and re-issued to a-2 under a new id.
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("assigned", day(0, 10, 1, 30), agent="a-2", team="team-2")
    events = [s.events[0], tick("T-2", day(0, 10, 2, 30), 1), s.events[1]]
    out = [a for a in replay(events, day(1), "first_response") if a["ticket_id"] == "T-1"]
    holder = [a["responsible"]["agent"] if a["kind"] != "retraction" else "-" for a in out]
    assert [(a["kind"], a["level"], h) for a, h in zip(out, holder, strict=True)] == [
        ("warning", None, "a-1"),
        ("breach", "minor", "a-1"),
        ("retraction", "minor", "-"),
        ("breach", "minor", "a-2"),
        ("escalation", "moderate", "a-2"),
        ("escalation", "severe", "a-2"),
    ]
    assert out[2]["retracts"] == out[1]["alert_id"]
    assert out[3]["alert_id"] != out[1]["alert_id"]
    assert out[3]["due_at"] == out[1]["due_at"]
    # the same final alerts as in file order (ids aside)
    in_order = replay(s.events, day(1), "first_response")

    def content(alerts: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return sorted(
            (a["kind"], a["level"], a["due_at"], a["priority"], str(a["responsible"]))
            for a in alerts
        )

    assert content(effective(out).values()) == content(effective(in_order).values())


def test_late_priority_change_restates_the_priority_of_later_alerts() -> None:
    # The resolution warning (Mon 15:00) does not depend on priority, but it carries the
    # priority at the threshold. A change to A stamped 11:00 arriving after it was emitted
    # as C re-issues it as A.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("responded", day(0, 10, 1))
    s.add("priority_changed", day(0, 11), priority="A")
    events = [*s.events[:2], tick("T-2", day(0, 16), 1), s.events[2]]
    out = [a for a in replay(events, clock="resolution") if a["ticket_id"] == "T-1"]
    assert [(a["kind"], a["priority"]) for a in out if a["kind"] != "retraction"] == [
        ("warning", "C"),
        ("warning", "A"),
    ]
    assert out[1]["kind"] == "retraction"
    assert out[1]["retracts"] == out[0]["alert_id"]


def test_alerts_validate_when_the_ticket_was_created_before_the_input() -> None:
    # A replay window (--from) can start after a ticket's `created`: its first event is the
    # resolution. The survey clock still runs, and its alerts still validate.
    s = Story()
    s.add("resolved", day(0, 16), agent="a-1")
    out = replay(s.events, day(3))
    assert summary(out) == summary(
        [
            {"clock": "survey_dispatch", "kind": k, "level": lv, "due_at": d.isoformat()}
            for k, lv, d in [
                ("warning", None, day(1, 4)),
                ("breach", "minor", day(1, 16)),
                ("escalation", "moderate", day(2, 4)),
                ("escalation", "severe", day(2, 16)),
            ]
        ]
    )
    for a in out:
        Alert.model_validate(a)


def test_fold_state_is_as_of_the_last_event() -> None:
    s = Story()
    s.created(day(0, 10), priority="A", category="complex")
    s.add("responded", day(0, 10, 0, 30))
    state = fold(s.history(), POLICY)
    assert state.attrs["priority"] == "A"
    assert state.attrs["status"] == "open"
    nd = state.next_due()
    assert nd is not None
    # the next deadline is the 24-bh warning of resolution and first_solution:
    # Mon 10:00: Mon 10-12, 13-18 = 7 bh; Tue 8 -> 15; Wed 8 -> 23; Thu 09-10 -> 24: Thu 10:00.
    assert from_us(nd) == day(3, 10)
