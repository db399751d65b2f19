"""Every KPI on small, hand-computed cases (issue 5, "Tests").

The expected numbers are worked out from the definitions in `engine.kpis.facts` and
`engine.kpis.snapshot` (the comments show the sums), never copied from the engine's output.
Default policy: first response A 60/120 s, B 180/300 s, C 300/600 s (24x7); resolution simple
4/8 business hours, complex 24/40; escalations at 150 % and 200 % of the limit; business-cn
Monday-Friday 09:00-12:00, 13:00-18:00 Asia/Shanghai. 2026-11-23 is a Monday.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from engine.alerts import base_id
from engine.history import from_model
from engine.instant import to_us
from engine.kpis import Fact, KpiAggregate, contributions
from engine.processor import Processor
from schemas.parse import parse_event

from .support import (
    HOUR,
    POLICY,
    Key,
    Tickets,
    by_key,
    cst,
    metrics,
    snapshots,
)


def three_tickets() -> Tickets:
    """Tuesday 2026-11-24: T1 answered and resolved, T2 answered late and left open, T3 a
    complex case resolved the same afternoon."""
    t = Tickets()
    t.created("T1", cst(11, 24, 10), priority="A", request_type="repair")
    t.add("T1", "responded", cst(11, 24, 10, 1))  # 60 s: A limit 120 s -> met
    t.add("T1", "resolved", cst(11, 24, 11), solution="replaced the unit")
    t.add("T1", "closed", cst(11, 24, 12), customer_confirmed=True)
    t.created("T2", cst(11, 24, 10, 30), priority="B", agent="a-2", channel="online")
    t.add("T2", "responded", cst(11, 24, 10, 39))  # 540 s: B breach 300 s, moderate 450 s
    t.created(
        "T3", cst(11, 24, 14), category="complex", team="team-2", agent="a-3", product_line="nas"
    )
    t.add("T3", "responded", cst(11, 24, 14, 2))  # 120 s: C limit 600 s -> met
    t.add("T3", "resolved", cst(11, 24, 17))
    t.add("T3", "closed", cst(11, 24, 18))  # no request type, solution or confirmation
    return t


UNTIL = cst(11, 26, 12)  # Thursday noon


Snaps = dict[Key, dict[str, Any]]


@pytest.fixture(scope="module")
def three() -> Snaps:
    return snapshots(three_tickets().events, UNTIL)


def test_resolution_rate_fcr_and_targets(three: Snaps) -> None:
    m = metrics(three, "day", "2026-11-24")
    assert (m["accepted"], m["resolved"]) == (3, 2)
    assert m["resolution_rate"] == pytest.approx(2 / 3, abs=1e-6)
    assert (m["fcr_resolved"], m["fcr_rate"]) == (2, 1.0)
    assert (m["reopens"], m["reopened_resolved"], m["reopen_rate"]) == (0, 0, 0.0)
    snap = three[("day", "2026-11-24", "overall", "all")]
    assert snap["targets"]["resolution_rate"] == 0.9
    assert snap["gaps"]["resolution_rate"] == pytest.approx(2 / 3 - 0.9, abs=1e-6)
    assert "below_target:resolution_rate" in snap["flags"]
    # team-1 accepted T1 and T2 and resolved T1; team-2 accepted and resolved T3.
    assert metrics(three, "day", "2026-11-24", "team", "team-1")["resolution_rate"] == 0.5
    assert metrics(three, "day", "2026-11-24", "team", "team-2")["resolution_rate"] == 1.0
    # Hour windows: T1 and T2 were accepted between 10:00 and 11:00, T3 at 14:00.
    assert metrics(three, "hour", "2026-11-24T10")["accepted"] == 2
    assert metrics(three, "hour", "2026-11-24T14")["accepted"] == 1
    assert ("hour", "2026-11-24T12", "overall", "all") in three  # T1 closed at 12:00


def test_first_response_and_resolution_times(three: Snaps) -> None:
    m = metrics(three, "day", "2026-11-24")
    # Time to first response: 60, 540, 120 s, all inside business hours.
    assert m["ttfr_count"] == 3
    assert m["ttfr_wall_mean_s"] == 240.0  # (60 + 540 + 120) / 3
    assert m["ttfr_wall_p90_s"] == 540.0  # nearest rank ceil(0.9 * 3) = 3rd smallest
    assert (m["ttfr_business_mean_s"], m["ttfr_business_p90_s"]) == (240.0, 540.0)
    # Time to resolution: T1 1 h, T3 3 h (14:00-17:00), in business hours too.
    assert m["ttr_count"] == 2
    assert (m["ttr_wall_mean_s"], m["ttr_wall_p90_s"]) == (2 * HOUR, 3 * HOUR)
    assert (m["ttr_business_mean_s"], m["ttr_business_p90_s"]) == (2 * HOUR, 3 * HOUR)


def test_sla_attainment_and_breaches(three: Snaps) -> None:
    tue = metrics(three, "day", "2026-11-24")
    # first_response: T1 and T3 met, T2 breached at 10:35 (escalated at 10:37:30).
    assert (tue["sla.first_response.due"], tue["sla.first_response.met"]) == (3, 2)
    assert tue["sla.first_response.attainment"] == pytest.approx(2 / 3, abs=1e-6)
    assert tue["breaches.first_response.minor"] == 1
    assert tue["breaches.first_response.moderate"] == 1
    assert "breaches.first_response.severe" not in tue
    # resolution met by T1 (11:00) and T3 (17:00); first_solution met by T3; survey_dispatch
    # stopped by the two closes (12:00, 18:00) before its limit: met.
    assert (tue["sla.resolution.due"], tue["sla.resolution.met"]) == (2, 2)
    assert (tue["sla.first_solution.due"], tue["sla.first_solution.met"]) == (1, 1)
    assert (tue["sla.survey_dispatch.due"], tue["sla.survey_dispatch.met"]) == (2, 2)
    assert (tue["sla.all.due"], tue["sla.all.met"]) == (8, 7)
    assert tue["sla.all.attainment"] == 0.875
    assert "sla.onsite_arrival.due" not in tue  # no data for that clock
    # T2's resolution clock (simple, 8 business hours) from Tue 10:30: Tue 1.5 + 5 = 6.5 h,
    # Wed 09:00-10:00 -> breach Wed 10:00; moderate at 12 h: Wed 15:30; severe at 16 h:
    # Thu 10:30.
    wed = metrics(three, "day", "2026-11-25")
    assert (wed["sla.resolution.due"], wed["sla.resolution.met"]) == (1, 0)
    assert wed["sla.resolution.attainment"] == 0.0
    assert (wed["breaches.minor"], wed["breaches.moderate"], wed["breaches.severe"]) == (1, 1, 0)
    assert metrics(three, "hour", "2026-11-25T15")["breaches.resolution.moderate"] == 1
    assert metrics(three, "day", "2026-11-26")["breaches.resolution.severe"] == 1


def test_record_completeness(three: Snaps) -> None:
    m = metrics(three, "day", "2026-11-24")
    assert (m["records.closed"], m["records.complete"], m["records.incomplete"]) == (2, 1, 1)
    assert m["records.completeness"] == 0.5
    missing = {k: v for k, v in m.items() if k.startswith("records.missing.") and v}
    assert missing == {
        "records.missing.request_type": 1,
        "records.missing.solution": 1,
        "records.missing.customer_confirmed": 1,
    }


def test_backlog_at_window_end_and_finality(three: Snaps) -> None:
    # T2 stays open: at the end of Tuesday it is 13.5 h old, at the end of Wednesday 37.5 h.
    tue = metrics(three, "day", "2026-11-24")
    assert (tue["backlog"], tue["backlog.lt_1d"], tue["backlog.1d_3d"]) == (1, 1, 0)
    wed = metrics(three, "day", "2026-11-25")
    assert (wed["backlog"], wed["backlog.lt_1d"], wed["backlog.1d_3d"]) == (1, 0, 1)
    # Thursday and the week have not ended by the clock (Thu 12:00): no backlog yet.
    assert metrics(three, "day", "2026-11-26")["backlog"] is None
    assert metrics(three, "week", "2026-W48")["backlog"] is None
    assert "backlog" not in metrics(three, "hour", "2026-11-24T10")
    # Final once the clock is a day (the grace period) past the window end.
    assert three[("day", "2026-11-24", "overall", "all")]["final"] is True  # Thu 00:00 <= noon
    assert three[("day", "2026-11-25", "overall", "all")]["final"] is False  # Fri 00:00
    assert three[("hour", "2026-11-25T10", "overall", "all")]["final"] is True


def test_backlog_age_bands_over_days_weeks() -> None:
    t = Tickets()
    t.created("OLD", cst(11, 20, 12))  # Friday, never resolved
    t.created("RES", cst(11, 23, 9))
    t.add("RES", "resolved", cst(11, 24, 23))
    t.created("NEW", cst(11, 24, 12))
    snaps = snapshots(t.events, cst(11, 25, 12))
    # End of Monday 11-23 (Tue 00:00): OLD is 3 d 12 h old, RES 15 h.
    mon = metrics(snaps, "day", "2026-11-23")
    assert (mon["backlog"], mon["backlog.3d_5d"], mon["backlog.lt_1d"]) == (2, 1, 1)
    # End of Tuesday: OLD 4 d 12 h, NEW 12 h; RES was resolved at 23:00.
    tue = metrics(snaps, "day", "2026-11-24")
    assert (tue["backlog"], tue["backlog.3d_5d"], tue["backlog.lt_1d"]) == (2, 1, 1)
    # Week 47 (Nov 16-22) ends Monday 00:00: only OLD, 2 d 12 h old.
    w47 = metrics(snaps, "week", "2026-W47")
    assert (w47["backlog"], w47["backlog.1d_3d"]) == (1, 1)
    # Days with no other fact still get their backlog (Saturday 11-21: OLD, 1 d 12 h).
    sat = metrics(snaps, "day", "2026-11-21")
    assert (sat["accepted"], sat["backlog"], sat["backlog.1d_3d"]) == (0, 1, 1)


def test_window_edges_at_midnight_shanghai_and_month_end() -> None:
    t = Tickets()
    t.created("E", cst(11, 29, 23, 59, 59, us=999_999))  # Sunday, last µs of ISO week 48
    t.add("E", "responded", cst(11, 30, 0, 0))  # Monday 00:00: week 49, still November
    t.add("E", "resolved", cst(12, 1, 0, 0))  # Tuesday 00:00: December
    snaps = snapshots(t.events, cst(12, 3))
    assert metrics(snaps, "hour", "2026-11-29T23")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-29")["accepted"] == 1
    assert metrics(snaps, "week", "2026-W48")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-30")["ttfr_count"] == 1
    assert metrics(snaps, "day", "2026-11-30")["ttfr_wall_mean_s"] == 0.0  # 1 µs, in seconds
    assert metrics(snaps, "week", "2026-W49")["ttfr_count"] == 1
    assert metrics(snaps, "week", "2026-W48")["ttfr_count"] == 0
    nov, dec = metrics(snaps, "month", "2026-11"), metrics(snaps, "month", "2026-12")
    assert (nov["accepted"], nov["ttfr_count"], nov["resolved"]) == (1, 1, 0)
    assert (dec["accepted"], dec["resolved"]) == (0, 1)
    assert metrics(snaps, "day", "2026-12-01")["resolved"] == 1
    assert metrics(snaps, "week", "2026-W49")["resolved"] == 1
    # The window itself, with the zone's offset.
    w = snaps[("month", "2026-11", "overall", "all")]["window"]
    assert (w["start"], w["end"]) == ("2026-11-01T00:00:00+08:00", "2026-12-01T00:00:00+08:00")
    # Backlog at the end of Sunday 11-29: E was open (created 1 µs before midnight).
    assert metrics(snaps, "day", "2026-11-29")["backlog.lt_1d"] == 1
    # ... and at the end of Monday 11-30, resolved exactly at that end: still counted there.
    assert metrics(snaps, "day", "2026-11-30")["backlog"] == 1
    assert metrics(snaps, "month", "2026-11")["backlog"] == 1


def test_a_reopened_ticket() -> None:
    t = Tickets()
    t.created("R", cst(11, 24, 9))
    t.add("R", "responded", cst(11, 24, 9, 1))
    t.add("R", "resolved", cst(11, 24, 10))  # withdrawn by the reopen
    t.add("R", "reopened", cst(11, 25, 9, 30))  # before the survey limit (Wed 10:00)
    t.add("R", "resolved", cst(11, 25, 11))
    snaps = snapshots(t.events, cst(11, 25, 20))
    tue, wed = metrics(snaps, "day", "2026-11-24"), metrics(snaps, "day", "2026-11-25")
    assert (tue["accepted"], tue["resolved"], tue["resolution_rate"]) == (1, 0, 0.0)
    assert (wed["resolved"], wed["reopens"], wed["reopened_resolved"]) == (1, 1, 1)
    assert (wed["reopen_rate"], wed["fcr_resolved"], wed["fcr_rate"]) == (1.0, 0, 0.0)
    # Created Tue 09:00, resolved for good Wed 11:00: 26 h wall; business: Tue 8 h + Wed 2 h.
    assert wed["ttr_wall_mean_s"] == 26 * HOUR
    assert wed["ttr_business_mean_s"] == 10 * HOUR
    # The resolution clock resumed at the reopen: Tue 1 h + Wed 1.5 h < 4 h, met on Wednesday;
    # the first survey clock cycle was stopped by the reopen (met), the second still runs.
    assert "sla.resolution.due" not in tue
    assert (wed["sla.resolution.due"], wed["sla.resolution.met"]) == (1, 1)
    assert (wed["sla.survey_dispatch.due"], wed["sla.survey_dispatch.met"]) == (1, 1)
    # Open [Tue 09:00, Tue 10:00) and [Wed 09:30, Wed 11:00): no backlog at either day end.
    assert (tue["backlog"], wed["backlog"]) == (0, None)  # Wednesday has not ended at 20:00
    assert ("hour", "2026-11-24T10", "overall", "all") not in snaps  # nothing stands there


def test_a_survey_replaced_by_a_later_one() -> None:
    t = Tickets()
    t.created("S", cst(11, 24, 9))
    t.add("S", "resolved", cst(11, 24, 11))
    t.add("S", "survey_sent", cst(11, 24, 12))
    t.survey("S", cst(11, 25, 10), overall=2, rest=3)
    t.survey("S", cst(11, 25, 15), overall=5, rest=4)
    snaps = snapshots(t.events, cst(11, 27))
    wed = metrics(snaps, "day", "2026-11-25")
    assert (wed["surveys.submitted"], wed["surveys.counted"], wed["surveys.replaced"]) == (1, 1, 1)
    assert (wed["surveys.satisfied"], wed["csat"]) == (1, 1.0)
    assert (wed["surveys.mean.overall"], wed["surveys.mean.responsiveness"]) == (5.0, 4.0)
    assert metrics(snaps, "hour", "2026-11-25T10")["surveys.replaced"] == 1
    assert metrics(snaps, "hour", "2026-11-25T10")["csat"] is None
    assert metrics(snaps, "hour", "2026-11-25T15")["csat"] == 1.0
    # Participation: one survey sent (Tuesday), one submitted (Wednesday); the week has both.
    assert metrics(snaps, "day", "2026-11-24")["surveys.participation"] == 0.0
    assert metrics(snaps, "week", "2026-W48")["surveys.participation"] == 1.0


def test_invalid_surveys_are_kept_out_with_their_reason() -> None:
    t = Tickets()
    for n in range(1, 5):
        t.created(f"V{n}", cst(11, 24, 9))
        t.add(f"V{n}", "survey_sent", cst(11, 24, 12))
    t.survey("V1", cst(11, 24, 13), overall=4)
    t.survey("V2", cst(11, 24, 13), overall=1, invalid_reason="Malicious")
    t.survey("V3", cst(11, 24, 13), overall=1, invalid_reason="copy-pasted spam")
    t.survey("V4", cst(11, 24, 13), overall=None)
    t.survey("GHOST", cst(11, 24, 13), overall=5)  # no `created`: an unknown ticket
    snaps = snapshots(t.events, cst(11, 26))
    m = metrics(snaps, "day", "2026-11-24")
    assert m["surveys.invalid"] == 4
    assert m["surveys.invalid.malicious"] == 1
    assert m["surveys.invalid.other"] == 1
    assert m["surveys.invalid.no_overall"] == 1
    assert m["surveys.invalid.unknown_ticket"] == 1
    assert (m["surveys.sent"], m["surveys.submitted"], m["surveys.counted"]) == (4, 1, 1)
    assert (m["csat"], m["surveys.participation"]) == (1.0, 0.25)
    assert metrics(snaps, "day", "2026-11-24", "team", "unknown")["surveys.invalid"] == 1


def test_all_five_and_all_one_surveys_are_flagged() -> None:
    t = Tickets()
    for n, scores in enumerate([(5, 5), (1, 1), (3, 3)], 1):
        t.created(f"F{n}", cst(11, 24, 9))
        t.survey(f"F{n}", cst(11, 24, 13), overall=scores[0], rest=scores[1])
    m = metrics(snapshots(t.events, cst(11, 26)), "day", "2026-11-24")
    assert (m["surveys.flagged"], m["surveys.flagged_all5"], m["surveys.flagged_all1"]) == (2, 1, 1)
    # Still counted by default: 1 satisfied (the all-5) of 3.
    assert (m["surveys.counted"], m["surveys.satisfied"]) == (3, 1)
    assert m["csat"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["surveys.mean.overall"] == 3.0  # (5 + 1 + 3) / 3
    # A policy that leaves flagged surveys out counts only F3.
    strict = dataclasses.replace(
        POLICY, kpis=dataclasses.replace(POLICY.kpis, include_flagged_surveys=False)
    )
    m = metrics(snapshots(t.events, cst(11, 26), strict), "day", "2026-11-24")
    assert (m["surveys.flagged"], m["surveys.submitted"], m["surveys.counted"]) == (2, 3, 1)
    assert (m["csat"], m["surveys.mean.overall"]) == (0.0, 3.0)


def _breached(t: Tickets, ticket: str) -> None:
    """An A ticket answered after 5 min: breach at 10:02, moderate 10:03, severe 10:04."""
    t.created(ticket, cst(11, 24, 10), priority="A")
    t.add(ticket, "responded", cst(11, 24, 10, 5))


def _first_response_ids(ticket: str) -> dict[str, str]:
    due = {"minor": 2, "moderate": 3, "severe": 4}
    kind = {"minor": "breach", "moderate": "escalation", "severe": "escalation"}
    return {
        level: base_id(ticket, ("first_response", 1, kind[level], level, to_us(cst(11, 24, 10, m))))
        for level, m in due.items()
    }


def test_an_exempted_breach_leaves_attainment() -> None:
    t = Tickets()
    t.created("OK", cst(11, 24, 10), priority="A")
    t.add("OK", "responded", cst(11, 24, 10, 1))
    _breached(t, "LATE")
    before = metrics(snapshots(t.events, cst(11, 26)), "day", "2026-11-24")
    assert (before["sla.first_response.due"], before["sla.first_response.met"]) == (2, 1)
    assert before["breaches.minor"] == 1
    t.add("LATE", "exemption_granted", cst(11, 24, 11), clock="first_response", reason="outage")
    m = metrics(snapshots(t.events, cst(11, 26)), "day", "2026-11-24")
    assert (m["sla.first_response.due"], m["sla.first_response.met"]) == (1, 1)
    assert m["sla.first_response.attainment"] == 1.0
    assert (m["sla.first_response.exempted"], m["sla.all.exempted"]) == (1, 1)
    assert (m["breaches.minor"], m["breaches.moderate"], m["breaches.severe"]) == (0, 0, 0)
    assert m["exemptions"] == 1
    assert metrics(snapshots(t.events, cst(11, 26)), "hour", "2026-11-24T11")["exemptions"] == 1


def test_overturned_appeals() -> None:
    t = Tickets()
    _breached(t, "B")  # the appeal names the breach: the whole cycle leaves attainment
    _breached(t, "E")  # the appeal names the moderate escalation: the breach stands
    for ticket, level in (("B", "minor"), ("E", "moderate")):
        alert_id = _first_response_ids(ticket)[level]
        t.add(ticket, "appeal_decided", cst(11, 24, 12), alert_id=alert_id, outcome="overturned")
    m = metrics(snapshots(t.events, cst(11, 26)), "day", "2026-11-24")
    assert (m["sla.first_response.due"], m["sla.first_response.met"]) == (1, 0)  # E only
    assert m["sla.first_response.overturned"] == 1  # B
    assert (m["breaches.minor"], m["breaches.moderate"], m["breaches.severe"]) == (1, 0, 0)
    assert m["appeals_overturned"] == 2


def test_complaints_answered_within_24_hours() -> None:
    t = Tickets()
    t.created("C1", cst(11, 23, 10), category="complaint")
    t.add("C1", "responded", cst(11, 24, 9))  # 23 h: in time, counted Tuesday 09:00
    t.created("C2", cst(11, 23, 10), category="complaint")
    t.add("C2", "responded", cst(11, 24, 11))  # 25 h: missed, counted at Tue 10:00
    t.created("C3", cst(11, 23, 12), category="complaint")  # never answered: missed Tue 12:00
    t.created("N", cst(11, 23, 12))  # not a complaint
    early = metrics(snapshots(t.events, cst(11, 24, 11, 30)), "day", "2026-11-24")
    assert (early["complaints"], early["complaints_in_time"]) == (2, 1)  # C3 not yet due
    assert early["complaint_24h_rate"] == 0.5
    snaps = snapshots(t.events, cst(11, 25))
    late = metrics(snaps, "day", "2026-11-24")
    assert (late["complaints"], late["complaints_in_time"]) == (3, 1)
    assert late["complaint_24h_rate"] == pytest.approx(1 / 3, abs=1e-6)
    snap = snaps[("day", "2026-11-24", "overall", "all")]
    assert snap["gaps"]["complaint_24h_rate"] == pytest.approx(1 / 3 - 0.9, abs=1e-6)
    assert metrics(snaps, "hour", "2026-11-24T10")["complaints"] == 1  # C2's miss
    assert metrics(snaps, "day", "2026-11-23")["complaints"] == 0


def test_team_csat_flag_relative_to_the_mean_of_teams() -> None:
    t = Tickets()
    plan = {"team-1": [5, 5], "team-2": [5, 4], "team-3": [5, 2]}  # CSAT 1.0, 1.0, 0.5
    for team, overalls in plan.items():
        for i, overall in enumerate(overalls):
            name = f"{team}-{i}"
            t.created(name, cst(11, 24, 9), team=team)
            t.survey(name, cst(11, 24, 15), overall=overall)
    # Two surveys a team: below the default minimum (5), so the rule is applied from 1.
    base = dataclasses.replace(
        POLICY, kpis=dataclasses.replace(POLICY.kpis, team_csat_min_surveys=1)
    )
    snaps = snapshots(t.events, cst(11, 26), base)
    # Mean of the teams = (1 + 1 + 0.5) / 3 = 0.833333; 15 % below it: <= 0.708333.
    for team, flagged in (("team-1", False), ("team-2", False), ("team-3", True)):
        snap = snaps[("day", "2026-11-24", "team", team)]
        assert snap["metrics"]["csat_teams_mean"] == pytest.approx(0.833333, abs=1e-6)
        assert ("csat_below_team_mean" in snap["flags"]) is flagged
    assert "csat_teams_mean" not in metrics(snaps, "day", "2026-11-24")
    # Points mode: at or below 0.833333 - 0.15 = 0.683333; still team-3 only. With
    # min_surveys 3 (or the default, 5) no team qualifies, so there is no mean and no flag.
    variants: list[tuple[dict[str, Any], float | None]] = [
        ({"team_csat_mode": "points"}, 0.833333),
        ({"team_csat_min_surveys": 3}, None),
        ({"team_csat_min_surveys": POLICY.kpis.team_csat_min_surveys}, None),
    ]
    for rules, mean in variants:
        policy = dataclasses.replace(base, kpis=dataclasses.replace(base.kpis, **rules))
        snaps = snapshots(t.events, cst(11, 26), policy)
        team3 = snaps[("day", "2026-11-24", "team", "team-3")]
        assert team3["metrics"]["csat_teams_mean"] == (
            None if mean is None else pytest.approx(mean, abs=1e-6)
        )
        assert ("csat_below_team_mean" in team3["flags"]) is (mean is not None)


def test_previous_period_and_same_period_last_year() -> None:
    t = Tickets()
    t.created("Y", cst(11, 24, 9, year=2025))
    t.add("Y", "closed", cst(11, 24, 10, year=2025))  # closed: no backlog in between
    t.created("P1", cst(11, 23, 9))
    t.created("P2", cst(11, 23, 10))
    t.created("N", cst(11, 24, 9))
    snaps = snapshots(t.events, cst(11, 26))
    snap = snaps[("day", "2026-11-24", "overall", "all")]
    assert snap["previous"]["label"] == "2026-11-23"
    assert snap["previous"]["metrics"]["accepted"] == 2
    assert snap["last_year"]["label"] == "2025-11-24"
    assert snap["last_year"]["metrics"]["accepted"] == 1
    month = snaps[("month", "2026-11", "overall", "all")]
    assert month["last_year"]["metrics"]["accepted"] == 1
    assert month["previous"] is None  # no data in October 2026
    assert snaps[("day", "2026-11-23", "overall", "all")]["last_year"] is None


def test_a_late_event_lands_in_a_final_window() -> None:
    """Live style: each change replaces the ticket's facts; the late `resolved` updates the
    Monday window although it was already final, and the result is what a replay gives."""
    t = Tickets()
    t.created("L", cst(11, 23, 10))
    t.add("L", "responded", cst(11, 23, 10, 1))
    t.created("X", cst(11, 26, 9))  # moves the clock to Thursday
    late = t.add("L", "resolved", cst(11, 23, 11))  # arrives last
    proc = Processor(POLICY)
    store = KpiAggregate(POLICY)
    kept: dict[str, tuple[Fact, ...]] = {}

    def feed(event: dict[str, Any]) -> None:
        proc.ingest(event["ticket_id"], from_model(parse_event(orjson.dumps(event))))
        store.advance(proc.clock)
        for ticket_id, ticket in proc.tickets.items():
            new = contributions(ticket)
            store.replace(kept.get(ticket_id, ()), new)
            kept[ticket_id] = new

    for e in t.events[:-1]:
        feed(e)
    monday = by_key(store.snapshots(changed_only=True))[("day", "2026-11-23", "overall", "all")]
    assert monday["final"] is True and monday["metrics"]["resolved"] == 0
    assert store.snapshots(changed_only=True) == []  # nothing changed since
    feed(t.events[-1])
    assert t.events[-1]["event_id"] == late
    changed = by_key(store.snapshots(changed_only=True))
    monday = changed[("day", "2026-11-23", "overall", "all")]
    assert monday["final"] is True
    assert (monday["metrics"]["resolved"], monday["metrics"]["resolution_rate"]) == (1, 1.0)
    assert ("hour", "2026-11-23T11", "overall", "all") in changed
    assert ("hour", "2026-11-26T09", "overall", "all") not in changed  # X only
    replayed = snapshots(t.events, None)
    assert by_key(store.snapshots()) == replayed


def test_unknown_dimension_values_and_dimension_keys() -> None:
    t = Tickets()
    t.created("U", cst(11, 24, 9), agent=None, product_line=None)
    snaps = snapshots(t.events, cst(11, 26))
    assert metrics(snaps, "day", "2026-11-24", "agent", "unknown")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-24", "product_line", "unknown")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-24", "priority", "C")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-24", "channel", "phone")["accepted"] == 1
    assert metrics(snaps, "day", "2026-11-24", "category", "simple")["accepted"] == 1


def test_a_hand_off_breaks_first_contact_resolution() -> None:
    t = Tickets()
    t.created("H", cst(11, 24, 9))
    t.add("H", "assigned", cst(11, 24, 9, 30), agent="a-9", team="team-2")
    t.add("H", "resolved", cst(11, 24, 10))
    t.created("K", cst(11, 24, 9))
    t.add("K", "assigned", cst(11, 24, 9, 30), agent="a-1")  # the same agent: no hand-off
    t.add("K", "resolved", cst(11, 24, 10))
    snaps = snapshots(t.events, cst(11, 26))
    m = metrics(snaps, "day", "2026-11-24")
    assert (m["resolved"], m["fcr_resolved"], m["fcr_rate"]) == (2, 1, 0.5)
    # Facts carry the holder at their instant: team-1 accepted H, team-2 resolved it.
    assert metrics(snaps, "day", "2026-11-24", "team", "team-2")["resolved"] == 1
    assert metrics(snaps, "day", "2026-11-24", "team", "team-2")["accepted"] == 0
