"""KPI family *resolution*: volume, resolution, first-contact resolution, reopens, and the time
to first response and to resolution.

Facts (each counted in the window of the instant named):

- `accepted` — the ticket's first `created` event.
- `resolved` — the ticket's *standing* resolution: its last `resolved` event when no
  `reopened` follows it (a reopen withdraws the earlier resolution; the next one counts).
  The value carries two flags: **first-contact resolution** (no reopen before it and no
  hand-off, i.e. the agent or team never changed to another one after first being set) and
  *reopened* (at least one reopen before it). Resolution rate = resolved / accepted;
  FCR rate = first-contact resolved / resolved; reopen rate = reopened-then-resolved /
  resolved. `reopen` counts every `reopened` event at its instant.
- `ttfr_wall`, `ttfr_business` — created → the first `responded` (at the response), in wall
  µs and in business µs on the policy's business calendar (the same interval measured on the
  calendar: nights, weekends and holidays do not count; pauses do). `ttr_*` likewise created
  → the standing resolution.

Snapshot fields: `accepted`, `resolved`, `resolution_rate` (target, gap); `fcr_resolved`,
`fcr_rate`; `reopened_resolved`, `reopen_rate`; `reopens`; `ttfr_count`,
`ttfr_{wall,business}_{mean,p90}_s`; `ttr_count`, `ttr_…` (seconds; p90 is the nearest-rank
90th percentile: exact in replay, within 1 % relative live).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate
from operator import mul

from engine.calendar import elapsed_us
from engine.history import Ev
from engine.instant import US_PER_S
from engine.kpis.cells import Cell, Metrics, ratio
from engine.kpis.facts import DIST_OFFSET, NO_DIMS, Dims, Fact, Story, fact
from engine.kpis.sketch import LogMapping, rank

RESOLVED_FCR = 2  # flag bits of the `resolved` value (bit 0 is always set)
RESOLVED_REOPENED = 4
DISTRIBUTIONS = ("ttfr_wall", "ttfr_business", "ttr_wall", "ttr_business")
P90 = 0.9


class ResolutionFacts:
    """Collects the family's facts during the walk over a ticket's history."""

    __slots__ = ("at", "dims", "handoff", "handoff_then", "holder", "reopens", "reopens_then")

    def __init__(self) -> None:
        self.at: int | None = None  # the standing resolution
        self.dims: Dims = NO_DIMS
        self.reopens = 0
        self.handoff = False
        self.handoff_then = False  # at the standing resolution
        self.reopens_then = 0
        self.holder: dict[str, str] = {}

    def event(self, ev: Ev, dims: Dims, story: Story, add: Callable[[Fact], None]) -> None:
        data, etype, t = ev.data, ev.type, ev.at
        for role in ("agent", "team"):
            v = data.get(role)
            if v is not None:
                if role in self.holder and self.holder[role] != v:
                    self.handoff = True
                self.holder[role] = v
        if story.new_created:
            add(fact("accepted", t, dims))
        elif story.new_response:
            created = story.created
            assert created is not None
            add(fact("ttfr_wall", t, dims, t - created))
            cal = story.ticket.state.policy.kpis.business_calendar
            if cal is not None:
                add(fact("ttfr_business", t, dims, elapsed_us(cal, created, t)))
        elif etype == "resolved":
            self.at, self.dims = t, dims
            self.handoff_then, self.reopens_then = self.handoff, self.reopens
        elif etype == "reopened":
            self.reopens += 1
            add(fact("reopen", t, dims))
            self.at = None

    def finish(self, story: Story, add: Callable[[Fact], None]) -> None:
        at, created, dims = self.at, story.created, self.dims
        if at is None or created is None:
            return
        flags = 1
        if self.reopens_then == 0 and not self.handoff_then:
            flags |= RESOLVED_FCR
        if self.reopens_then:
            flags |= RESOLVED_REOPENED
        add(fact("resolved", at, dims, flags))
        add(fact("ttr_wall", at, dims, at - created))
        cal = story.ticket.state.policy.kpis.business_calendar
        if cal is not None:
            add(fact("ttr_business", at, dims, elapsed_us(cal, created, at)))


def counters(metric: str, value: int) -> tuple[tuple[str, int], ...] | None:
    """The counters a `resolved` fact adds to (None: not this family's counted metric)."""
    if metric != "resolved":
        return None
    out = [("resolved", 1)]
    if value & RESOLVED_FCR:
        out.append(("resolved_fcr", 1))
    if value & RESOLVED_REOPENED:
        out.append(("resolved_reopened", 1))
    return tuple(out)


# In `DISTRIBUTIONS` order: (name, mean, p90, the count published with the wall-time one).
_DURATIONS = tuple(
    (
        name,
        f"{name}_mean_s",
        f"{name}_p90_s",
        name.removesuffix("_wall") + "_count" if name.endswith("_wall") else None,
    )
    for name in DISTRIBUTIONS
)


class Fields:
    """The family's snapshot fields of one cell."""

    def __init__(self, mapping: LogMapping | None) -> None:
        self.mapping = mapping  # None: exact durations

    def put(self, m: Metrics, cell: Cell) -> None:
        c = cell.counts.get
        accepted, resolved = c("accepted", 0), c("resolved", 0)
        fcr, reopened = c("resolved_fcr", 0), c("resolved_reopened", 0)
        m["accepted"], m["resolved"] = accepted, resolved
        m["resolution_rate"] = ratio(resolved, accepted)
        m["fcr_resolved"], m["fcr_rate"] = fcr, ratio(fcr, resolved)
        m["reopened_resolved"], m["reopen_rate"] = reopened, ratio(reopened, resolved)
        m["reopens"] = c("reopen", 0)
        self._durations(m, cell)

    def _durations(self, m: Metrics, cell: Cell) -> None:
        values, c = cell.values, cell.counts.get
        entries = sorted(values) if values else []
        mapping = self.mapping
        for index, (name, mean_name, p90_name, count_name) in enumerate(_DURATIONS):
            lo = bisect_left(entries, index * DIST_OFFSET + 0)
            hi = bisect_left(entries, (index + 1) * DIST_OFFSET)
            if count_name is not None:
                m[count_name] = 0
            if lo == hi:
                m[mean_name] = m[p90_name] = None
                continue
            keys = entries[lo:hi]
            times = list(map(values.__getitem__, keys))
            cumulative = list(accumulate(times))
            n = cumulative[-1]
            if count_name is not None:
                m[count_name] = n
            base = index * DIST_OFFSET + 1  # entry = base + bucket
            at = keys[bisect_left(cumulative, rank(P90, n))] - base
            if mapping is None:
                total = sum(map(mul, keys, times)) - base * n
                p90 = float(at)
            else:
                total = c(f"{name}.sum", 0)
                p90 = mapping.value(at)
            m[mean_name] = round(total / n / US_PER_S, 3)
            m[p90_name] = round(p90 / US_PER_S, 3)
