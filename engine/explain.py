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
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from engine.calendar import Calendar, blocks, elapsed_us
from engine.clocks import IDLE, PHASES, RUNNING, STOPPED, Holder
from engine.evaluate import TicketEval, evaluate
from engine.history import Ev
from engine.instant import from_us, iso, seconds, to_us
from engine.rules import RuntimePolicy, Target
from engine.ticket import Ticket
from schemas.attributes import HOLDER_ROLES

EXEMPTION_EVENTS = ("exemption_requested", "exemption_granted", "exemption_rejected")
APPEAL_EVENTS = ("appeal_filed", "appeal_decided")
DECISIONS = {"exemption_granted", "exemption_rejected", "appeal_decided"}


class UnknownAlert(LookupError):
    """The alert id is not among the alerts the replay emitted for the ticket."""

    def __init__(self, alert_id: str) -> None:
        super().__init__(f"alert {alert_id!r} was not emitted")
        self.alert_id = alert_id


def holder_dict(h: Holder) -> dict[str, str | None]:
    """A holder tuple as the `{agent, supervisor, team, department}` object of the outputs."""
    return dict(zip(HOLDER_ROLES, h, strict=True))


@dataclass(frozen=True, slots=True)
class EventLine:
    """One event of the ticket as evaluation saw it (no personal data is kept)."""

    event_id: str
    type: str
    at: int
    fields: Mapping[str, Any]
    caused_by: bool  # named in the alert's caused_by
    after_due: bool  # later than the threshold instant (it cannot have caused it)

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": iso(self.at),
            "fields": dict(self.fields),
            "caused_by": self.caused_by,
            "after_due": self.after_due,
        }


@dataclass(frozen=True, slots=True)
class Interval:
    """A stretch of one clock cycle in one phase under one holder; `end` None = still so."""

    clock: str
    cycle: int
    state: str  # running | paused | stopped
    start: int
    end: int | None
    counted_us: int  # clock µs counted in it (up to `now` when open); 0 unless running
    holder: Holder

    def to_dict(self) -> dict[str, Any]:
        return {
            "clock": self.clock,
            "cycle": self.cycle,
            "state": self.state,
            "start": iso(self.start),
            "end": iso(self.end) if self.end is not None else None,
            "seconds": seconds(self.counted_us),
            "holder": holder_dict(self.holder),
        }


@dataclass(frozen=True, slots=True)
class Block:
    """A calendar working block (or the part of it the clock ran in) that counted."""

    start: int
    end: int
    holder: Holder

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": iso(self.start),
            "end": iso(self.end),
            "seconds": seconds(self.end - self.start),
            "holder": holder_dict(self.holder),
        }


@dataclass(frozen=True, slots=True)
class RuleApplied:
    """The policy rule behind the alert's threshold."""

    clock: str
    calendar: str
    rule: str  # e.g. clocks.resolution.targets[0]
    when: Mapping[str, tuple[str, ...]]  # the selector: ticket attribute -> accepted values
    thresholds: tuple[tuple[str, str | None, int], ...]  # (kind, level, clock µs)
    applied: tuple[str, str | None, int]  # the threshold the alert announces
    policy_version: str

    def to_dict(self) -> dict[str, Any]:
        def step(t: tuple[str, str | None, int]) -> dict[str, Any]:
            return {"kind": t[0], "level": t[1], "seconds": seconds(t[2])}

        warning = next((t for t in self.thresholds if t[0] == "warning"), None)
        breach = next((t for t in self.thresholds if t[0] == "breach"), None)
        return {
            "clock": self.clock,
            "calendar": self.calendar,
            "rule": self.rule,
            "when": {k: list(v) for k, v in self.when.items()},
            "target_seconds": seconds(warning[2]) if warning else None,
            "breach_seconds": seconds(breach[2]) if breach else None,
            "thresholds": [step(t) for t in self.thresholds],
            "applied": step(self.applied),
            "policy_version": self.policy_version,
        }


@dataclass(frozen=True, slots=True)
class TrailEntry:
    """An exemption or appeal event of the alert's clock cycle and what it did."""

    event_id: str
    type: str
    at: int
    clock: str | None
    cycle: int | None
    alert_id: str | None  # appeals: the alert named
    outcome: str | None
    reviewer: str | None
    reason: str | None
    answers: str | None  # a decision: the request it answers (event id)
    answered_by: str | None  # a request: the decision that answered it (event id)
    retractions: tuple[Mapping[str, Any], ...]  # retraction alerts this event caused
    concerns_alert: bool  # names the explained alert or withdrew it

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "occurred_at": iso(self.at),
            "clock": self.clock,
            "cycle": self.cycle,
            "alert_id": self.alert_id,
            "outcome": self.outcome,
            "reviewer": self.reviewer,
            "reason": self.reason,
            "answers": self.answers,
            "answered_by": self.answered_by,
            "retracted": [
                {
                    "retraction_id": r["alert_id"],
                    "retracts": r["retracts"],
                    "kind": r["retracted_kind"],
                    "level": r["level"],
                }
                for r in self.retractions
            ],
            "concerns_alert": self.concerns_alert,
        }


@dataclass(slots=True)
class Evidence:
    """The evidence chain of one alert; `to_dict` is the `explain --json` document."""

    asked: str  # the id asked about (a retraction's id explains the alert it withdrew)
    alert: Mapping[str, Any]  # the alert explained, as emitted
    retraction: Mapping[str, Any] | None  # what withdrew it, if anything did
    announcements: list[Mapping[str, Any]]  # every alert and retraction of the same decision
    rule: RuleApplied | None
    due: int
    counted_us: int  # clock µs of the cycle at `due` per the ticket's history as now known
    events: list[EventLine]
    intervals: list[Interval]
    blocks: list[Block]
    trail: list[TrailEntry]
    now: int
    notified: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "retracted" if self.retraction is not None else "standing"

    def to_dict(self) -> dict[str, Any]:
        a = self.alert
        return {
            "alert_id": self.asked,
            "explained": a["alert_id"],
            "ticket_id": a["ticket_id"],
            "clock": a["clock"],
            "cycle": a["cycle"],
            "kind": a["kind"],
            "level": a["level"],
            "status": self.status,
            "retraction": dict(self.retraction) if self.retraction is not None else None,
            "due_at": a["due_at"],
            "target_seconds": a["target_seconds"],
            "elapsed_seconds": a["elapsed_seconds"],
            "counted_seconds": seconds(self.counted_us),
            "calendar": a["calendar"],
            "rule": self.rule.to_dict() if self.rule is not None else None,
            "responsible": a["responsible"],
            "notified": self.notified,
            "attribution": a.get("attribution", []),
            "caused_by": a["caused_by"],
            "events": [e.to_dict() for e in self.events],
            "intervals": [i.to_dict() for i in self.intervals],
            "blocks": [b.to_dict() for b in self.blocks],
            "trail": [t.to_dict() for t in self.trail],
            "announcements": [_announcement(x) for x in self.announcements],
            "policy_version": a["policy_version"],
            "as_of": iso(self.now),
        }


def _announcement(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "alert_id": a["alert_id"],
        "kind": a["kind"],
        "detected_at": a["detected_at"],
        "retracts": a.get("retracts"),
        "reason": a.get("reason"),
        "caused_by": a["caused_by"],
        "responsible": a["responsible"],
    }


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


@dataclass(slots=True)
class _Open:
    cycle: int
    phase: int
    start: int
    holder: Holder


@dataclass(slots=True)
class _Walk:
    """One pass over the history: clock intervals, cycles of exemption events, targets."""

    intervals: list[Interval] = field(default_factory=list)
    exemption_cycle: dict[str, int] = field(default_factory=dict)  # event id -> cycle
    target_at_due: Target | None = None
    events: list[Ev] = field(default_factory=list)


def _walk(
    history: Sequence[Ev], policy: RuntimePolicy, now: int, clock: str, cycle: int, due: int
) -> _Walk:
    walk = _Walk()
    state = TicketEval(policy)
    opened: dict[str, _Open] = {}
    seen: set[str] = set()
    cals = {r.rule.name: r.cal for r in state.runs}

    def close(name: str, o: _Open, end: int | None) -> None:
        if end is not None and end <= o.start:
            return  # several events at one instant: no time in between
        counted = 0
        if o.phase == RUNNING:
            counted = elapsed_us(cals[name], o.start, now if end is None else end)
        walk.intervals.append(
            Interval(name, o.cycle, PHASES[o.phase], o.start, end, counted, o.holder)
        )

    for ev in sorted(history, key=lambda e: e.key):
        if ev.id in seen:
            continue
        seen.add(ev.id)
        walk.events.append(ev)
        if ev.type in EXEMPTION_EVENTS:
            named = ev.data.get("clock")
            run = next((r for r in state.runs if r.rule.name == named), None)
            c = ev.data.get("cycle") or (run.cycle if run is not None else 0)
            walk.exemption_cycle[ev.id] = int(c)
        state.apply(ev)
        holder = state.holder()
        for run in state.runs:
            name = run.rule.name
            if run.phase == IDLE:
                continue
            if name not in opened or opened[name].cycle != run.cycle:
                cals[name] = run.cal  # a new cycle: its own calendar
            if name == clock and run.cycle == cycle and ev.at <= due:
                walk.target_at_due = run.target
            h = run.holder if run.phase == RUNNING else holder
            o = opened.get(name)
            if o is not None and (o.cycle, o.phase, o.holder) == (run.cycle, run.phase, h):
                continue
            if (
                o is not None
                and o.phase == STOPPED
                and run.phase == STOPPED
                and o.cycle == run.cycle
            ):
                continue  # a stopped clock does not change hands
            if o is not None:
                close(name, o, ev.at)
            opened[name] = _Open(run.cycle, run.phase, ev.at, h)
    for name, o in opened.items():
        close(name, o, None)
    order = {r.name: i for i, r in enumerate(policy.clocks)}
    walk.intervals.sort(key=lambda i: (order[i.clock], i.start, i.cycle))
    return walk


def _calendar_named(policy: RuntimePolicy, clock: str, name: str) -> Calendar:
    """The calendar an alert names among the clock's (per-ticket) calendars."""
    rule = policy.find_clock(clock) or policy.clock(clock)
    for choice in rule.calendars:
        if choice.calendar.name == name:
            return choice.calendar
    return rule.calendar


def counted_blocks(cal: Calendar, running: Sequence[Interval], due: int) -> list[Block]:
    """The calendar's working blocks, cut to the running intervals before `due`."""
    zone = ZoneInfo(cal.tz)
    out: list[Block] = []
    for iv in running:
        lo, hi = iv.start, min(due if iv.end is None else iv.end, due)
        if hi <= lo:
            continue
        day = from_us(lo).astimezone(zone).date()
        last = from_us(hi - 1).astimezone(zone).date()
        while day <= last:
            for start, end in blocks(cal, day):
                a, b = max(start, lo), min(end, hi)
                if b > a:
                    out.append(Block(a, b, iv.holder))
            day += timedelta(days=1)
    return out


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
    walk = _walk(history, policy, now, clock, cycle, due)
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

    cal = _calendar_named(version, clock, alert["calendar"])
    running = [
        i for i in walk.intervals if i.clock == clock and i.cycle == cycle and i.state == "running"
    ]
    counted = counted_blocks(cal, running, due)
    caused = set(alert["caused_by"])
    events = [
        EventLine(ev.id, ev.type, ev.at, ev.data, ev.id in caused, ev.at > due)
        for ev in walk.events
    ]
    trail = _trail(walk, emitted, clock, cycle, chain)
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


def _trail(
    walk: _Walk,
    emitted: Sequence[Mapping[str, Any]],
    clock: str,
    cycle: int,
    chain: set[str],
) -> list[TrailEntry]:
    """Exemption events of (clock, cycle) and appeals naming an alert of that cycle, in event
    order, each request linked to the decision that answered it."""
    cycle_ids = {
        a["alert_id"]
        for a in emitted
        if a["kind"] != "retraction" and a["clock"] == clock and a["cycle"] == cycle
    }
    caused: dict[str, list[Mapping[str, Any]]] = {}
    for a in emitted:
        if a["kind"] == "retraction" and a.get("reason") in ("exempted", "appeal_overturned"):
            for by in a["caused_by"]:
                caused.setdefault(by, []).append(a)
    picked: list[Ev] = []
    for ev in walk.events:
        d = ev.data
        if ev.type in EXEMPTION_EVENTS:
            if d.get("clock") == clock and walk.exemption_cycle.get(ev.id) == cycle:
                picked.append(ev)
        elif ev.type in APPEAL_EVENTS and d.get("alert_id") in cycle_ids:
            picked.append(ev)
    answers: dict[str, str] = {}
    answered_by: dict[str, str] = {}
    pending: list[Ev] = []
    for ev in picked:
        if ev.type in ("exemption_requested", "appeal_filed"):
            pending.append(ev)
            continue
        for req in pending:
            same = (ev.type in EXEMPTION_EVENTS and req.type == "exemption_requested") or (
                ev.type == "appeal_decided"
                and req.type == "appeal_filed"
                and req.data.get("alert_id") == ev.data.get("alert_id")
            )
            if same:
                answers[ev.id], answered_by[req.id] = req.id, ev.id
                pending.remove(req)
                break
    out = []
    for ev in picked:
        d = ev.data
        retractions = tuple(caused.get(ev.id, ()))
        is_exemption = ev.type in EXEMPTION_EVENTS
        out.append(
            TrailEntry(
                event_id=ev.id,
                type=ev.type,
                at=ev.at,
                clock=d.get("clock", clock) if is_exemption else clock,
                cycle=walk.exemption_cycle.get(ev.id) if is_exemption else cycle,
                alert_id=d.get("alert_id"),
                outcome=d.get("outcome"),
                reviewer=d.get("reviewer"),
                reason=d.get("reason"),
                answers=answers.get(ev.id),
                answered_by=answered_by.get(ev.id),
                retractions=retractions,
                concerns_alert=d.get("alert_id") in chain
                or any(r.get("retracts") in chain for r in retractions),
            )
        )
    return out


def _us(text: str) -> int:
    return to_us(datetime.fromisoformat(text))
