"""`engine.alerts.reconcile`'s shortcuts (nothing new, one new decision, a ticket's first
decision, several new ones all due) announce exactly what the full comparison (`_full`) would:
the same alerts and retractions, byte for byte, in file order and in late arrival orders."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import alerts, ticket
from engine.alerts import Ledger
from engine.evaluate import TicketEval
from tests.engine.test_properties import (
    POLICY,
    SETTINGS,
    arrival,
    as_bytes,
    ev_of,
    run,
    workloads,
)


def _full_only(
    ticket_id: str,
    state: TicketEval,
    ledger: Ledger,
    now: int,
    detected_at: int,
    cause: str | None = None,
    settled: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """`reconcile` with every shortcut taken out."""
    if not state.decisions and not ledger.entries:
        return [], 0
    return alerts._full(ticket_id, state, ledger, now, detected_at, cause)


@SETTINGS
@given(workloads(), st.data())
def test_shortcuts_say_what_the_full_comparison_says(
    workload: tuple[list[dict[str, Any]], int], data: st.DataObject
) -> None:
    events, until = workload
    for order in (events, data.draw(arrival(events))):
        fast = as_bytes(run(order, until))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ticket, "reconcile", _full_only)
            full = as_bytes(run(order, until))
        assert fast == full


def test_one_decision_against_a_ledger_that_announced_another() -> None:
    """A refold left one decision and the ledger still stands by another: the first-decision
    shortcut does not apply (the other is retracted, as `_full` says)."""
    events, _ = _one_ticket()
    t, out = _moved_ticket(events)
    twin, _ = _moved_ticket(events)  # the same state built again: `_full` may change its own
    expected = alerts._full("T0", twin.state, twin.ledger, FAR, FAR, "late")
    got = alerts.reconcile("T0", t.state, t.ledger, FAR, FAR, "late", 0)
    assert got == expected
    assert [a["kind"] for a in got[0]].count("retraction") == len(out)


def _moved_ticket(events: list[dict[str, Any]]) -> tuple[ticket.Ticket, list[dict[str, Any]]]:
    """A ticket whose one decision moved to another key after it was announced."""
    t = ticket.Ticket.new("T0", POLICY)
    out: list[dict[str, Any]] = []
    for e in events:
        out += t.step(ev_of(e), FAR, FAR)
    assert out and t.ledger.entries
    (first, *_) = t.state.decisions
    t.state.decisions = [first._replace(due=first.due + 1)]  # what a late event's refold gives
    return t, out


FAR = 1_798_761_600_000_000  # 2027-01-01 UTC: every threshold of the ticket is due


def _one_ticket() -> tuple[list[dict[str, Any]], int]:
    created = {
        "event_id": "T0-00",
        "ticket_id": "T0",
        "type": "created",
        "occurred_at": "2026-11-23T08:00:00+08:00",
        "priority": "A",
        "category": "simple",
        "channel": "phone",
    }
    return [created], FAR
