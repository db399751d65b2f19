"""What-if (issue 7): the same history under two policies, checked against hand-computed
instants.

The new policy is the default one with B's first response shortened from warning 180 s /
limit 300 s to 60 s / 120 s; the default grading puts the escalations at 150 % and 200 % of the
limit: moderate 450 s → 180 s, severe 600 s → 240 s. A and C keep 60/120 s and 300/600 s.
Times are Shanghai wall times on Monday 2026-11-23 (UTC = CST − 8 h); `until` is 10:30, long
before any resolution threshold (4 business hours from 10:00 is 15:00).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from config.loader import DEFAULT_POLICY, compile_policy, load, parse
from engine.history import Ev, from_model
from engine.instant import to_us
from engine.processor import Processor
from engine.rules import RuntimePolicy
from engine.whatif import compare, evaluate
from schemas.parse import parse_event

CST = timezone(timedelta(hours=8))
DEFAULT = load()
B_DEFAULT = "      - {when: {priority: B}, target: 180s, limit: 300s}"
B_FAST = "      - {when: {priority: B}, target: 60s, limit: 120s}"


def b_fast() -> RuntimePolicy:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    assert text.count(B_DEFAULT) == 1
    return compile_policy(parse(text.replace(B_DEFAULT, B_FAST), "b-fast.yaml"))


B_FAST_POLICY = b_fast()


def at(hour: int, minute: int, sec: int = 0) -> datetime:
    return datetime(2026, 11, 23, hour, minute, sec, tzinfo=CST)


def utc(hour: int, minute: int, sec: int = 0) -> str:
    """The alert's `due_at` text of a Shanghai wall time that day."""
    return at(hour, minute, sec).astimezone(UTC).isoformat()


def ev(eid: str, ticket: str, type_: str, when: datetime, **fields: Any) -> tuple[str, Ev]:
    raw = {"event_id": eid, "ticket_id": ticket, "type": type_, "occurred_at": when.isoformat()}
    event = parse_event(orjson.dumps(raw | fields))
    return event.ticket_id, from_model(event)


def created(ticket: str, priority: str, when: datetime) -> tuple[str, Ev]:
    return ev(
        f"{ticket}-1",
        ticket,
        "created",
        when,
        priority=priority,
        category="simple",
        channel="phone",
        team="team-1",
        agent="a-1",
        supervisor="s-1",
        department="after-sales",
    )


def responded(ticket: str, when: datetime, eid: str | None = None) -> tuple[str, Ev]:
    return ev(eid or f"{ticket}-2", ticket, "responded", when)


# Four tickets created at 10:00:00, answered after (A) 90 s, (B1) 150 s, (B2) 360 s, (C) 400 s.
HISTORY = [
    created("T-A1", "A", at(10, 0)),
    created("T-B1", "B", at(10, 0)),
    created("T-B2", "B", at(10, 0)),
    created("T-C1", "C", at(10, 0)),
    responded("T-A1", at(10, 1, 30)),
    responded("T-B1", at(10, 2, 30)),
    responded("T-B2", at(10, 6)),
    responded("T-C1", at(10, 6, 40)),
]
UNTIL = to_us(at(10, 30))


def group(report: dict[str, Any], kind: str, level: str | None) -> dict[str, Any]:
    found = [g for g in report["changes"] if (g["kind"], g["level"]) == (kind, level)]
    assert len(found) == 1, report["changes"]
    return found[0]


def test_shorter_b_first_response_adds_one_breach_and_moves_another() -> None:
    report = compare(HISTORY, DEFAULT, B_FAST_POLICY, UNTIL, examples=5)
    # Baseline: A1 warning 10:01:00 (60 s); B2 warning 10:03:00 (180 s) and breach 10:05:00
    # (300 s; moderate at 450 s is after its answer at 360 s); C1 warning 10:05:00 (300 s).
    # B1 answered at 150 s: nothing. New: B1 warning 10:01:00, breach 10:02:00 (answered at
    # 150 s: no moderate at 180 s); B2 warning 10:01:00, breach 10:02:00, moderate 10:03:00,
    # severe 10:04:00 (answered at 360 s).
    assert report["baseline"]["standing"] == {"warning": 3, "breach": 1, "escalation": 0}
    assert report["new"]["standing"] == {"warning": 4, "breach": 2, "escalation": 2}
    assert [(g["clock"], g["priority"], g["kind"], g["level"]) for g in report["changes"]] == [
        ("first_response", "B", "warning", None),
        ("first_response", "B", "breach", "minor"),
        ("first_response", "B", "escalation", "moderate"),
        ("first_response", "B", "escalation", "severe"),
    ]
    warning = group(report, "warning", None)
    assert (warning["appeared"], warning["disappeared"], warning["moved"]) == (1, 0, 1)
    assert warning["examples"] == {
        "appeared": [
            {
                "ticket_id": "T-B1",
                "cycle": 1,
                "due_before": None,
                "due_after": utc(10, 1),
                "shift_seconds": None,
            }
        ],
        "moved": [
            {
                "ticket_id": "T-B2",
                "cycle": 1,
                "due_before": utc(10, 3),
                "due_after": utc(10, 1),
                "shift_seconds": -120.0,
            }
        ],
    }
    breach = group(report, "breach", "minor")
    assert (breach["appeared"], breach["disappeared"], breach["moved"]) == (1, 0, 1)
    assert breach["moved_earlier"] == 1 and breach["moved_later"] == 0
    assert breach["shift_seconds"] == {"min": -180.0, "max": -180.0}
    assert breach["examples"]["appeared"][0]["ticket_id"] == "T-B1"
    assert breach["examples"]["appeared"][0]["due_after"] == utc(10, 2)
    moved = breach["examples"]["moved"][0]
    assert (moved["ticket_id"], moved["due_before"], moved["due_after"]) == (
        "T-B2",
        utc(10, 5),
        utc(10, 2),
    )
    assert moved["shift_seconds"] == -180.0
    moderate = group(report, "escalation", "moderate")
    assert (moderate["appeared"], moderate["moved"]) == (1, 0)
    assert moderate["examples"]["appeared"][0]["due_after"] == utc(10, 3)
    severe = group(report, "escalation", "severe")
    assert (severe["appeared"], severe["moved"]) == (1, 0)
    assert severe["examples"]["appeared"][0]["due_after"] == utc(10, 4)
    # Warnings are counted apart from breaches and escalations; A1's and C1's stand unchanged.
    assert report["summary"] == {
        "warning": {"appeared": 1, "disappeared": 0, "moved": 1, "unchanged": 2},
        "breach": {"appeared": 1, "disappeared": 0, "moved": 1, "unchanged": 0},
        "escalation": {"appeared": 2, "disappeared": 0, "moved": 0, "unchanged": 0},
    }
    assert report["input"] == {"events": 8, "tickets": 4}
    assert report["clock"] == utc(10, 30)
    assert report["baseline"]["policy_version"] == DEFAULT.version
    assert report["new"]["policy_version"] == B_FAST_POLICY.version != DEFAULT.version


def test_kpi_changes_are_the_hand_computed_ones() -> None:
    kpis = compare(HISTORY, DEFAULT, B_FAST_POLICY, UNTIL)["kpis"]
    # First response, 4 decided cycles. Met = stopped without a breach: baseline A1, B1, C1
    # (3/4 = 0.75); new A1, C1 (B1 now breached at 120 s: 2/4 = 0.5). No other clock decided.
    expected = {
        "sla.all.due": {"before": 4, "after": 4, "delta": 0},
        "sla.all.met": {"before": 3, "after": 2, "delta": -1},
        "sla.all.attainment": {"before": 0.75, "after": 0.5, "delta": -0.25},
        "breaches.minor": {"before": 1, "after": 2, "delta": 1},
        "breaches.moderate": {"before": 0, "after": 1, "delta": 1},
        "breaches.severe": {"before": 0, "after": 1, "delta": 1},
        "sla.first_response.due": {"before": 4, "after": 4, "delta": 0},
        "sla.first_response.met": {"before": 3, "after": 2, "delta": -1},
        "sla.first_response.attainment": {"before": 0.75, "after": 0.5, "delta": -0.25},
        "breaches.first_response.minor": {"before": 1, "after": 2, "delta": 1},
        "breaches.first_response.moderate": {"before": 0, "after": 1, "delta": 1},
        "breaches.first_response.severe": {"before": 0, "after": 1, "delta": 1},
    }
    assert kpis["all"] == expected
    assert kpis["months"] == [{"month": "2026-11", "metrics": expected}]


def test_identical_policies_give_no_differences() -> None:
    for policy in (DEFAULT, B_FAST_POLICY):
        report = compare(HISTORY, policy, policy, UNTIL)
        assert report["changes"] == []
        assert all(
            counts[c] == 0
            for counts in report["summary"].values()
            for c in ("appeared", "disappeared", "moved")
        )
        assert (
            sum(counts["unchanged"] for counts in report["summary"].values())
            == sum(report["new"]["standing"].values())
            > 0
        )
        assert all(row["delta"] == 0 for row in report["kpis"]["all"].values())
    # The same content from another file (comments do not count): the same version, no change.
    text = "# a comment\n" + DEFAULT_POLICY.read_text(encoding="utf-8")
    again = compile_policy(parse(text, "copy.yaml"))
    assert again.version == DEFAULT.version
    assert compare(HISTORY, DEFAULT, again, UNTIL)["changes"] == []


def test_the_other_way_round_decisions_disappear_and_move_later() -> None:
    report = compare(HISTORY, B_FAST_POLICY, DEFAULT, UNTIL)
    breach = group(report, "breach", "minor")
    assert (breach["appeared"], breach["disappeared"], breach["moved"]) == (0, 1, 1)
    assert breach["moved_later"] == 1 and breach["shift_seconds"] == {"min": 180.0, "max": 180.0}
    gone = breach["examples"]["disappeared"][0]
    assert (gone["ticket_id"], gone["due_before"], gone["due_after"]) == ("T-B1", utc(10, 2), None)
    assert report["summary"]["escalation"] == {
        "appeared": 0,
        "disappeared": 2,
        "moved": 0,
        "unchanged": 0,
    }
    assert report["kpis"]["all"]["sla.all.attainment"] == {
        "before": 0.5,
        "after": 0.75,
        "delta": 0.25,
    }


def test_a_retracted_alert_is_not_a_standing_decision() -> None:
    # T-B3 (B) is created at 10:00; T-X's events move stream time to 10:10:30, so every
    # threshold of T-B3 fires; then T-B3's answer, at 10:01:30, arrives late.
    history = [
        created("T-B3", "B", at(10, 0)),
        created("T-X", "C", at(10, 10)),
        responded("T-X", at(10, 10, 30)),
        responded("T-B3", at(10, 1, 30)),
    ]
    until = to_us(at(10, 30))
    # Both policies did announce a breach for T-B3 before the late answer retracted it.
    for policy in (DEFAULT, B_FAST_POLICY):
        proc = Processor(policy)
        alerts = [a for t, e in history for a in proc.ingest(t, e)]
        kinds = [a["kind"] for a in alerts if a["ticket_id"] == "T-B3"]
        assert "breach" in kinds and "retraction" in kinds
    # Baseline: warning 10:03 and the rest were all after the answer: nothing stands.
    assert evaluate(history, DEFAULT, until).standing == {}
    # New: the warning at 10:01:00 came before the answer and stands; the breach (10:02) and
    # escalations (10:03, 10:04) were retracted.
    report = compare(history, DEFAULT, B_FAST_POLICY, until)
    assert report["new"]["standing"] == {"warning": 1, "breach": 0, "escalation": 0}
    assert [(g["kind"], g["appeared"], g["moved"]) for g in report["changes"]] == [
        ("warning", 1, 0)
    ]
    assert report["changes"][0]["examples"]["appeared"][0]["due_after"] == utc(10, 1)
    assert report["kpis"]["all"]["breaches.minor"] == {"before": 0, "after": 0, "delta": 0}


def test_examples_are_capped_and_ordered_by_ticket() -> None:
    # Three B tickets answered after 200 s: each breaches (120 s) only under the new policy.
    history = [created(t, "B", at(10, 0)) for t in ("T-9", "T-3", "T-5")]
    history += [responded(t, at(10, 3, 20)) for t in ("T-9", "T-3", "T-5")]
    report = compare(history, DEFAULT, B_FAST_POLICY, UNTIL, examples=2)
    breach = group(report, "breach", "minor")
    assert breach["appeared"] == 3
    assert [x["ticket_id"] for x in breach["examples"]["appeared"]] == ["T-3", "T-5"]
    none = compare(history, DEFAULT, B_FAST_POLICY, UNTIL, examples=0)
    assert all(g["examples"] == {} for g in none["changes"])
    assert group(none, "breach", "minor")["appeared"] == 3


def test_same_input_same_report_bytes() -> None:
    one = orjson.dumps(compare(HISTORY, DEFAULT, B_FAST_POLICY, UNTIL), option=orjson.OPT_SORT_KEYS)
    two = orjson.dumps(compare(HISTORY, DEFAULT, B_FAST_POLICY, UNTIL), option=orjson.OPT_SORT_KEYS)
    assert one == two


def test_without_until_pending_thresholds_do_not_fire() -> None:
    # T-B4 is never answered; the last event is its creation at 10:00, so the clock stays
    # there: nothing fires under either policy unless `until` moves the clock.
    history = [created("T-B4", "B", at(10, 0))]
    report = compare(history, DEFAULT, B_FAST_POLICY, None)
    assert report["changes"] == [] and report["until"] is None
    assert report["clock"] == utc(10, 0)
    later = compare(history, DEFAULT, B_FAST_POLICY, to_us(at(10, 2, 30)))
    # By 10:02:30: baseline nothing (warning at 10:03); new warning 10:01 and breach 10:02.
    assert [(g["kind"], g["appeared"]) for g in later["changes"]] == [
        ("warning", 1),
        ("breach", 1),
    ]
    assert compare([], DEFAULT, B_FAST_POLICY, None)["clock"] is None
