"""A ticket's live SLA status at an instant: each clock of its current cycle with its state,
counted time, target, limit, next threshold and highest level reached.

`ticket_status(ticket, now)` is pure and leaves the ticket untouched: the thresholds due by
`now` that no timer has crossed yet are crossed on a copy of the numbers, exactly as
`ClockRun.advance` would cross them. The live worker (`sla.status`), the query API and
`replay --status` all call it, so the same ticket at the same instant gives the same bytes.
"""

from __future__ import annotations

from typing import Any

from engine.calendar import add_us
from engine.clocks import PAUSED, RUNNING, STOPPED, ClockRun
from engine.instant import iso, seconds
from engine.rules import Threshold
from engine.ticket import Ticket

FORMAT = 1
# `state` of a clock: open (running, paused) or how its cycle ended.
STATES = ("running", "paused", "stopped", "met", "breached")


def _level(th: Threshold) -> str:
    """The level a crossed threshold reaches: `warning`, or the breach/escalation level."""
    return th.level or th.kind


def _crossed_at(run: ClockRun, now: int) -> tuple[int, int | None]:
    """(thresholds crossed by `now`, instant of the next one or None), without changing `run`:
    the same steps as `ClockRun.advance`."""
    crossed, due = run.crossed, run.next_due
    if run.phase != RUNNING or run.target is None:
        return crossed, None if run.phase != RUNNING else due
    ths = run.target.thresholds
    while due is not None and due <= now:
        crossed += 1
        if crossed < len(ths):
            due = add_us(run.rule.calendar, due, ths[crossed].at_us - ths[crossed - 1].at_us)
        else:
            due = None
    return crossed, due


def _state(run: ClockRun, breached: bool, stop_type: str | None) -> str:
    if run.phase == RUNNING:
        return "running"
    if run.phase == PAUSED:
        return "paused"
    if breached:
        return "breached"
    if stop_type is not None and any(t.type == stop_type for t in run.rule.stop):
        return "met"
    return "stopped"  # ended otherwise, e.g. the ticket was closed first


def clock_status(
    run: ClockRun, now: int, exempt: bool, stop_type: str | None = None
) -> dict[str, Any]:
    """One clock of the current cycle at `now` (a started clock: `run.cycle` ≥ 1)."""
    target = run.target
    ths = target.thresholds if target is not None else ()
    crossed, due = _crossed_at(run, now)
    counted = run.counted(max(now, run.since))
    warning = next((t for t in ths if t.kind == "warning"), None)
    breach = next((t for t in ths if t.kind == "breach"), None)
    breached = breach is not None and any(t.kind == "breach" for t in ths[:crossed])
    nxt = ths[crossed] if crossed < len(ths) and run.phase != STOPPED else None
    return {
        "clock": run.rule.name,
        "cycle": run.cycle,
        "state": _state(run, breached, stop_type),
        "breached": breached,
        "exempt": exempt,
        "calendar": run.rule.calendar.name,
        "rule": target.rule if target is not None else None,
        "counted_seconds": seconds(counted),
        "target_seconds": seconds(warning.at_us) if warning is not None else None,
        "limit_seconds": seconds(breach.at_us) if breach is not None else None,
        "remaining_seconds": seconds(breach.at_us - counted) if breach is not None else None,
        "highest_level": _level(ths[crossed - 1]) if crossed else None,
        "next": None
        if nxt is None
        else {
            "kind": nxt.kind,
            "level": nxt.level,
            "at_seconds": seconds(nxt.at_us),
            "due_at": iso(due) if due is not None else None,
        },
        "_due": due,
    }


def _stop_types(ticket: Ticket) -> dict[str, str]:
    """Event id → type of the events that stopped a clock (only looked up for stopped ones)."""
    wanted = {r.caused_by[-1] for r in ticket.state.runs if r.phase == STOPPED and r.caused_by}
    if not wanted:
        return {}
    return {e.id: e.type for e in ticket.history if e.id in wanted}


def ticket_status(ticket: Ticket, now: int) -> dict[str, Any]:
    """The ticket's SLA status at instant `now` (µs): JSON-ready, no personal data (the state
    holds none), keys in a fixed order."""
    return _status(ticket, now)[0]


def _status(ticket: Ticket, now: int) -> tuple[dict[str, Any], list[int | None]]:
    """The status and, for each of its clocks, the instant of its next threshold (None when
    it is not running or has none left)."""
    state = ticket.state
    attrs = state.attrs
    stop_types = _stop_types(ticket)
    clocks = []
    for run in state.runs:
        if run.cycle == 0:
            continue
        stopper = stop_types.get(run.caused_by[-1]) if run.phase == STOPPED else None
        exempt = (run.rule.name, run.cycle) in state.exempt
        clocks.append(clock_status(run, now, exempt, stopper))
    dues: list[int | None] = [c.pop("_due") for c in clocks]
    pending = [d for d in dues if d is not None]
    agent, supervisor, team, department = state.holder()
    last = ticket.last_event_at()
    status = {
        "v": FORMAT,
        "ticket_id": ticket.ticket_id,
        "as_of": iso(now),
        "status": attrs.get("status"),
        "priority": attrs.get("priority"),
        "category": attrs.get("category"),
        "channel": attrs.get("channel"),
        "product_line": attrs.get("product_line"),
        "holder": {
            "agent": agent,
            "supervisor": supervisor,
            "team": team,
            "department": department,
        },
        "last_event_at": iso(last) if last is not None else None,
        "next_due_at": iso(min(pending)) if pending else None,
        "policy_version": state.policy.version,
        "clocks": clocks,
    }
    return status, dues


def upcoming(ticket: Ticket, now: int, until: int) -> list[tuple[int, dict[str, Any]]]:
    """The ticket's running clocks whose next threshold is due by `until` (µs), as
    (due instant, at-risk entry) pairs: what `GET /at-risk` lists. Only those clocks' status
    is computed (the list's walk calls this for every ticket it reads)."""
    state = ticket.state
    out = []
    head: dict[str, Any] | None = None
    for run in state.runs:
        if run.phase != RUNNING or run.next_due is None or run.next_due > until:
            continue  # next_due only moves later as thresholds are crossed
        _crossed, due = _crossed_at(run, now)
        if due is None or due > until:
            continue
        if head is None:
            agent, _supervisor, team, _department = state.holder()
            head = {
                "ticket_id": ticket.ticket_id,
                "priority": state.attrs.get("priority"),
                "holder": {"team": team, "agent": agent},
            }
        exempt = (run.rule.name, run.cycle) in state.exempt
        clock = clock_status(run, now, exempt)
        clock.pop("_due")
        out.append((due, risk_entry(head, clock)))
    return out


def risk_entry(status: dict[str, Any], clock: dict[str, Any]) -> dict[str, Any]:
    """One line of an at-risk list: the clock, its next threshold and the ticket's holder."""
    nxt = clock["next"]
    holder = status["holder"]
    return {
        "ticket_id": status["ticket_id"],
        "clock": clock["clock"],
        "cycle": clock["cycle"],
        "kind": nxt["kind"],
        "level": nxt["level"],
        "due_at": nxt["due_at"],
        "counted_seconds": clock["counted_seconds"],
        "limit_seconds": clock["limit_seconds"],
        "remaining_seconds": clock["remaining_seconds"],
        "highest_level": clock["highest_level"],
        "priority": status["priority"],
        "team": holder["team"],
        "agent": holder["agent"],
    }
