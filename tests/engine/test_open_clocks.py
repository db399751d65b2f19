"""`TicketEval.open_clocks`: which clocks run and which are close to their breach (metrics)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from config.loader import load
from engine.evaluate import fold
from engine.history import Ev
from engine.instant import to_us

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=CST)  # a Monday, inside business hours


def at(seconds: float) -> int:
    return to_us(T0 + timedelta(seconds=seconds))


def test_first_response_is_at_risk_from_80_percent_of_its_limit() -> None:
    policy = load(None)
    created = Ev(at(0), "e1", "created", {"priority": "A", "category": "simple"})
    state = fold([created], policy)
    # A: breach at 120 s, so at risk from 96 s; resolution (simple, 8 bh limit) is far from it.
    assert dict(state.open_clocks(at(95))) == {"first_response": False, "resolution": False}
    assert dict(state.open_clocks(at(96))) == {"first_response": True, "resolution": False}


def test_a_breached_or_stopped_clock_is_not_at_risk() -> None:
    policy = load(None)
    created = Ev(at(0), "e1", "created", {"priority": "A", "category": "simple"})
    state = fold([created], policy)
    state.fire(at(130))  # breach crossed at 120 s
    assert dict(state.open_clocks(at(130)))["first_response"] is False
    responded = Ev(at(140), "e2", "responded", {})
    state = fold([created, responded], policy)
    assert "first_response" not in dict(state.open_clocks(at(150)))
