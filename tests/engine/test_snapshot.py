"""The stored SLA state snapshot (`engine.snapshot`): loading a ticket restores its state without
refolding the history, and the ticket then goes on exactly as one never stored (hypothesis);
state stored before snapshots (format 1) is still read, and written in the new format."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import orjson
import pytest
from hypothesis import given

from config.loader import DEFAULT_POLICY, compile_policy, parse
from engine import evaluate as evaluate_module
from engine.evaluate import TicketEval
from engine.ticket import FORMAT, Ticket
from tests.engine.test_properties import POLICY, SETTINGS, ev_of, ticket_ops


def state_of(state: TicketEval) -> dict[str, Any]:
    """Every field of the state, the clock runs field by field (rules and targets by identity)."""
    out: dict[str, Any] = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if f.name == "runs":
            value = [{g.name: _ident(getattr(r, g.name)) for g in fields(r)} for r in state.runs]
        out[f.name] = value
    return out


def _ident(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, int | str):
        return ("object", id(value))
    return value


def v1(ticket: Ticket) -> bytes:
    """What format 1 stored for this ticket: history, ledger and horizon, no snapshot."""
    d = orjson.loads(ticket.to_bytes())
    return orjson.dumps({"v": 1, "t": d["t"], "h": d["h"], "l": d["l"], "z": d["z"]})


def run_ops(ops: list[tuple[str, Any]], ticket: Ticket, now: int) -> tuple[list[Any], int]:
    trace: list[Any] = []
    for kind, arg in ops:
        if kind == "event":
            ev = ev_of(arg)
            now = max(now, ev.at)
            out = ticket.step(ev, now, now)
        else:
            now = max(now, arg)
            out = ticket.tick(now, now)
        trace.append((out, ticket.next_due(), ticket.to_bytes()))
    return trace, now


@SETTINGS
@given(ops_split=ticket_ops())
def test_snapshot_restore_then_continue_is_never_stored(
    ops_split: tuple[list[tuple[str, Any]], int],
) -> None:
    ops, split = ops_split
    plain = Ticket.new("T0", POLICY)
    _, now = run_ops(ops[:split], plain, -(2**62))
    raw = plain.to_bytes()
    refolds: list[int] = []
    real_fold = evaluate_module.fold
    with pytest.MonkeyPatch.context() as m:
        m.setattr("engine.ticket.fold", lambda h, p: refolds.append(1) or real_fold(h, p))
        restored = Ticket.from_bytes(raw, POLICY)
    assert not refolds  # the snapshot was used, the history not refolded
    assert state_of(restored.state) == state_of(plain.state)
    assert restored.to_bytes() == raw
    # ... and from there on it is the ticket that was never stored, byte for byte
    assert run_ops(ops[split:], restored, now)[0] == run_ops(ops[split:], plain, now)[0]


@SETTINGS
@given(ops_split=ticket_ops())
def test_state_stored_in_format_1_is_read_and_written_in_the_new_format(
    ops_split: tuple[list[tuple[str, Any]], int],
) -> None:
    ops, split = ops_split
    plain = Ticket.new("T0", POLICY)
    _, now = run_ops(ops[:split], plain, -(2**62))
    old = Ticket.from_bytes(v1(plain), POLICY)
    assert orjson.loads(old.to_bytes())["v"] == FORMAT
    again = Ticket.from_bytes(old.to_bytes(), POLICY)
    plain_after = run_ops(ops[split:], plain, now)[0]
    assert [t[:2] for t in run_ops(ops[split:], old, now)[0]] == [t[:2] for t in plain_after]
    assert [t[:2] for t in run_ops(ops[split:], again, now)[0]] == [t[:2] for t in plain_after]


def test_a_snapshot_of_another_policy_is_refolded() -> None:
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    edited_text = text.replace(
        "{when: {priority: A}, target: 60s, limit: 120s}",
        "{when: {priority: A}, target: 30s, limit: 60s}",
    )
    assert edited_text != text
    edited = compile_policy(parse(edited_text))
    ticket = Ticket.new("T0", POLICY)
    ev = ev_of(
        {
            "event_id": "e1",
            "ticket_id": "T0",
            "type": "created",
            "occurred_at": "2026-11-23T09:00:00+08:00",
            "priority": "A",
        }
    )
    ticket.step(ev, ev.at, ev.at)
    raw = ticket.to_bytes()
    under_edited = Ticket.from_bytes(raw, edited)
    assert under_edited.next_due() == evaluate_module.fold(ticket.history, edited).next_due()
    assert under_edited.next_due() != ticket.next_due()  # the edited targets count, not the old
    assert Ticket.from_bytes(raw, POLICY).next_due() == ticket.next_due()
