"""`engine.status`: a ticket's SLA status at an instant equals the replay's state there (the
worked week at three instants, to the µs), whether or not its timers have fired; clock states."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.loader import load
from engine.history import Ev, from_model
from engine.instant import iso, to_us
from engine.processor import Processor
from engine.rules import RuntimePolicy
from engine.status import STATES, ticket_status, upcoming
from engine.ticket import Ticket
from schemas.parse import parse_event
from tests.worked_week import WEEK

CST = timezone(timedelta(hours=8))
INSTANTS = (
    "2026-11-24T10:30:00+08:00",  # a Tuesday morning, business hours
    "2026-11-26T12:31:07.654321+08:00",  # lunch break: business clocks stand still
    "2026-11-29T03:00:00+08:00",  # a Sunday night
)


@pytest.fixture(scope="module")
def policy() -> RuntimePolicy:
    return load(None)


@pytest.fixture(scope="module")
def week() -> list[tuple[str, Ev]]:
    out = []
    for line in WEEK.read_bytes().splitlines():
        if line.strip():
            event = parse_event(line)
            out.append((event.ticket_id, from_model(event)))
    return out


def _live(events: list[tuple[str, Ev]], policy: RuntimePolicy) -> dict[str, Ticket]:
    """Each ticket as a worker holds it after its own events: no timer fired since."""
    tickets: dict[str, Ticket] = {}
    for ticket_id, ev in events:
        ticket = tickets.setdefault(ticket_id, Ticket.new(ticket_id, policy))
        ticket.step(ev, ev.at, ev.at)
    return tickets


@pytest.mark.parametrize("instant", INSTANTS)
def test_status_of_every_ticket_equals_the_replay_state_at_the_instant(
    instant: str, week: list[tuple[str, Ev]], policy: RuntimePolicy
) -> None:
    now = to_us(datetime.fromisoformat(instant))
    before = [(t, ev) for t, ev in week if ev.at <= now]
    proc = Processor(policy)
    for ticket_id, ev in before:
        proc.ingest(ticket_id, ev)
    proc.advance(now)
    live = _live(before, policy)
    assert proc.tickets and set(live) == set(proc.tickets)
    states: set[str] = set()
    for ticket_id, replayed in proc.tickets.items():
        status = ticket_status(live[ticket_id], now)
        assert status == ticket_status(replayed, now), ticket_id
        runs = [r for r in replayed.state.runs if r.cycle]
        assert [c["clock"] for c in status["clocks"]] == [r.rule.name for r in runs]
        for clock, run in zip(status["clocks"], runs, strict=True):
            states.add(clock["state"])
            # counted seconds to the microsecond
            assert round(clock["counted_seconds"] * 1_000_000) == run.counted(max(now, run.since))
            assert clock["cycle"] == run.cycle
            ths = run.target.thresholds if run.target else ()
            crossed = ths[run.crossed - 1] if run.crossed else None
            expected = (crossed.level or crossed.kind) if crossed else None
            assert clock["highest_level"] == expected, (ticket_id, clock["clock"])
            due = clock["next"]["due_at"] if clock["next"] else None
            assert due == (iso(run.next_due) if run.next_due is not None else None)
    assert {"running", "met"} <= states <= set(STATES)


@pytest.mark.parametrize("instant", INSTANTS)
def test_upcoming_is_the_running_clocks_of_the_status_due_in_the_window(
    instant: str, week: list[tuple[str, Ev]], policy: RuntimePolicy
) -> None:
    now = to_us(datetime.fromisoformat(instant))
    live = _live([(t, ev) for t, ev in week if ev.at <= now], policy)
    listed = 0
    for window in (15 * 60, 4 * 3600, 3 * 86400):
        until = now + window * 1_000_000
        for ticket in live.values():
            status = ticket_status(ticket, now)
            expected = [
                (c["clock"], c["next"]["kind"], c["next"]["due_at"], c["counted_seconds"])
                for c in status["clocks"]
                if c["state"] == "running"
                and c["next"] is not None
                and to_us(datetime.fromisoformat(c["next"]["due_at"])) <= until
            ]
            got = upcoming(ticket, now, until)
            assert [
                (e["clock"], e["kind"], e["due_at"], e["counted_seconds"]) for _, e in got
            ] == expected
            assert all(
                iso(due) == e["due_at"] and e["team"] == status["holder"]["team"] for due, e in got
            )
            listed += len(got)
    assert listed > 0


def test_replay_and_live_agree_on_the_whole_week_at_its_end(
    week: list[tuple[str, Ev]], policy: RuntimePolicy
) -> None:
    now = to_us(datetime(2026, 12, 5, tzinfo=CST))
    proc = Processor(policy)
    for ticket_id, ev in week:
        proc.ingest(ticket_id, ev)
    proc.advance(now)
    live = _live(week, policy)
    for ticket_id, replayed in proc.tickets.items():
        assert ticket_status(live[ticket_id], now) == ticket_status(replayed, now)


T0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)  # a Monday, inside business hours


def at(seconds: float) -> int:
    return to_us(T0 + timedelta(seconds=seconds))


def _clock(ticket: Ticket, now: int, name: str) -> dict[str, object]:
    return next(c for c in ticket_status(ticket, now)["clocks"] if c["clock"] == name)


def _ticket(policy: RuntimePolicy, *events: Ev) -> Ticket:
    ticket = Ticket.new("T1", policy)
    for ev in events:
        ticket.step(ev, ev.at, ev.at)
    return ticket


def test_clock_states_met_breached_stopped_paused(policy: RuntimePolicy) -> None:
    created = Ev(at(0), "e1", "created", {"priority": "A", "category": "simple", "team": "t-1"})
    met = _ticket(policy, created, Ev(at(30), "e2", "responded", {}))
    assert _clock(met, at(60), "first_response")["state"] == "met"
    late = _ticket(policy, created, Ev(at(150), "e2", "responded", {}))
    fr = _clock(late, at(300), "first_response")
    assert (fr["state"], fr["highest_level"], fr["breached"]) == ("breached", "minor", True)
    closed = _ticket(policy, created, Ev(at(30), "e2", "closed", {}))
    assert _clock(closed, at(60), "first_response")["state"] == "stopped"
    paused = _ticket(
        policy, created, Ev(at(30), "e2", "status_changed", {"status": "pending_customer"})
    )
    res = _clock(paused, at(3600), "resolution")
    assert res["state"] == "paused"
    assert res["counted_seconds"] == 30.0
    assert res["next"] == {"kind": "warning", "level": None, "at_seconds": 14400.0, "due_at": None}


def test_status_crosses_due_thresholds_without_changing_the_ticket(policy: RuntimePolicy) -> None:
    created = Ev(at(0), "e1", "created", {"priority": "A", "category": "simple", "team": "t-1"})
    ticket = _ticket(policy, created)
    fr = _clock(ticket, at(150), "first_response")
    assert fr["highest_level"] == "minor"  # breach at 120 s, no timer fired yet
    assert fr["remaining_seconds"] == -30.0
    assert fr["next"]["kind"] == "escalation"
    assert fr["next"]["due_at"] == iso(at(180))  # moderate at 150 % of 120 s
    assert ticket.state.decisions == [] and ticket.next_due() == at(60)
    risks = upcoming(ticket, at(50), at(70))
    assert [(due, r["clock"], r["kind"], r["team"]) for due, r in risks] == [
        (at(60), "first_response", "warning", "t-1")
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=40 * 3600), st.integers(min_value=0, max_value=3600))
def test_status_is_the_same_before_and_after_the_timers_fire(offset: int, extra: int) -> None:
    policy = load(None)
    created = Ev(at(0), "e1", "created", {"priority": "B", "category": "complex"})
    ticket = _ticket(policy, created, Ev(at(offset), "e2", "responded", {}))
    now = at(offset + extra)
    before = ticket_status(ticket, now)
    ticket.tick(now, now)
    assert ticket_status(ticket, now) == before
