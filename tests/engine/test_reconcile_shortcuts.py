"""`engine.alerts.reconcile`'s shortcuts (nothing new, one new decision, a ticket's first
decision, several new ones all due) announce exactly what the full comparison (`_full`) would:
the same alerts and retractions, byte for byte, in file order and in late arrival orders."""

from __future__ import annotations

import copy
import dataclasses
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


def _copy(value: Any) -> Any:
    """A deep copy of a ticket's mutable state that shares the policy's frozen rule objects (a
    compiled frozen dataclass cannot be rebuilt by `copy.deepcopy`, and needs no copy)."""
    memo: dict[int, Any] = {}
    todo: list[Any] = [POLICY]
    while todo:
        part = todo.pop()
        if id(part) in memo or isinstance(part, (str, int, float, bytes, type(None))):
            continue
        memo[id(part)] = part
        if dataclasses.is_dataclass(part):
            todo += [getattr(part, f.name) for f in dataclasses.fields(part)]
        elif isinstance(part, (tuple, frozenset)):
            todo += list(part)
        elif isinstance(part, dict):
            todo += [*part.keys(), *part.values()]
    return copy.deepcopy(value, memo)


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
    t = ticket.Ticket.new("T0", POLICY)
    out: list[dict[str, Any]] = []
    for e in events:
        out += t.step(ev_of(e), FAR, FAR)
    assert out and t.ledger.entries
    (first, *_) = t.state.decisions
    moved = first._replace(due=first.due + 1)  # another key: what a late event's refold gives
    t.state.decisions = [moved]
    expected_ledger = _copy(t.ledger)
    expected = alerts._full("T0", _copy(t.state), expected_ledger, FAR, FAR, "late")
    got = alerts.reconcile("T0", t.state, t.ledger, FAR, FAR, "late", 0)
    assert got == expected
    assert [a["kind"] for a in got[0]].count("retraction") == len(out)


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
