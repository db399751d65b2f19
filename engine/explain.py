"""The evidence chain of one alert (accountability rules: every decision is traceable).

`explain(ticket, emitted, alert_id, now)` is pure: from a ticket as a replay left it (history,
SLA state, ledger), the alerts emitted for it in emission order and an alert id, it rebuilds

- the ticket's events in (occurred_at, event_id) order, marking those the alert names;
- every clock's running, paused and stopped intervals (split where the holder changed), with
  the clock seconds each running interval counted;
- the calendar's working blocks that counted toward the alert's cycle up to `due_at`, each
  with the holder at the time (their seconds sum to the clock time counted at `due_at`);
- the target rule applied (clock, calendar, selector, thresholds, the grading step crossed,
  policy version), the responsible holder, who was notified and the time attribution;
- the exemption and appeal trail of the alert's clock cycle: request → decision → the
  retractions it caused (alert ids), and every announcement of the same decision.

A retraction's id explains the alert it withdrew. Times are µs internally; `to_dict` gives
ISO 8601 UTC instants and seconds, like the alerts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.clock_intervals import calendar_named, counted_blocks, walk_history
from engine.evaluate import evaluate
from engine.evidence import EventLine, Evidence, RuleApplied
from engine.exemption_trail import trail_of
from engine.instant import to_us
from engine.rules import RuntimePolicy, Target
from engine.ticket import Ticket


class UnknownAlert(LookupError):
    """The alert id is not among the alerts the replay emitted for the ticket."""

    def __init__(self, alert_id: str) -> None:
        super().__init__(f"alert {alert_id!r} was not emitted")
        self.alert_id = alert_id


def _decision_key(a: Mapping[str, Any]) -> tuple[str, int, str, str | None, str]:
    kind = a["retracted_kind"] if a["kind"] == "retraction" else a["kind"]
    return (a["clock"], a["cycle"], kind, a["level"], a["due_at"])


def notified(alert: Mapping[str, Any]) -> list[dict[str, str | None]]:
    """The roles the alert notifies and who holds each: `department_manager` names the
    department (its manager is not a field of the events)."""
    r = alert["responsible"]
    who = {
        "agent": r.get("agent"),
        "supervisor": r.get("supervisor"),
        "department_manager": r.get("department"),
    }
    return [{"role": role, "who": who.get(role)} for role in alert["notify"]]


def _rule(
    policy: RuntimePolicy,
    clock: str,
    kind: str,
    level: str | None,
    threshold_us: int,
    target: Target | None,
    alert_calendar: str = "",
) -> RuleApplied | None:
    if target is None:
        return None
    rule = policy.clock(clock)
    calendar = alert_calendar or rule.calendar.name
    steps = tuple((t.kind, t.level, t.at_us) for t in target.thresholds)
    applied = next(
        (s for s in steps if s[0] == kind and s[1] == level), (kind, level, threshold_us)
    )
    return RuleApplied(
        clock=clock,
        calendar=calendar,
        rule=target.rule,
        when={k: tuple(sorted(v)) for k, v in sorted(target.when.items())},
        thresholds=steps,
        applied=applied,
        policy_version=policy.version,
    )


def explain(
    ticket: Ticket, emitted: Sequence[Mapping[str, Any]], alert_id: str, now: int
) -> Evidence:
    """The evidence chain of `alert_id`, one of `emitted` (the ticket's alerts and
    retractions in emission order, as a replay up to the clock `now` produced them)."""
    by_id = {a["alert_id"]: a for a in emitted}
    asked = by_id.get(alert_id)
    if asked is None:
        raise UnknownAlert(alert_id)
    alert = asked
    if asked["kind"] == "retraction":
        alert = by_id.get(asked["retracts"], asked)
    policy = ticket.state.policy
    clock, cycle, kind, level = alert["clock"], alert["cycle"], alert["kind"], alert["level"]
    if kind == "retraction":  # the withdrawn alert was not among `emitted`
        kind = alert["retracted_kind"]
    due = _us(alert["due_at"])
    retraction = next(
        (
            a
            for a in emitted
            if a["kind"] == "retraction" and a.get("retracts") == alert["alert_id"]
        ),
        None,
    )
    key = _decision_key(alert)
    announcements = [a for a in emitted if _decision_key(a) == key]
    chain = {a["alert_id"] for a in announcements if a["kind"] != "retraction"}

    history = ticket.history
    walk = walk_history(history, policy, now, clock, cycle, due)
    _, decisions = evaluate(history, policy, now)
    decision = next((d for d in decisions if d.key == (clock, cycle, kind, level, due)), None)
    target = walk.target_at_due
    version = policy.by_version(alert["policy_version"]) if policy.later else policy
    found = version.find_clock(clock) or policy.clock(clock)
    if decision is not None:
        target = next((t for t in found.targets if t.rule == decision.rule), target)
    rule = _rule(
        version, clock, kind, level, round(alert["target_seconds"] * 1e6), target, alert["calendar"]
    )

    cal = calendar_named(version, clock, alert["calendar"])
    running = [
        i for i in walk.intervals if i.clock == clock and i.cycle == cycle and i.state == "running"
    ]
    counted = counted_blocks(cal, running, due)
    caused = set(alert["caused_by"])
    events = [
        EventLine(ev.id, ev.type, ev.at, ev.data, ev.id in caused, ev.at > due)
        for ev in walk.events
    ]
    trail = trail_of(walk, emitted, clock, cycle, chain)
    return Evidence(
        asked=alert_id,
        alert=alert,
        retraction=retraction,
        announcements=announcements,
        rule=rule,
        due=due,
        counted_us=sum(b.end - b.start for b in counted),
        events=events,
        intervals=walk.intervals,
        blocks=counted,
        trail=trail,
        now=now,
        notified=notified(alert),
    )


def _us(text: str) -> int:
    return to_us(datetime.fromisoformat(text))
