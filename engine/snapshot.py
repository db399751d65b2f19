"""A compact snapshot of a ticket's computed SLA state (`TicketEval`), stored beside its history
so that loading a ticket does not refold the history (35-70 µs a ticket, every cache miss).

The snapshot is plain JSON-ready lists. It names rules, targets and calendars by position in
the policy, so it holds only for the policy it was taken under: it carries a fingerprint of
every version of that policy, and a policy with another fingerprint refolds the history
instead (`restore` returns None). Holders, event ids and the decisions' names are written once
each (tables), the rest by index, to keep the stored value small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from engine.clocks import IDLE, ClockRun, CycleEnd, Decision, Holder
from engine.evaluate import TicketEval
from engine.history import Ev
from engine.rules import ClockRule, RuntimePolicy

_FINGERPRINTS: dict[int, tuple[RuntimePolicy, str]] = {}


def fingerprint(policy: RuntimePolicy) -> str:
    """A short digest of every version of the policy and when each takes effect (cached)."""
    cached = _FINGERPRINTS.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    text = "|".join([policy.version, *(f"{since}:{p.version}" for since, p in policy.later)])
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    _FINGERPRINTS[id(policy)] = (policy, digest)  # holds the policy: its id is not reused
    return digest


class _Tables:
    """Holders and event ids, each written once, referred to by position."""

    def __init__(self, history: list[Ev]) -> None:
        self.events = {e.id: i for i, e in enumerate(history)}
        self.holders: dict[Holder, int] = {}
        self.texts: dict[str | None, int] = {}

    def text(self, s: str | None) -> int:
        return self.texts.setdefault(s, len(self.texts))

    def holder(self, h: Holder) -> int:
        return self.holders.setdefault(h, len(self.holders))

    def ids(self, event_ids: list[str] | tuple[str, ...]) -> list[int]:
        return [self.events[e] for e in event_ids]


def take(state: TicketEval, history: list[Ev]) -> list[Any] | None:
    """The snapshot of `state` (whose events are `history`); None when some part of it cannot
    be named in its policy (then the history is refolded on load, as before snapshots)."""
    policy = state.policy
    versions = [p.version for p in policy.versions()]
    t = _Tables(history)
    try:
        runs = [_run(r, versions, t) for r in state.runs]
        decisions = [_decision(d, versions, t) for d in state.decisions]
        exempt = [[c, n, t.events[e]] for (c, n), e in state.exempt.items()]
        overturned = [[a, t.events[e]] for a, e in state.overturned.items()]
        untargeted = [[c, n, t.events[e]] for c, n, e in state.untargeted]
        last = [state.last[0], t.events[state.last[1]]] if state.last[1] else [state.last[0], -1]
        finished = [
            [t.text(f.clock), f.cycle, f.met, f.at, t.events[f.event_id], f.elapsed_us, f.target_us]
            for f in state.finished
        ]
    except (KeyError, ValueError):
        return None
    return [
        fingerprint(policy),
        state.attrs,
        runs,
        decisions,
        exempt,
        overturned,
        state.reopens,
        last,
        state.horizon,
        untargeted,
        [list(h) for h in t.holders],
        finished,  # the cycles the clock state machine finished (KPI attainment reads them)
        list(t.texts),
    ]


def _run(run: ClockRun, versions: list[str], t: _Tables) -> Any:
    if run.phase == IDLE and run.cycle == 0:
        return 0  # as a new ticket has it: restored from the policy
    rule = run.rule
    target = -1 if run.target is None else _position(rule.targets, run.target)
    calendar = -1
    if run.calendar is not rule.calendar:
        calendar = _position([c.calendar for c in rule.calendars], run.calendar)
    return [
        versions.index(rule.version) if rule.version in versions else -1,
        run.cycle,
        run.phase,
        run.elapsed,
        run.since,
        target,
        run.crossed,
        run.next_due,
        t.ids(run.caused_by),
        t.holder(run.holder),
        [[t.holder(h), us] for h, us in run.shares.items()],
        calendar,
        run.breached,
    ]


def _position(items: Sequence[object], item: object) -> int:
    """Where `item` itself (not an equal one: the engine compares targets by identity) is."""
    for i, x in enumerate(items):
        if x is item:
            return i
    raise ValueError("not in the policy")


def _decision(d: Decision, versions: list[str], t: _Tables) -> list[Any]:
    return [
        t.text(d.clock),
        d.cycle,
        t.text(d.kind),
        t.text(d.level),
        d.due,
        d.target_us,
        d.elapsed_us,
        t.text(d.priority),
        t.holder(d.responsible),
        t.ids(d.caused_by),
        t.text(d.rule),
        [[t.holder(h), us] for h, us in d.attribution],
        t.text(d.calendar),
        versions.index(d.policy_version),
    ]


def restore(snap: list[Any], history: list[Ev], policy: RuntimePolicy) -> TicketEval | None:
    """The state a snapshot holds, or None when it was taken under another policy."""
    if not snap or snap[0] != fingerprint(policy):
        return None
    (
        _,
        attrs,
        runs,
        decisions,
        exempt,
        overturned,
        reopens,
        last,
        horizon,
        untargeted,
        hs,
        fin,
        tx,
    ) = snap
    ids = [e.id for e in history]
    holders: list[Holder] = [(h[0], h[1], h[2], h[3]) for h in hs]
    versions = policy.versions()
    state = TicketEval(policy, dict(attrs))
    for i, row in enumerate(runs):
        if row != 0:
            _restore_run(state.runs[i], row, versions, ids, holders)
    state.decisions = [
        Decision(
            tx[r[0]],
            r[1],
            tx[r[2]],
            tx[r[3]],
            r[4],
            r[5],
            r[6],
            tx[r[7]],
            holders[r[8]],
            tuple(ids[e] for e in r[9]),
            tx[r[10]],
            tuple((holders[h], us) for h, us in r[11]),
            tx[r[12]],
            versions[r[13]].version,
        )
        for r in decisions
    ]
    state.exempt = {(c, n): ids[e] for c, n, e in exempt}
    state.overturned = {a: ids[e] for a, e in overturned}
    state.reopens = reopens
    state.last = (last[0], ids[last[1]] if last[1] >= 0 else "")
    state.horizon = horizon
    state.untargeted = [(c, n, ids[e]) for c, n, e in untargeted]
    state.finished = tuple(
        CycleEnd(tx[c], n, met, at, ids[e], elapsed, target)
        for c, n, met, at, e, elapsed, target in fin
    )
    state._refresh()
    return state


def _restore_run(
    run: ClockRun,
    row: list[Any],
    versions: tuple[RuntimePolicy, ...],
    ids: list[str],
    holders: list[Holder],
) -> None:
    (
        version,
        cycle,
        phase,
        elapsed,
        since,
        target,
        crossed,
        due,
        caused,
        holder,
        shares,
        cal,
        breached,
    ) = row
    rule: ClockRule = run.rule
    if version >= 0:
        found = versions[version].find_clock(rule.name)
        if found is not None:
            rule = found
    run.rule = rule
    run.cycle, run.phase, run.elapsed, run.since = cycle, phase, elapsed, since
    run.target = None if target < 0 else rule.targets[target]
    run.crossed, run.next_due = crossed, due
    run.caused_by = [ids[e] for e in caused]
    run.holder = holders[holder]
    run.shares = {holders[h]: us for h, us in shares}
    run.calendar = rule.calendar if cal < 0 else rule.calendars[cal].calendar
    run.breached = breached
