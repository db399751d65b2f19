"""The retention rule, once: which events are refused and when a closed ticket is dropped."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from config.loader import load
from engine.history import from_model
from engine.instant import iso
from engine.retention import deadline, expired, horizon_us, too_old
from engine.ticket import Ticket
from schemas.parse import parse_event

POLICY = load(None)
T0 = int(datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp() * 1_000_000)
MINUTE = 60_000_000


def ticket(*kinds: str) -> Ticket:
    """A ticket created at T0, then `kinds` a minute apart."""
    t = Ticket.new("R-1", POLICY)
    bodies = [
        {"event_id": "R-1-0", "ticket_id": "R-1", "type": "created", "priority": "A",
         "occurred_at": iso(T0)},
        *({"event_id": f"R-1-{i}", "ticket_id": "R-1", "type": k,
           "occurred_at": iso(T0 + i * MINUTE)} for i, k in enumerate(kinds, start=1)),
    ]  # fmt: skip
    for body in bodies:
        ev = from_model(parse_event(orjson.dumps(body)))
        t.step(ev, ev.at, ev.at)
    return t


@given(st.floats(0.001, 400), st.integers(-(10**12), 10**12))
def test_an_event_is_too_old_exactly_when_it_precedes_the_horizon(days: float, skew: int) -> None:
    wall = T0
    at = wall - horizon_us(days) + skew
    reason = too_old(at, wall, days)
    assert (reason is not None) == (skew < 0)
    if reason is not None:
        assert reason.startswith(f"occurred_at {iso(at)} is older than the retention horizon")
        assert f"(--retention-days {days:g})" in reason


def test_a_closed_ticket_is_due_and_expires_at_the_end_of_its_retention() -> None:
    closed = ticket("responded", "resolved", "closed")
    end = T0 + 3 * MINUTE + horizon_us(35)
    assert deadline(closed, 35) == end
    assert not expired(closed, end - 1, horizon_us(35))
    assert expired(closed, end, horizon_us(35))


def test_an_open_ticket_never_expires() -> None:
    open_ = ticket()
    assert deadline(open_, 35) == open_.next_due() is not None
    assert not expired(open_, T0 + 10 * horizon_us(35), horizon_us(35))
