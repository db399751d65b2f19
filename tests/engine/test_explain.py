"""The evidence chain of one alert (`engine.explain`), checked field by field.

Expected instants and seconds are worked out by hand from the default policy: `business-cn`
counts Monday-Friday 09:00-12:00 and 13:00-18:00 Asia/Shanghai; 2026-11-23 is a Monday; no
holiday in late November 2026. resolution (simple): warning 4 bh, breach 8 bh (+ 12, 16 bh).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.explain import UnknownAlert, explain
from engine.history import NOT_KEPT
from engine.instant import to_us
from engine.kpis import KpiAggregate, contributions
from engine.replay import Replay, replay
from tests.engine.kpis.support import by_key
from tests.engine.test_evaluate import POLICY, Story, day
from tests.engine.test_properties import ev_of

A1 = {"agent": "a-1", "supervisor": "s-1", "team": "team-1", "department": "after-sales"}
A2 = {"agent": "a-2", "supervisor": "s-2", "team": "team-9", "department": "field"}


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def replayed(events: list[dict[str, Any]], until: datetime) -> tuple[Replay, list[Any]]:
    return replay(((e["ticket_id"], ev_of(e)) for e in events), POLICY, to_us(until))


def evidence(proc: Replay, alerts: list[dict[str, Any]], alert_id: str) -> dict[str, Any]:
    ticket_id = next(a["ticket_id"] for a in alerts if a["alert_id"] == alert_id)
    mine = [a for a in alerts if a["ticket_id"] == ticket_id]
    return explain(proc.tickets[ticket_id], mine, alert_id, proc.clock).to_dict()


def pick(alerts: list[dict[str, Any]], clock: str, kind: str) -> dict[str, Any]:
    return next(a for a in alerts if a["clock"] == clock and a["kind"] == kind)


def _story() -> Story:
    # T-1, C simple, created Mon 10:00 by a-1 (customer name given: it must not show).
    # Resolution: a-1 counts 10:00-11:00 (1 h), paused 11:00-14:00, counts 14:00-16:30 (2.5 h);
    # a-2 (field) takes it at 16:30. The 4 bh warning: 3.5 h + 0.5 h -> Mon 17:00 (a-2 holds
    # 1800 s of it). The 8 bh breach: 5 h by Mon 18:00, Tue 09:00-12:00 3 h -> Tue 12:00 (a
    # block's end): a-1 12600 s, a-2 5400 + 10800 = 16200 s.
    s = Story()
    s.created(day(0, 10), customer={"id": "c-1", "name": "Wang Fang", "phone": "+86 1"})
    s.add("responded", day(0, 10, 1))
    s.add("status_changed", day(0, 11), status="pending_customer")
    s.add("status_changed", day(0, 14), status="in_progress")
    s.add("assigned", day(0, 16, 30), **A2)
    return s


def test_evidence_of_a_breach_field_by_field() -> None:
    s = _story()
    proc, alerts = replayed(s.events, day(1, 12, 30))
    breach = pick(alerts, "resolution", "breach")
    doc = evidence(proc, alerts, breach["alert_id"])
    created, responded, pause, resume, handoff = (e["event_id"] for e in s.events)

    assert doc["alert_id"] == doc["explained"] == breach["alert_id"]
    assert (doc["ticket_id"], doc["clock"], doc["cycle"]) == ("T-1", "resolution", 1)
    assert (doc["kind"], doc["level"], doc["status"]) == ("breach", "minor", "standing")
    assert doc["retraction"] is None
    assert doc["due_at"] == utc(day(1, 12))
    assert doc["target_seconds"] == doc["elapsed_seconds"] == doc["counted_seconds"] == 28800
    assert doc["calendar"] == "business-cn"
    assert doc["rule"] == {
        "clock": "resolution",
        "calendar": "business-cn",
        "rule": "clocks.resolution.targets[0]",
        "when": {"category": ["simple"]},
        "target_seconds": 14400.0,
        "breach_seconds": 28800.0,
        "thresholds": [
            {"kind": "warning", "level": None, "seconds": 14400.0},
            {"kind": "breach", "level": "minor", "seconds": 28800.0},
            {"kind": "escalation", "level": "moderate", "seconds": 43200.0},
            {"kind": "escalation", "level": "severe", "seconds": 57600.0},
        ],
        "applied": {"kind": "breach", "level": "minor", "seconds": 28800.0},
        "policy_version": POLICY.version,
    }
    assert doc["policy_version"] == POLICY.version
    assert doc["responsible"] == A2
    assert doc["notified"] == [{"role": "agent", "who": "a-2"}]
    assert doc["attribution"] == [{**A1, "seconds": 12600.0}, {**A2, "seconds": 16200.0}]
    assert doc["caused_by"] == [created, pause, resume]

    assert [(e["event_id"], e["type"], e["caused_by"], e["after_due"]) for e in doc["events"]] == [
        (created, "created", True, False),
        (responded, "responded", False, False),
        (pause, "status_changed", True, False),
        (resume, "status_changed", True, False),
        (handoff, "assigned", False, False),
    ]
    assert doc["events"][0]["occurred_at"] == utc(day(0, 10))
    assert doc["events"][0]["fields"]["customer_ref"] is True
    assert "Wang" not in str(doc) and "+86" not in str(doc)

    resolution = [
        (i["state"], i["start"], i["end"], i["seconds"], i["holder"]["agent"])
        for i in doc["intervals"]
        if i["clock"] == "resolution"
    ]
    # open running interval: Mon 16:30-18:00 (1.5 h) + Tue 09:00-12:00 (3 h) by 12:30 = 16200 s
    assert resolution == [
        ("running", utc(day(0, 10)), utc(day(0, 11)), 3600.0, "a-1"),
        ("paused", utc(day(0, 11)), utc(day(0, 14)), 0.0, "a-1"),
        ("running", utc(day(0, 14)), utc(day(0, 16, 30)), 9000.0, "a-1"),
        ("running", utc(day(0, 16, 30)), None, 16200.0, "a-2"),
    ]
    first_response = [
        (i["state"], i["start"], i["end"], i["seconds"])
        for i in doc["intervals"]
        if i["clock"] == "first_response"
    ]
    assert first_response == [
        ("running", utc(day(0, 10)), utc(day(0, 10, 1)), 60.0),
        ("stopped", utc(day(0, 10, 1)), None, 0.0),
    ]
    assert {i["clock"] for i in doc["intervals"]} == {"first_response", "resolution"}

    assert [(b["start"], b["end"], b["seconds"], b["holder"]["agent"]) for b in doc["blocks"]] == [
        (utc(day(0, 10)), utc(day(0, 11)), 3600.0, "a-1"),  # 09:00-12:00, from 10:00, to pause
        (utc(day(0, 14)), utc(day(0, 16, 30)), 9000.0, "a-1"),  # 13:00-18:00, resumed 14:00
        (utc(day(0, 16, 30)), utc(day(0, 18)), 5400.0, "a-2"),
        (utc(day(1, 9)), utc(day(1, 12)), 10800.0, "a-2"),  # up to due_at
    ]
    # the attribution the alert carries is the blocks summed per holder
    per_agent: dict[str, float] = {}
    for b in doc["blocks"]:
        per_agent[b["holder"]["agent"]] = per_agent.get(b["holder"]["agent"], 0) + b["seconds"]
    assert per_agent == {x["agent"]: x["seconds"] for x in doc["attribution"]}

    assert doc["trail"] == []
    assert [a["alert_id"] for a in doc["announcements"]] == [breach["alert_id"]]
    assert doc["as_of"] == utc(day(1, 12, 30))


def test_warning_names_the_holder_at_its_instant() -> None:
    proc, alerts = replayed(_story().events, day(1, 12, 30))
    doc = evidence(proc, alerts, pick(alerts, "resolution", "warning")["alert_id"])
    assert doc["due_at"] == utc(day(0, 17))
    assert doc["rule"]["applied"] == {"kind": "warning", "level": None, "seconds": 14400.0}
    assert doc["attribution"] == [{**A1, "seconds": 12600.0}, {**A2, "seconds": 1800.0}]
    assert doc["blocks"][-1]["end"] == utc(day(0, 17))
    assert sum(b["seconds"] for b in doc["blocks"]) == 14400
    assert [e["after_due"] for e in doc["events"]] == [False] * 5


def _lifecycle() -> tuple[Story, list[str], dict[str, Any]]:
    """The story with an exemption request and rejection, then an appeal filed and decided
    (overturned) against the breach."""
    s = _story()
    _, first = replayed(s.events, day(1, 12, 5))
    breach = pick(first, "resolution", "breach")
    ids = [
        s.add("exemption_requested", day(1, 12, 10), clock="resolution", reason="customer away"),
        s.add("exemption_rejected", day(1, 12, 20), clock="resolution", reason="not_external"),
        s.add("appeal_filed", day(1, 12, 30), alert_id=breach["alert_id"], reason="customer_wait"),
        s.add(
            "appeal_decided",
            day(1, 13),
            alert_id=breach["alert_id"],
            outcome="overturned",
            reviewer="r-7",
            reason="the customer asked to wait",
        ),
    ]
    return s, ids, breach


def test_exemption_and_appeal_trail_links_request_decision_and_retractions() -> None:
    s, (req, rej, filed, decided), breach = _lifecycle()
    proc, alerts = replayed(s.events, day(1, 14))
    doc = evidence(proc, alerts, breach["alert_id"])
    retraction = next(a for a in alerts if a["kind"] == "retraction")
    assert doc["status"] == "retracted"
    assert doc["retraction"]["alert_id"] == retraction["alert_id"]
    assert doc["retraction"]["reason"] == "appeal_overturned"
    assert doc["retraction"]["caused_by"] == [decided]
    trail = [
        (t["event_id"], t["type"], t["clock"], t["cycle"], t["answers"], t["answered_by"])
        for t in doc["trail"]
    ]
    assert trail == [
        (req, "exemption_requested", "resolution", 1, None, rej),
        (rej, "exemption_rejected", "resolution", 1, req, None),
        (filed, "appeal_filed", "resolution", 1, None, decided),
        (decided, "appeal_decided", "resolution", 1, filed, None),
    ]
    last = doc["trail"][-1]
    # Free text is not kept (issue #11, privacy); a reason that is a code is.
    assert (last["outcome"], last["reviewer"], last["reason"]) == ("overturned", "r-7", NOT_KEPT)
    assert doc["trail"][2]["reason"] == "customer_wait"
    assert last["alert_id"] == breach["alert_id"]
    assert last["retracted"] == [
        {
            "retraction_id": retraction["alert_id"],
            "retracts": breach["alert_id"],
            "kind": "breach",
            "level": "minor",
        }
    ]
    assert [t["concerns_alert"] for t in doc["trail"]] == [False, False, True, True]
    assert [t["retracted"] for t in doc["trail"][:3]] == [[], [], []]
    assert doc["trail"][1]["reason"] == "not_external"
    # both the breach and its retraction stay on the record
    assert [(a["kind"], a["alert_id"]) for a in doc["announcements"]] == [
        ("breach", breach["alert_id"]),
        ("retraction", retraction["alert_id"]),
    ]
    # the retraction's id explains the breach it withdrew
    via = evidence(proc, alerts, retraction["alert_id"])
    assert via["alert_id"] == retraction["alert_id"]
    assert via["explained"] == breach["alert_id"]
    assert via["trail"] == doc["trail"]
    # events after the breach are listed and marked as later
    assert [e["after_due"] for e in doc["events"]] == [False] * 5 + [True] * 4


def test_granted_exemption_lists_every_alert_it_withdrew() -> None:
    # A at 10:00, unanswered: warning 10:01, breach 10:02, moderate 10:03, severe 10:04 are out
    # when stream time reaches 10:05; the exemption granted at 10:10 (requested at 10:06)
    # withdraws the breach and both escalations, not the warning.
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("assigned", day(0, 10, 5), agent="a-1")  # moves stream time; no hand-off
    req = s.add("exemption_requested", day(0, 10, 6), clock="first_response", reason="outage")
    grant = s.add("exemption_granted", day(0, 10, 10), clock="first_response", reason="outage")
    proc, alerts = replayed(s.events, day(0, 11))
    fired = {(a["kind"], a["level"]): a["alert_id"] for a in alerts if a["kind"] != "retraction"}
    doc = evidence(proc, alerts, fired[("escalation", "moderate")])
    assert doc["status"] == "retracted"
    assert doc["retraction"]["reason"] == "exempted"
    assert [(t["event_id"], t["answers"], t["answered_by"]) for t in doc["trail"]] == [
        (req, None, grant),
        (grant, req, None),
    ]
    assert {r["retracts"] for r in doc["trail"][1]["retracted"]} == {
        fired[("breach", "minor")],
        fired[("escalation", "moderate")],
        fired[("escalation", "severe")],
    }
    assert doc["trail"][1]["concerns_alert"] is True
    assert doc["notified"] == [
        {"role": "agent", "who": "a-1"},
        {"role": "supervisor", "who": "s-1"},
    ]
    warning = evidence(proc, alerts, fired[("warning", None)])
    assert warning["status"] == "standing"
    assert [t["concerns_alert"] for t in warning["trail"]] == [False, False]


def test_unknown_alert_id_is_refused() -> None:
    proc, alerts = replayed(_story().events, day(1, 12, 30))
    with pytest.raises(UnknownAlert):
        explain(proc.tickets["T-1"], alerts, "no-such-id", proc.clock)


def test_appeal_overturned_after_the_kpi_window_closed() -> None:
    # The breach (Tue 12:00) counts in the day window 2026-11-24, final once stream time is
    # past its end (Wed 00:00) plus the 1-day grace: Thu 00:00. The appeal is decided on
    # Friday 2026-11-27: the closed window's numbers change (the breach leaves them and the
    # cycle counts as overturned), it stays final, the appeal counts on Friday, and the trail
    # keeps both the breach and its retraction.
    s = _story()
    proc, alerts = replayed(s.events, day(3, 10))
    breach = pick(alerts, "resolution", "breach")
    store = KpiAggregate(POLICY, exact=True)
    store.advance(proc.clock)
    ticket = proc.tickets["T-1"]
    before = contributions(ticket)
    store.add(before)
    tue = by_key(store.snapshots())[("day", "2026-11-24", "overall", "all")]
    assert tue["final"] is True
    assert tue["metrics"]["breaches.minor"] == 1
    assert tue["metrics"]["sla.resolution.due"] == 1
    assert tue["metrics"]["sla.resolution.overturned"] == 0

    decided = s.add(
        "appeal_decided",
        day(4, 10),
        alert_id=breach["alert_id"],
        outcome="overturned",
        reviewer="r-7",
        reason="the customer asked to wait",
    )
    alerts.extend(proc.feed("T-1", ev_of(s.events[-1])))
    store.advance(proc.clock)
    store.replace(before, contributions(ticket))
    snaps = by_key(store.snapshots())
    tue = snaps[("day", "2026-11-24", "overall", "all")]
    assert tue["final"] is True
    assert tue["metrics"]["breaches.minor"] == 0
    assert tue["metrics"]["sla.resolution.due"] == 0
    assert tue["metrics"]["sla.resolution.overturned"] == 1
    assert snaps[("day", "2026-11-27", "overall", "all")]["metrics"]["appeals_overturned"] == 1

    doc = evidence(proc, alerts, breach["alert_id"])
    assert doc["status"] == "retracted"
    assert [a["kind"] for a in doc["announcements"]] == ["breach", "retraction"]
    assert doc["announcements"][1]["caused_by"] == [decided]
    assert [(t["event_id"], t["outcome"]) for t in doc["trail"]] == [(decided, "overturned")]
    # the moderate escalation (12 bh: Tue 12:00 + 4 bh = Tue 17:00) had fired before the
    # appeal and is withdrawn with the breach
    moderate = pick(alerts, "resolution", "escalation")
    assert moderate["due_at"] == utc(day(1, 17))
    assert moderate["alert_id"] in {r["retracts"] for r in doc["trail"][0]["retracted"]}
