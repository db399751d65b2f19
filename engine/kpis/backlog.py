"""KPI family *backlog*: open tickets at the end of each day, week and month, by age band.

Facts: `open` — an interval [at, until) in which the ticket is unresolved (created or
reopened, not yet resolved or closed), split where its dimension values change; `value` is
the creation instant (for the age band). The aggregate counts it in the backlog of every day,
week and month window whose end falls in (at, until], once its horizon has reached that end,
with the age band of (window end − creation).

Snapshot fields (day, week and month windows): `backlog` and `backlog.<band>` (open tickets at
the window end by age), once the horizon has reached the window end (None before).
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_right
from collections.abc import Callable

from engine.history import Ev
from engine.instant import US_PER_S
from engine.kpis.cells import Acc, Cell, CellKey, Metrics
from engine.kpis.counts import add_count
from engine.kpis.facts import NO_DIMS, Dims, Fact, Story, fact
from engine.kpis.windows import BACKLOG_UNITS, Windows
from engine.rules import KpiRules

NEVER = -(2**62)  # the horizon of an aggregate that has seen no time yet
_BANDS = 64  # `LiveBacklog` packs (activation, band) as activation · 64 + band


class BacklogFacts:
    """Collects the ticket's open intervals during the walk over its history."""

    __slots__ = ("dims", "resolved", "since")

    def __init__(self) -> None:
        self.since: int | None = None  # start of the open interval being walked
        self.dims: Dims = NO_DIMS
        self.resolved = False  # a standing resolution (no reopen since)

    def _close(self, t: int, story: Story, add: Callable[[Fact], None]) -> None:
        since, created = self.since, story.created
        if since is not None and created is not None and t > since:
            add(fact("open", since, self.dims, created, t))
        self.since = None

    def event(self, ev: Ev, dims: Dims, story: Story, add: Callable[[Fact], None]) -> None:
        etype, t = ev.type, ev.at
        since = self.since
        if since is not None and dims != self.dims:
            self._close(t, story, add)
            self.since, self.dims = max(t, since), dims
        if story.new_created:
            if not self.resolved and self.since is None:
                self.since, self.dims = t, dims
        elif etype in ("resolved", "closed"):
            self.resolved = self.resolved or etype == "resolved"
            self._close(t, story, add)
        elif etype == "reopened":
            self.resolved = False
            if story.created is not None and self.since is None:
                self.since, self.dims = t, dims

    def finish(self, story: Story, add: Callable[[Fact], None]) -> None:
        if self.since is not None and story.created is not None:
            add(fact("open", self.since, self.dims, story.created, None))


def _counted_to(f: Fact, horizon: int) -> int:
    """How far an `open` interval is counted at `horizon`: the window ends in (at, this]."""
    until = f.until
    hi = horizon if until is None or until > horizon else until
    return max(f.at, hi)


def band_labels(bands_us: tuple[int, ...]) -> tuple[str, ...]:
    """Backlog age band names: lt_1d, 1d_3d, …, ge_10d."""

    def fmt(us: int) -> str:
        s = us // US_PER_S
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
            if s and s % size == 0:
                return f"{s // size}{unit}"
        return f"{s}s"

    if not bands_us:
        return ("all",)
    names = [f"lt_{fmt(bands_us[0])}"]
    names += [f"{fmt(a)}_{fmt(b)}" for a, b in itertools.pairwise(bands_us)]
    names.append(f"ge_{fmt(bands_us[-1])}")
    return tuple(names)


class Backlog:
    """The aggregate's open intervals: counted into the backlog of each day / week / month
    window as the horizon passes its end; those still open at the horizon are kept."""

    def __init__(self, rules: KpiRules, windows: Windows) -> None:
        self.rules = rules
        self.windows = windows
        self.bands = band_labels(rules.backlog_bands_us)
        self.intervals: dict[Fact, int] = {}  # open intervals not yet counted to their end
        self._next_end: int | None = None  # the first backlog window end after the horizon
        self.live = LiveBacklog(rules.backlog_bands_us)

    def band(self, age: int) -> str:
        for limit, name in zip(self.rules.backlog_bands_us, self.bands, strict=False):
            if age < limit:
                return name
        return self.bands[-1]

    def add(self, f: Fact, times: int, horizon: int, acc: Acc) -> None:
        """Add (`times` > 0) or retract an `open` interval: counted up to the horizon now."""
        self.count(f, f.at, _counted_to(f, horizon), times, acc)
        self._track(f, times, horizon)

    def move(self, gone: dict[Fact, int], came: dict[Fact, int], horizon: int) -> tuple[Acc, Acc]:
        """Open intervals whose end moved (a `gone` fact and a `came` one alike but for their
        `until`, as when a ticket is resolved): taken out of both, and only the window ends
        between the two ends counted, into the first acc (retracted) or the second (added).
        The same cells as retracting the one and adding the other, but the ends before both
        are not touched, so their cells are not marked changed and not published again."""
        retracted: Acc = {}
        added: Acc = {}
        starts: dict[tuple[int, Dims, int], Fact] = {}
        for f, n in gone.items():
            if f.metric == "open" and n == 1:
                starts[(f.at, f.dims, f.value)] = f
        if not starts:
            return retracted, added
        for f, n in list(came.items()):
            if f.metric != "open" or n != 1:
                continue
            old = starts.pop((f.at, f.dims, f.value), None)
            if old is None:
                continue
            del gone[old], came[f]
            was, now = _counted_to(old, horizon), _counted_to(f, horizon)
            if now > was:
                self.count(f, was, now, 1, added)
            elif was > now:
                self.count(old, now, was, -1, retracted)
            self._track(old, -1, horizon)
            self._track(f, 1, horizon)
        return retracted, added

    def _track(self, f: Fact, times: int, horizon: int) -> None:
        """An interval still open at the horizon is kept, to be counted as the horizon moves."""
        until = f.until
        if until is None or until > horizon:
            left = add_count(self.intervals, f, times)
            if left < 0:
                raise ValueError(f"retracting an interval that was never added: {f}")
            self.live.change(f, times, left, horizon)

    def count(self, f: Fact, lo: int, hi: int, times: int, acc: Acc) -> None:
        """Count `f` in the backlog of the day/week/month windows ending in (lo, hi]."""
        if hi <= lo:
            return
        for unit, start, end in self.windows.ends_between(lo, hi):
            group = (((unit, start),), f.dims)
            counts = acc.get(group)
            if counts is None:
                counts = acc[group] = {}
            band = f"backlog.{self.band(end - f.value)}"
            counts["backlog"] = counts.get("backlog", 0) + times
            counts[band] = counts.get(band, 0) + times

    def advance(self, previous: int, t: int, acc: Acc) -> None:
        """The horizon moved from `previous` to `t`: count the intervals at the window ends
        passed (only when one was passed) and forget those that ended."""
        self.live.advance(t, self.intervals)
        if self.intervals and (previous == NEVER or self._next_end is None or t >= self._next_end):
            done = []
            for f, times in self.intervals.items():
                until = f.until
                hi = t if until is None or until > t else until
                self.count(f, max(f.at, previous), hi, times, acc)
                if until is not None and until <= t:
                    done.append(f)
            for f in done:
                del self.intervals[f]
        zone = self.windows.zone
        self._next_end = zone.day_start(zone.local_ordinal(t) + 1)

    def open_now(self) -> dict[str, int]:
        """Tickets open at the horizon by age band (kept as intervals change: no walk)."""
        return dict(zip(self.bands, self.live.counts, strict=True))


class LiveBacklog:
    """How many open intervals are open at the horizon, per age band, kept incrementally:
    an interval joins when the horizon reaches its start, moves to an older band when its age
    passes a band limit and leaves at its end (three heaps of instants, stale entries skipped),
    so reading it costs nothing per open ticket."""

    def __init__(self, limits: tuple[int, ...]) -> None:
        if len(limits) >= _BANDS:
            raise ValueError(f"at most {_BANDS - 1} backlog age bands")
        self.limits = limits
        self.counts = [0] * (len(limits) + 1)
        self._state: dict[Fact, int] = {}  # open now: activation · 64 + band
        self._seq = 0
        self._starts: list[tuple[int, int, Fact]] = []  # (start, seq, f) later than the horizon
        self._moves: list[tuple[int, int, Fact]] = []  # (next band limit reached, state, f)
        self._ends: list[tuple[int, int, Fact]] = []  # (until, state, f)

    def change(self, f: Fact, times: int, left: int, horizon: int) -> None:
        """`f`'s multiplicity changed by `times` to `left` (the aggregate is at `horizon`)."""
        state = self._state.get(f)
        if state is not None:
            self.counts[state % _BANDS] += times
            if not left:
                del self._state[f]
        elif left and f.at <= horizon:
            self._open(f, left, horizon)
        elif left and times > 0:
            self._seq += 1
            heapq.heappush(self._starts, (f.at, self._seq, f))

    def _open(self, f: Fact, n: int, t: int) -> None:
        band = bisect_right(self.limits, t - f.value)
        self._seq += 1
        state = self._state[f] = self._seq * _BANDS + band
        self.counts[band] += n
        if f.until is not None:
            heapq.heappush(self._ends, (f.until, state, f))
        if band < len(self.limits):
            heapq.heappush(self._moves, (f.value + self.limits[band], state, f))

    def advance(self, t: int, intervals: dict[Fact, int]) -> None:
        """The horizon moved to `t`: intervals start, age and end (`intervals`: multiplicities)."""
        starts, ends, moves, states = self._starts, self._ends, self._moves, self._state
        while starts and starts[0][0] <= t:
            _, _, f = heapq.heappop(starts)
            n = intervals.get(f, 0)
            if n and f not in states and (f.until is None or f.until > t):
                self._open(f, n, t)
        while ends and ends[0][0] <= t:
            _, state, f = heapq.heappop(ends)
            now = states.get(f)
            if now is not None and now // _BANDS == state // _BANDS:
                del states[f]
                self.counts[now % _BANDS] -= intervals.get(f, 0)
        while moves and moves[0][0] <= t:
            _, state, f = heapq.heappop(moves)
            if states.get(f) != state:
                continue
            n, old = intervals.get(f, 0), state % _BANDS
            band = bisect_right(self.limits, t - f.value)
            self.counts[old] -= n
            self.counts[band] += n
            state = states[f] = state - old + band
            if band < len(self.limits):
                heapq.heappush(moves, (f.value + self.limits[band], state, f))


class Fields:
    """The family's snapshot fields of one cell."""

    def __init__(self, backlog: Backlog) -> None:
        self.windows = backlog.windows
        self.names = [f"backlog.{band}" for band in backlog.bands]

    def put(self, m: Metrics, cell: Cell, key: CellKey, horizon: int) -> None:
        unit, start = key[0], key[1]
        if unit not in BACKLOG_UNITS:
            return
        if self.windows.end(unit, start) <= horizon:
            c = cell.counts.get
            m["backlog"] = c("backlog", 0)
            for name in self.names:
                m[name] = c(name, 0)
        else:
            m["backlog"] = None
