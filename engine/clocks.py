"""One SLA clock of one ticket: a small state machine over event time.

A clock runs in cycles. Within a cycle it counts calendar time while running, not while paused
or stopped, and crosses its thresholds (warning, breach, escalations) in order. Only the next
threshold's due instant is computed, lazily, so the cost per event is a calendar call or two.

A cycle that stops is recorded as a `CycleEnd` (met or breached, the stop instant, the clock
time counted, the target): the KPIs' SLA attainment reads these, never a second fold.

The clock time counted is also split by holder (agent, supervisor, team, department): a hand-off
while the clock runs closes the holder's running segment, and every decision carries the
cycle's clock time per holder up to its threshold (the cross-department rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from engine.calendar import Calendar, add_us, elapsed_us
from engine.rules import ClockRule, Target

IDLE, RUNNING, PAUSED, STOPPED = 0, 1, 2, 3
PHASES = ("idle", "running", "paused", "stopped")

Holder = tuple[str | None, str | None, str | None, str | None]  # agent, supervisor, team, dept
NO_HOLDER: Holder = (None, None, None, None)
Share = tuple[Holder, int]  # clock µs of a cycle counted while `Holder` had the ticket


class Decision(NamedTuple):
    """A crossed threshold: the SLA decision an alert announces."""

    clock: str
    cycle: int
    kind: str
    level: str | None
    due: int  # event-time instant the threshold was crossed (µs)
    target_us: int  # the threshold, in clock µs
    elapsed_us: int  # clock µs counted at `due`
    priority: str | None
    responsible: Holder  # the holder at `due`
    caused_by: tuple[str, ...]
    rule: str
    # Clock µs of the cycle up to `due` by holder, in order of first holding, merged by holder;
    # the shares sum to `elapsed_us`; the holder at `due` is always listed (0 when it took the
    # ticket at that instant).
    attribution: tuple[Share, ...] = ()
    calendar: str = ""  # the cycle's calendar (per-ticket calendars)
    policy_version: str = ""  # the version of the policy whose rule made the decision

    @property
    def key(self) -> tuple[str, int, str, str | None, int]:
        return (self.clock, self.cycle, self.kind, self.level, self.due)


class Context(NamedTuple):
    """What a crossing records about the ticket at that moment."""

    priority: str | None
    responsible: Holder


class CycleEnd(NamedTuple):
    """A cycle that stopped, as this state machine decided it (`engine.kpis.attainment`)."""

    clock: str
    cycle: int
    met: bool  # stopped with a target and no breach crossed in the cycle
    at: int  # the stop instant (µs)
    event_id: str  # the event that stopped it
    elapsed_us: int  # clock µs counted in the cycle, on its calendar (business time)
    target_us: int | None  # the breach threshold of the target at the stop (None: untracked)


Emit = Callable[[Decision], None]


@dataclass(slots=True, init=False)
class ClockRun:
    """The state of one clock: cycle, phase, clock time counted, and the next threshold.

    `rule` and `calendar` are those of the cycle: chosen when it starts (the policy version
    in force then, the ticket's calendar then) and kept until the next cycle starts.

    `__init__` is written out (the fields' defaults, as declared): mypyc compiles it, where the
    one `dataclass` generates runs interpreted; seven are made per ticket."""

    rule: ClockRule
    cycle: int = 0
    phase: int = IDLE
    elapsed: int = 0  # clock µs counted before `since`
    since: int = 0  # start of the current running segment
    target: Target | None = None
    crossed: int = 0  # thresholds of the cycle crossed so far (a prefix: they are ordered)
    next_due: int | None = None  # when running: instant of threshold `crossed`
    caused_by: list[str] = field(default_factory=list)
    holder: Holder = NO_HOLDER  # who had the ticket during the running segment from `since`
    shares: dict[Holder, int] = field(default_factory=dict)  # `elapsed` split by holder
    calendar: Calendar | None = None  # the cycle's calendar; None until set: the rule's
    breached: bool = False  # a breach of the current cycle has been crossed

    def __init__(self, rule: ClockRule) -> None:
        self.rule = rule
        self.cycle = 0
        self.phase = IDLE
        self.elapsed = 0
        self.since = 0
        self.target = None
        self.crossed = 0
        self.next_due = None
        self.caused_by = []
        self.holder = NO_HOLDER
        self.shares = {}
        self.calendar = rule.calendar
        self.breached = False

    @property
    def cal(self) -> Calendar:
        """The calendar this cycle counts on."""
        return self.calendar or self.rule.calendar

    def counted(self, t: int) -> int:
        """Clock µs of the current cycle counted up to instant `t` (t ≥ last event)."""
        if self.phase == RUNNING:
            return self.elapsed + elapsed_us(self.cal, self.since, t)
        return self.elapsed

    def advance(self, t: int, ctx: Context, emit: Emit) -> None:
        """Cross every threshold due at or before `t` (no event in between)."""
        due = self.next_due
        while due is not None and due <= t:
            assert self.target is not None
            th = self.target.thresholds[self.crossed]
            emit(self._decision(th.kind, th.level, due, th.at_us, th.at_us, ctx))
            self.crossed += 1
            if self.crossed < len(self.target.thresholds):
                step = self.target.thresholds[self.crossed].at_us - th.at_us
                due = add_us(self.cal, due, step)
            else:
                due = None
            self.next_due = due

    def _decision(
        self, kind: str, level: str | None, due: int, target: int, elapsed: int, ctx: Context
    ) -> Decision:
        if kind == "breach":
            self.breached = True
        return tuple.__new__(  # Decision(...) without its interpreted __new__ (see `Ev`)
            Decision,
            (
                self.rule.name,
                self.cycle,
                kind,
                level,
                due,
                target,
                elapsed,
                ctx.priority,
                ctx.responsible,
                tuple(self.caused_by),
                self.target.rule if self.target else "",
                self._attribution(elapsed, ctx.responsible),
                self.cal.name,
                self.rule.version,
            ),
        )

    def _attribution(self, elapsed: int, at_due: Holder) -> tuple[Share, ...]:
        """The cycle's clock µs up to a threshold counted at `elapsed`, by holder."""
        shares = dict(self.shares)
        if self.phase == RUNNING and elapsed > self.elapsed:
            shares[self.holder] = shares.get(self.holder, 0) + elapsed - self.elapsed
        if at_due not in shares:
            shares[at_due] = 0
        return tuple(shares.items())

    def _schedule(self) -> None:
        if self.phase != RUNNING or self.target is None:
            self.next_due = None
        elif self.crossed < len(self.target.thresholds):
            left = self.target.thresholds[self.crossed].at_us - self.elapsed
            self.next_due = add_us(self.cal, self.since, max(left, 0))
        else:
            self.next_due = None

    def _rebase(self, t: int) -> None:
        if self.phase == RUNNING:
            step = elapsed_us(self.cal, self.since, t)
            if step:
                self.elapsed += step
                self.shares[self.holder] = self.shares.get(self.holder, 0) + step
            self.since = t

    def handoff(self, t: int, holder: Holder) -> None:
        """Another holder has the ticket from `t`: the running segment so far is the previous
        holder's. The next threshold's instant does not move."""
        if self.phase == RUNNING and holder != self.holder:
            self._rebase(t)
        self.holder = holder

    def start(
        self,
        t: int,
        event_id: str,
        target: Target | None,
        paused: bool,
        holder: Holder = NO_HOLDER,
        calendar: Calendar | None = None,
    ) -> None:
        """Begin a new cycle at `t` (on `calendar`, default the rule's)."""
        self.calendar = calendar or self.rule.calendar
        self.cycle += 1
        self.phase = PAUSED if paused else RUNNING
        self.elapsed, self.since, self.target, self.crossed = 0, t, target, 0
        self.caused_by = [event_id]
        self.holder, self.shares = holder, {}
        self.breached = False
        self._schedule()

    def stop(self, t: int, event_id: str) -> CycleEnd:
        """End the cycle at `t` (a reopen may resume it) and say how it ended."""
        self._rebase(t)
        self.phase = STOPPED
        self.caused_by.append(event_id)
        self.next_due = None
        target = self.target
        breach = target.breach_us if target is not None else None
        met = breach is not None and not self.breached
        end = (self.rule.name, self.cycle, met, t, event_id, self.elapsed, breach)
        return tuple.__new__(CycleEnd, end)  # CycleEnd(*end), cheaper (see `history.Ev`)

    def resume(self, t: int, event_id: str, paused: bool, holder: Holder = NO_HOLDER) -> None:
        """Continue a stopped cycle with its counted time (a reopen)."""
        self.phase = PAUSED if paused else RUNNING
        self.since, self.holder = t, holder
        self.caused_by.append(event_id)
        self._schedule()

    def pause(self, t: int, event_id: str) -> None:
        self._rebase(t)
        self.phase = PAUSED
        self.caused_by.append(event_id)
        self.next_due = None

    def unpause(self, t: int, event_id: str, holder: Holder = NO_HOLDER) -> None:
        self.phase = RUNNING
        self.since, self.holder = t, holder
        self.caused_by.append(event_id)
        self._schedule()

    def retarget(
        self, t: int, event_id: str, target: Target | None, ctx: Context, emit: Emit
    ) -> None:
        """Apply new targets to the time counted since the cycle started; thresholds already
        exceeded fire at `t`."""
        self._rebase(t)
        self.target = target
        self.caused_by.append(event_id)
        if target is not None:
            while (
                self.crossed < len(target.thresholds)
                and target.thresholds[self.crossed].at_us <= self.elapsed
            ):
                th = target.thresholds[self.crossed]
                emit(self._decision(th.kind, th.level, t, th.at_us, self.elapsed, ctx))
                self.crossed += 1
        self._schedule()
