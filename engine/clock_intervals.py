"""One pass over a ticket's history for `explain`: every clock's running, paused and stopped
intervals (split where the holder changed) with the clock time each running one counted, the
cycle of each exemption event, the target in force at the alert's due instant; and the
calendar's working blocks that counted up to it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from zoneinfo import ZoneInfo

from engine.calendar import Calendar, blocks, elapsed_us
from engine.clocks import IDLE, PHASES, RUNNING, STOPPED, Holder
from engine.evaluate import TicketEval
from engine.evidence import Block, Interval
from engine.history import Ev
from engine.instant import from_us
from engine.rules import RuntimePolicy, Target

EXEMPTION_EVENTS = ("exemption_requested", "exemption_granted", "exemption_rejected")


@dataclass(slots=True)
class _Open:
    """The stretch a clock is in since `start`: its cycle, phase and holder."""

    cycle: int
    phase: int
    start: int
    holder: Holder


@dataclass(slots=True)
class Walk:
    """One pass over the history: clock intervals, cycles of exemption events, targets."""

    intervals: list[Interval] = field(default_factory=list)
    exemption_cycle: dict[str, int] = field(default_factory=dict)  # event id -> cycle
    target_at_due: Target | None = None
    events: list[Ev] = field(default_factory=list)


def walk_history(
    history: Sequence[Ev], policy: RuntimePolicy, now: int, clock: str, cycle: int, due: int
) -> Walk:
    """The history in (occurred_at, event_id) order, once, as of `now`; `clock`, `cycle`
    and `due` name the alert explained (whose target at `due` is kept)."""
    walk = Walk()
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


def calendar_named(policy: RuntimePolicy, clock: str, name: str) -> Calendar:
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
