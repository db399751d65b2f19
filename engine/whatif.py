"""What-if: the same history evaluated under two policies, and what changes.

Pure and deterministic. `compare(events, baseline, new, until)` replays already-parsed
`(ticket_id, Ev)` pairs through the replay pipeline (`engine.replay`) once per policy, with the same
stream-time clock (the largest `occurred_at` so far) and the same final `until`, and returns a
JSON-ready report:

- **Standing decisions.** A policy's result is its effective alert set (`engine.effective`)
  (a retraction removes the alert it names; a moved deadline is a retraction plus a new alert),
  keyed by `(ticket_id, clock, cycle, kind, level)`. Present only under the new policy:
  *appeared*; only under the baseline: *disappeared*; under both with another `due_at`:
  *moved* (shift = new − baseline, in seconds; negative = earlier). Same `due_at`: unchanged.
- **Changes** are aggregated per `(clock, priority, kind, level)` (priority as the decision
  recorded it: the new policy's when the decision exists there, else the baseline's), with up
  to `examples` examples of each change, lowest ticket ids first. The summary counts per kind,
  so warnings are apart from breaches and escalations.
- **KPIs** (`engine.kpis`, exact store, at the final clock): attainment per clock (`met / due`)
  and overall, and breaches by level and by clock and level, for the whole range and per month
  of each policy's reporting zone, as `{before, after, delta}`.

Nothing in the report depends on the run (no wall-clock time, no paths): the same input and
policies give the same report.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from engine.effective import EffectiveSet
from engine.history import Ev
from engine.instant import iso, seconds, to_us
from engine.kpis import KpiAggregate, contributions
from engine.kpis.attainment import LEVELS
from engine.kpis.cells import ratio
from engine.replay import Replay
from engine.rules import RuntimePolicy

KINDS = ("warning", "breach", "escalation")
CHANGES = ("appeared", "disappeared", "moved")
_KIND_RANK = {k: i for i, k in enumerate(KINDS)}
_LEVEL_RANK: dict[str | None, int] = {None: 0, **{lvl: i + 1 for i, lvl in enumerate(LEVELS)}}

MatchKey = tuple[str, str, int, str, str | None]  # ticket_id, clock, cycle, kind, level
GroupKey = tuple[str, str | None, str, str | None]  # clock, priority, kind, level


class Standing(NamedTuple):
    """A decision that stands at the end of a run."""

    due: int  # µs
    due_at: str  # as the alert said it (UTC ISO 8601)
    priority: str | None


@dataclass(slots=True)
class Outcome:
    """One policy's evaluation of the history."""

    policy: RuntimePolicy
    standing: dict[MatchKey, Standing]
    clock: int | None  # the final stream-time clock (None: no event and no `until`)
    tickets: int
    kpis: dict[str, Counter[str]]  # month label -> counts (see `kpi_counts`)


def evaluate(events: Iterable[tuple[str, Ev]], policy: RuntimePolicy, until: int | None) -> Outcome:
    """Replay `events` in order under `policy` (stream-time clock, then `until`) and keep what
    stands: every alert not retracted later, and the KPI counts at the final clock."""
    run = Replay.start(policy)
    announced = EffectiveSet()
    announced.update(run.run(events, until))
    standing: dict[MatchKey, Standing] = {}
    for alert in announced.current.values():
        key: MatchKey = (
            alert["ticket_id"],
            alert["clock"],
            alert["cycle"],
            alert["kind"],
            alert["level"],
        )
        due = to_us(datetime.fromisoformat(alert["due_at"]))
        here = Standing(due, alert["due_at"], alert["priority"])
        # One standing alert per key is the engine's invariant (a moved deadline retracts the
        # old one); should two ever stand, keep the earlier one so the report stays a function
        # of the input.
        if key not in standing or due < standing[key].due:
            standing[key] = here
    clock = run.clock if run.events or until is not None else None
    return Outcome(policy, standing, clock, run.count(), kpi_counts(run))


def kpi_counts(run: Replay) -> dict[str, Counter[str]]:
    """Per month (label, in the policy's reporting zone), the overall SLA counts of the
    replay's tickets as of its clock: `sla.<clock>.due`, `sla.<clock>.met`,
    `breaches.<clock>.<level>` and `breaches.<level>`. Exact `KpiAggregate`, month windows and the
    overall dimension only (the other windows and dimensions are not needed here)."""
    policy = run.policy
    rules = dataclasses.replace(policy.kpis, units=("month",), dimensions=())
    store = KpiAggregate(dataclasses.replace(policy, kpis=rules), exact=True)
    store.advance(run.clock)
    store.add(f for ticket in run.tickets.values() for f in contributions(ticket))
    clocks = [c.name for c in policy.clocks]
    out: dict[str, Counter[str]] = {}
    for snap in store.iter_snapshots():
        if snap["dimension"] != "overall" or snap["window"]["unit"] != "month":
            continue
        m = snap["metrics"]
        counts: Counter[str] = Counter()
        for name in clocks:
            for part in ("due", "met"):
                value = m.get(f"sla.{name}.{part}")
                if value:
                    counts[f"sla.{name}.{part}"] += int(value)
            for level in LEVELS:
                value = m.get(f"breaches.{name}.{level}")
                if value:
                    counts[f"breaches.{name}.{level}"] += int(value)
        for level in LEVELS:
            value = m.get(f"breaches.{level}")
            if value:
                counts[f"breaches.{level}"] += int(value)
        out[snap["window"]["label"]] = counts
    return out


# ------------------------------------------------------------------------------ differences


def _match_order(key: MatchKey) -> tuple[str, str, int, int, int]:
    ticket_id, clock, cycle, kind, level = key
    return (ticket_id, clock, cycle, _KIND_RANK.get(kind, len(KINDS)), _LEVEL_RANK.get(level, 9))


def _group_order(key: GroupKey) -> tuple[str, bool, str, int, int]:
    clock, priority, kind, level = key
    return (
        clock,
        priority is None,
        priority or "",
        _KIND_RANK.get(kind, len(KINDS)),
        _LEVEL_RANK.get(level, 9),
    )


@dataclass(slots=True)
class _Group:
    counts: Counter[str] = field(default_factory=Counter)
    shifts: list[int] = field(default_factory=list)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def diff(
    baseline: dict[MatchKey, Standing], new: dict[MatchKey, Standing], examples: int = 3
) -> tuple[list[dict[str, Any]], dict[str, dict[str, int]]]:
    """The changes between two sets of standing decisions: groups with at least one change,
    ordered by clock, priority, kind and level, and the counts per kind (`unchanged` too)."""
    groups: dict[GroupKey, _Group] = {}
    summary: dict[str, dict[str, int]] = {
        kind: dict.fromkeys((*CHANGES, "unchanged"), 0) for kind in KINDS
    }
    for key in sorted(baseline.keys() | new.keys(), key=_match_order):
        ticket_id, clock, cycle, kind, level = key
        before, after = baseline.get(key), new.get(key)
        if before is not None and after is not None and before.due == after.due:
            change = "unchanged"
        elif after is None:
            change = "disappeared"
        elif before is None:
            change = "appeared"
        else:
            change = "moved"
        per_kind = summary.setdefault(kind, dict.fromkeys((*CHANGES, "unchanged"), 0))
        per_kind[change] += 1
        if change == "unchanged":
            continue
        priority = after.priority if after is not None else before.priority if before else None
        group = groups.setdefault((clock, priority, kind, level), _Group())
        group.counts[change] += 1
        shift = None
        if change == "moved" and before is not None and after is not None:
            group.shifts.append(after.due - before.due)
            shift = seconds(after.due - before.due)
        shown = group.examples.get(change, [])
        if len(shown) < examples:
            group.examples[change] = shown
            shown.append(
                {
                    "ticket_id": ticket_id,
                    "cycle": cycle,
                    "due_before": before.due_at if before is not None else None,
                    "due_after": after.due_at if after is not None else None,
                    "shift_seconds": shift,
                }
            )
    out = []
    for gkey in sorted(groups, key=_group_order):
        clock, priority, kind, level = gkey
        g = groups[gkey]
        out.append(
            {
                "clock": clock,
                "priority": priority,
                "kind": kind,
                "level": level,
                **{change: g.counts[change] for change in CHANGES},
                "moved_earlier": sum(1 for s in g.shifts if s < 0),
                "moved_later": sum(1 for s in g.shifts if s > 0),
                "shift_seconds": (
                    {"min": seconds(min(g.shifts)), "max": seconds(max(g.shifts))}
                    if g.shifts
                    else None
                ),
                "examples": {
                    change: g.examples[change] for change in CHANGES if change in g.examples
                },
            }
        )
    return out, summary


# ------------------------------------------------------------------------------ KPIs


def _metrics(counts: Counter[str], clocks: Sequence[str]) -> dict[str, float | int | None]:
    m: dict[str, float | int | None] = {}
    due_all = met_all = 0
    for name in clocks:
        due, met = counts[f"sla.{name}.due"], counts[f"sla.{name}.met"]
        due_all, met_all = due_all + due, met_all + met
        m[f"sla.{name}.due"], m[f"sla.{name}.met"] = due, met
        m[f"sla.{name}.attainment"] = ratio(met, due)
        for level in LEVELS:
            m[f"breaches.{name}.{level}"] = counts[f"breaches.{name}.{level}"]
    m["sla.all.due"], m["sla.all.met"] = due_all, met_all
    m["sla.all.attainment"] = ratio(met_all, due_all)
    for level in LEVELS:
        m[f"breaches.{level}"] = counts[f"breaches.{level}"]
    return m


def _delta(before: float | int | None, after: float | int | None) -> float | int | None:
    if before is None or after is None:
        return None
    if isinstance(before, int) and isinstance(after, int):
        return after - before
    return round(after - before, 6)


def _compare_counts(
    before: Counter[str], after: Counter[str], clocks: Sequence[str]
) -> dict[str, dict[str, float | int | None]]:
    """`{metric: {before, after, delta}}`. Always `sla.all.*` and `breaches.<level>`; a clock's
    `sla.<clock>.*` when it has a decided cycle on either side, `breaches.<clock>.<level>`
    when non-zero on either side."""
    b, a = _metrics(before, clocks), _metrics(after, clocks)
    shown = ["sla.all.due", "sla.all.met", "sla.all.attainment"]
    shown += [f"breaches.{level}" for level in LEVELS]
    for clock in clocks:
        if b[f"sla.{clock}.due"] or a[f"sla.{clock}.due"]:
            shown += [f"sla.{clock}.{part}" for part in ("due", "met", "attainment")]
        shown += [name for level in LEVELS if b[name := f"breaches.{clock}.{level}"] or a[name]]
    out: dict[str, dict[str, float | int | None]] = {}
    for name in shown:
        delta = _delta(b[name], a[name])
        if name.endswith(".attainment") and delta is not None:
            # From the exact shares, not from the two rounded ones.
            prefix = name.removesuffix("attainment")
            share_b = int(b[prefix + "met"] or 0) / int(b[prefix + "due"] or 1)
            share_a = int(a[prefix + "met"] or 0) / int(a[prefix + "due"] or 1)
            delta = round(share_a - share_b, 6)
        out[name] = {"before": b[name], "after": a[name], "delta": delta}
    return out


def compare_kpis(baseline: Outcome, new: Outcome) -> dict[str, Any]:
    """Attainment and breaches by level, before / after / delta: `all` (the whole range: the
    sum of the months) and `months` (one entry per month label present on either side)."""
    clocks = sorted({c.name for c in (*baseline.policy.clocks, *new.policy.clocks)})
    total_b: Counter[str] = Counter()
    total_a: Counter[str] = Counter()
    for counts in baseline.kpis.values():
        total_b.update(counts)
    for counts in new.kpis.values():
        total_a.update(counts)
    months = [
        {
            "month": label,
            "metrics": _compare_counts(
                baseline.kpis.get(label, Counter()), new.kpis.get(label, Counter()), clocks
            ),
        }
        for label in sorted(baseline.kpis.keys() | new.kpis.keys())
    ]
    return {"all": _compare_counts(total_b, total_a, clocks), "months": months}


# ------------------------------------------------------------------------------ the report


def _totals(standing: dict[MatchKey, Standing]) -> dict[str, int]:
    counts = Counter(key[3] for key in standing)
    return {kind: counts[kind] for kind in sorted(counts.keys() | set(KINDS))}


def compare(
    events: Sequence[tuple[str, Ev]],
    baseline: RuntimePolicy,
    new: RuntimePolicy,
    until: int | None = None,
    examples: int = 3,
) -> dict[str, Any]:
    """The what-if report (JSON-ready; see the module docstring)."""
    before = evaluate(events, baseline, until)
    after = evaluate(events, new, until)
    changes, summary = diff(before.standing, after.standing, examples)
    return {
        "input": {"events": len(events), "tickets": after.tickets},
        "clock": iso(after.clock) if after.clock is not None else None,
        "until": iso(until) if until is not None else None,
        "baseline": {"policy_version": baseline.version, "standing": _totals(before.standing)},
        "new": {"policy_version": new.version, "standing": _totals(after.standing)},
        "summary": summary,
        "changes": changes,
        "kpis": compare_kpis(before, after),
    }
