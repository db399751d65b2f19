"""`evaluate(history, policy, now)`: a ticket's SLA state and every decision due by `now`.

The state is a left fold of the ticket's events in (occurred_at, event_id) order. Between events
a running clock crosses its thresholds on its calendar; `advance` carries the fold forward to an
instant without an event (a timer firing). Events that arrive in order extend the fold; anything
earlier than what has been folded means a refold from the sorted history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.clocks import (
    PAUSED,
    RUNNING,
    STOPPED,
    ClockRun,
    Context,
    CycleEnd,
    Decision,
    Holder,
)
from engine.history import Ev
from engine.rules import ClockRule, RuntimePolicy, any_fires
from schemas.attributes import HOLDER_ROLES, TICKET_ATTRS

ATTRS = TICKET_ATTRS
_ATTR_SET = frozenset(ATTRS)
ATTRIBUTES_PREFIX = "attributes."  # source-system attributes (`attributes: {tier: vip}`)
_HOLDER_INPUTS = frozenset(HOLDER_ROLES)


@dataclass(slots=True, init=False)
class TicketEval:
    """A ticket's SLA state as of `horizon` (the latest instant folded). `__init__` is written
    out, with the fields' defaults as declared, for mypyc to compile (as `ClockRun`'s)."""

    policy: RuntimePolicy
    attrs: dict[str, str | None] = field(default_factory=dict)
    runs: list[ClockRun] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    exempt: dict[tuple[str, int], str] = field(default_factory=dict)  # (clock, cycle) -> event id
    overturned: dict[str, str] = field(default_factory=dict)  # alert id -> appeal event id
    reopens: int = 0  # `reopened` events folded (spec §5: a reopen is counted)
    last: tuple[int, str] = (-(2**62), "")  # key of the last event folded
    horizon: int = -(2**62)
    soonest: int | None = None  # derived: the earliest next_due of any run
    # Cycles that started with no target matching the ticket (clock, cycle, event id): not
    # tracked against a threshold, reported (`sla_clocks_untargeted_total`, replay summary).
    untargeted: list[tuple[str, int, str]] = field(default_factory=list)
    # Cycles stopped and not resumed, in stop order (the KPIs' SLA attainment reads them);
    # a tuple, so a ticket whose clocks never stop allocates nothing for it.
    finished: tuple[CycleEnd, ...] = ()

    def __init__(self, policy: RuntimePolicy, attrs: dict[str, str | None] | None = None) -> None:
        self.policy = policy
        self.attrs = {} if attrs is None else attrs
        if policy.later:
            # every clock of every version, each starting from its first definition
            first: dict[str, ClockRule] = {}
            for version in reversed(policy.versions()):
                first.update((c.name, c) for c in version.clocks)
            self.runs = [ClockRun(first[name]) for name in policy.clock_names()]
        else:
            self.runs = [ClockRun(rule) for rule in policy.clocks]
        self.decisions = []
        self.exempt = {}
        self.overturned = {}
        self.reopens = 0
        self.last = (-(2**62), "")
        self.horizon = -(2**62)
        self.soonest = None
        self.untargeted = []
        self.finished = ()

    def context(self) -> Context:
        a = self.attrs
        return tuple.__new__(Context, (a.get("priority"), self.holder()))  # see `history.Ev`

    def holder(self) -> Holder:
        """Who has the ticket now: agent, supervisor, team, department."""
        a = self.attrs
        return (a.get("agent"), a.get("supervisor"), a.get("team"), a.get("department"))

    def accepts_in_order(self, ev: Ev) -> bool:
        """True when `ev` can extend the fold; otherwise the history must be refolded."""
        return ev.key > self.last and ev.at >= self.horizon

    def advance(self, t: int) -> None:
        """Carry the fold to instant `t`: running clocks cross the thresholds due by then."""
        if t <= self.horizon:
            return
        for run in self.runs:
            if run.next_due is not None and run.next_due <= t:
                run.advance(t, self.context(), self.decisions.append)
        self.horizon = t

    def apply(self, ev: Ev) -> None:
        """Fold one event that is in order (see `accepts_in_order`)."""
        if ev.at > self.horizon:
            self.advance(ev.at)
        self.last = (ev.at, ev.id)  # Ev.key
        data, attrs = ev.data, self.attrs
        inputs = self.policy.target_inputs
        retarget = handoff = False
        for name, value in data.items():
            if name in _ATTR_SET and attrs.get(name) != value:
                attrs[name] = value
                retarget = retarget or name in inputs
                handoff = handoff or name in _HOLDER_INPUTS
        extra = data.get("attributes")
        if extra:
            for key, value in extra.items():
                name = ATTRIBUTES_PREFIX + key
                if attrs.get(name) != value:
                    attrs[name] = value
                    retarget = retarget or name in inputs
        if handoff:
            holder = self.holder()
            for run in self.runs:
                if run.phase == RUNNING:
                    run.handoff(ev.at, holder)
        policy = self.policy.at(ev.at) if self.policy.later else self.policy
        status_now = policy.status_on.get(ev.type)
        if status_now is not None and ev.type != "status_changed":
            attrs["status"] = status_now
        if ev.type == "reopened":
            self.reopens += 1
        if ev.type == "exemption_granted":
            self._exempt(ev)
        elif ev.type == "appeal_decided" and data.get("outcome") == "overturned":
            self.overturned[str(data.get("alert_id"))] = ev.id
        self._clocks(ev, retarget, policy)
        self._refresh()

    def _refresh(self) -> None:
        soonest = None
        for run in self.runs:
            due = run.next_due
            if due is not None and (soonest is None or due < soonest):
                soonest = due
        self.soonest = soonest

    def _exempt(self, ev: Ev) -> None:
        name = ev.data.get("clock")
        for run in self.runs:
            if run.rule.name == name:
                cycle = ev.data.get("cycle") or run.cycle
                if cycle:
                    self.exempt[(run.rule.name, int(cycle))] = ev.id

    def _clocks(self, ev: Ev, retarget: bool, policy: RuntimePolicy) -> None:
        """Start, stop, pause, resume and retarget the clocks for one event. A running, paused
        or stopped cycle follows the rule of the version it started under; an idle or stopped
        clock starts a new cycle under the version in force at the event (`policy`)."""
        t, attrs, etype = ev.at, self.attrs, ev.type
        status = attrs.get("status")
        stop_all = etype in policy.stop_all_on
        versioned = bool(self.policy.later)
        for run in self.runs:
            rule = run.rule
            named = etype in rule.event_types
            phase = run.phase
            if phase != RUNNING and phase != PAUSED:
                if not named and not versioned:
                    continue  # a clock this event cannot start (most of them, most events)
            else:
                if stop_all or (named and any_fires(rule.stop, etype, attrs)):
                    self.finished += (run.stop(t, ev.id),)
                    continue
                if retarget:
                    new = rule.target_for(attrs)
                    if new is not run.target:
                        run.retarget(t, ev.id, new, self.context(), self.decisions.append)
                        if new is None:
                            self.untargeted.append((rule.name, run.cycle, ev.id))
                paused = status in rule.pause_statuses
                if phase == RUNNING and paused:
                    run.pause(t, ev.id)
                elif phase == PAUSED and not paused:
                    run.unpause(t, ev.id, self.holder())
                continue
            if phase == STOPPED and named and any_fires(rule.resume, etype, attrs):
                self._unfinish(rule.name, run.cycle)
                run.target = rule.target_for(attrs)
                run.resume(t, ev.id, status in rule.pause_statuses, self.holder())
                continue
            if versioned:
                current = policy.find_clock(rule.name)
                if current is None:
                    continue  # the clock is not in the version in force
                rule = current
            if etype not in rule.event_types or not any_fires(rule.start, etype, attrs):
                continue
            run.rule = rule
            target = rule.target_for(attrs)
            calendar = rule.calendar_for(attrs) if rule.calendars else None
            run.start(t, ev.id, target, status in rule.pause_statuses, self.holder(), calendar)
            if target is None:
                self.untargeted.append((rule.name, run.cycle, ev.id))

    def _unfinish(self, clock: str, cycle: int) -> None:
        """A stopped cycle resumes (a reopen): it is no longer finished."""
        self.finished = tuple(e for e in self.finished if (e.clock, e.cycle) != (clock, cycle))

    def fire(self, now: int) -> None:
        """Cross every threshold due by `now` (a timer firing). The horizon moves only to the
        latest threshold crossed, so events stamped after it still extend the fold in order."""
        if self.soonest is None or self.soonest > now:
            return
        ctx = self.context()
        emit = self.decisions.append
        for run in self.runs:
            if run.next_due is not None and run.next_due <= now:
                run.advance(now, ctx, emit)
                self.horizon = max(self.horizon, self.decisions[-1].due)
        self._refresh()

    def open_clocks(self, now: int, risk_share: float = 0.8) -> list[tuple[str, bool]]:
        """Each running or paused clock as (name, at risk): at risk when not yet breached and
        its counted time has reached `risk_share` of the breach threshold by `now`."""
        out = []
        for run in self.runs:
            if run.phase not in (RUNNING, PAUSED):
                continue
            at_risk = False
            target = run.target
            if target is not None:
                breach = next((t for t in target.thresholds if t.kind == "breach"), None)
                crossed_breach = any(t.kind == "breach" for t in target.thresholds[: run.crossed])
                if breach is not None and not crossed_breach:
                    at_risk = run.counted(max(now, run.since)) >= breach.at_us * risk_share
            out.append((run.rule.name, at_risk))
        return out

    def next_due(self) -> int | None:
        """The earliest instant at which a running clock crosses its next threshold."""
        return self.soonest


def fold(history: Iterable[Ev], policy: RuntimePolicy) -> TicketEval:
    """The state after the ticket's events, ordered by (occurred_at, event_id), repeats ignored."""
    state = TicketEval(policy)
    seen: set[str] = set()
    for ev in sorted(history, key=lambda e: e.key):
        if ev.id in seen:
            continue
        seen.add(ev.id)
        state.apply(ev)
    return state


def evaluate(
    history: Iterable[Ev], policy: RuntimePolicy, now: int
) -> tuple[TicketEval, list[Decision]]:
    """The ticket's SLA state as of `now` and every decision whose threshold instant is ≤ `now`."""
    state = fold(history, policy)
    state.fire(now)
    return state, [d for d in state.decisions if d.due <= now]
