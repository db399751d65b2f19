"""`KpiStore`: facts aggregated into tumbling event-time windows × dimensions.

Order-independent by construction: a cell (window, dimension, key) holds integer counters and
duration distributions, each a sum over the facts in it, and a fact's cell set depends only on
the fact. Adding and retracting facts commute, so any arrival order, and any sequence of
`replace(old, new)` calls ending with the same facts, gives the same cells.

The store has a **horizon** (stream time: the replay clock, or the live worker's clock),
moved forward by `advance(t)`:

- a fact stamped later than the horizon is held back until the horizon reaches it (a complaint
  missed "24 h after creation" only counts once that instant has come);
- backlog is taken at the end of each day, week and month window once the horizon has reached
  that end: an `open` interval [at, until) counts in every such window whose end falls in
  (at, until], with the age band of (window end − creation);
- a window is **final** once the horizon is at or past its end plus the grace period. Facts
  that arrive later still update it (the numbers stay a function of the events), and the
  snapshot is published again.

Everything published about a cell (`snapshots`) is derived from the cells at call time; with
`changed_only=True` only cells changed since the last such call are returned (plus cells whose
comparisons or team flag depend on a changed cell, and windows that just became final);
`take_removed()` lists cells that became empty (for compaction tombstones).
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from engine.instant import US_PER_S
from engine.kpis.facts import (
    DIMENSION_ATTRS,
    DIST_OFFSET,
    DISTRIBUTIONS,
    RECORD_FIELDS,
    RESOLVED_FCR,
    RESOLVED_REOPENED,
    Dims,
    Fact,
    decode_survey,
)
from engine.kpis.sketch import ALPHA, LogMapping
from engine.kpis.snapshot import Snapshotter
from engine.kpis.windows import BACKLOG_UNITS, UNIT_ORDER, Window, Windows
from engine.rules import RuntimePolicy
from schemas.attributes import SURVEY_ITEMS

CellKey = tuple[str, int, str, str]  # unit, window start, dimension, key
DIMENSION_ORDER = {d: i for i, d in enumerate(("overall", *DIMENSION_ATTRS))}
OVERALL = "all"
UNKNOWN = "unknown"
_NEVER = -(2**62)


Token = str | int  # a counter name, or a distribution entry (see `Cell`)
Group = tuple[tuple[Window, ...], Dims]  # facts with the same windows and dimension values
Acc = dict[Group, dict[Token, int]]  # signed counts per token, summed per group
_BULK = 64  # distinct facts in one `add` above which the bulk path is taken
DIST_INDEX = {name: i for i, name in enumerate(DISTRIBUTIONS)}


class Cell:
    """One (window, dimension, key): integer counters by name, and the entries of the duration
    distributions as one Counter of ints: distribution i, bucket b is the int
    `i · 2^60 + b + 1` (exact store: the bucket is the value in µs; sketch: its `LogMapping`
    key, ≥ -1), so the entries of one distribution are contiguous once sorted. Everything is
    an integer sum: cells of stores fed with disjoint tickets merge by adding counters."""

    __slots__ = ("counts", "values")

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.values: Counter[int] = Counter()

    def empty(self) -> bool:
        return not self.counts and not self.values


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


class KpiStore:
    """Facts → cells; see the module docstring. `exact=True` keeps every duration (exact
    percentiles, for replay); `exact=False` keeps log buckets with relative accuracy `alpha`
    (bounded memory, percentiles within 1 %, for the live worker)."""

    def __init__(self, policy: RuntimePolicy, exact: bool = True, alpha: float = ALPHA) -> None:
        self.policy = policy
        self.rules = policy.kpis
        self.windows = Windows(self.rules.timezone, self.rules.units)
        self.exact = exact
        self.mapping = None if exact else LogMapping(alpha)
        self.horizon = _NEVER
        self.cells: dict[CellKey, Cell] = {}
        self.by_window: dict[Window, set[CellKey]] = {}
        self.changed: set[CellKey] = set()
        self.removed: set[CellKey] = set()
        self.clocks = tuple(c.name for c in policy.clocks)
        self.bands = band_labels(self.rules.backlog_bands_us)
        self._pending: dict[Fact, int] = {}  # point facts later than the horizon
        self._pending_at: list[tuple[int, int, Fact]] = []
        self._seq = 0
        self._intervals: dict[Fact, int] = {}  # open intervals not yet counted to their end
        self._next_end: int | None = None  # the first backlog window end after the horizon
        # (instant, start, unit): when a window's snapshot changes with the horizon alone:
        # its end (backlog is taken) and its end plus the grace period (final).
        self._milestones: list[tuple[int, int, str]] = []
        self._projections: dict[Dims, tuple[tuple[str, str], ...]] = {}
        self._expansions: dict[tuple[str, int], tuple[list[str], list[tuple[str, int]]]] = {}
        self._dim_index = tuple(DIMENSION_ATTRS.index(d) for d in self.rules.dimensions)

    # ---------------------------------------------------------------- changing the facts

    def add(self, facts: Iterable[Fact]) -> None:
        counted = Counter(facts)
        if len(counted) > _BULK:
            self._add_bulk(counted)
        else:
            self._apply(counted, 1)

    def retract(self, facts: Iterable[Fact]) -> None:
        self._apply(Counter(facts), -1)

    def replace(self, old: Iterable[Fact], new: Iterable[Fact]) -> None:
        """A ticket's facts changed from `old` to `new`: only the difference is applied."""
        before, after = Counter(old), Counter(new)
        if before == after:
            return
        self._apply(before - after, -1)
        self._apply(after - before, 1)

    def _entry(self, f: Fact) -> tuple[list[str], int | None, list[tuple[str, int]]]:
        """What one fact adds: counter names (each once per unit counted), a distribution
        entry, and larger weighted increments (name, amount)."""
        metric = f.metric
        index = DIST_INDEX.get(metric)
        if index is not None:
            value = f.value
            if self.mapping is None:
                return [], index * DIST_OFFSET + value + 1, []
            # A sketch forgets the values: keep their exact sum for the mean.
            entry = index * DIST_OFFSET + self.mapping.key(value) + 1
            return [], entry, [(f"{metric}.sum", value)]
        key = (metric, f.value)
        hit = self._expansions.get(key)
        if hit is None:
            names: list[str] = []
            weighted: list[tuple[str, int]] = []
            for name, inc in self._expand(metric, f.value):
                if 0 < inc <= 5:
                    names.extend([name] * inc)
                elif inc:
                    weighted.append((name, inc))
            hit = self._expansions[key] = (names, weighted)
        return hit[0], None, hit[1]

    def _apply(self, facts: Counter[Fact], sign: int) -> None:
        """Add (sign 1) or retract (sign -1) facts, one group of cells at a time."""
        acc: Acc = {}
        horizon = self.horizon
        windows_of = self.windows.of
        for f, n in facts.items():
            times = n * sign
            if f.metric == "open":
                self._interval(f, times, acc)
                continue
            if f.at > horizon:
                self._hold(f, times)
                continue
            group = (windows_of(f.at), f.dims)
            counts = acc.get(group)
            if counts is None:
                counts = acc[group] = {}
            names, value, weighted = self._entry(f)
            for name in names:
                counts[name] = counts.get(name, 0) + times
            if value is not None:
                counts[value] = counts.get(value, 0) + times
            for name, inc in weighted:
                counts[name] = counts.get(name, 0) + inc * times
        self._flush(acc, sign < 0)

    def _flush(self, acc: Acc, removing: bool) -> None:
        """Merge summed contributions into every cell they belong to."""
        cells, cell_of, changed = self.cells, self._cell, self.changed
        for (wins, dims), delta in acc.items():
            names = [(t, n) for t, n in delta.items() if n and isinstance(t, str)]
            entries = [(t, n) for t, n in delta.items() if n and not isinstance(t, str)]
            if not names and not entries:
                continue
            for dim, key in self._projection(dims):
                for unit, start in wins:
                    ck = (unit, start, dim, key)
                    cell = cells.get(ck)
                    if cell is None:
                        cell = cell_of(ck)
                    counts = cell.counts
                    for name, n in names:
                        counts[name] = counts.get(name, 0) + n
                    values = cell.values
                    for entry, n in entries:
                        values[entry] = values.get(entry, 0) + n
                    if removing:
                        self._tidy(ck, cell, names, entries)
                    else:
                        changed.add(ck)

    def _tidy(
        self, ck: CellKey, cell: Cell, names: list[tuple[str, int]], entries: list[tuple[int, int]]
    ) -> None:
        """After a retraction: drop what reached zero, and the cell when it is empty."""
        counts, values = cell.counts, cell.values
        for name, _ in names:
            left = counts[name]
            if left <= 0:
                if left < 0:
                    raise ValueError(f"retracting more {name!r} than was added to {ck}")
                del counts[name]
        for entry, _ in entries:
            left = values[entry]
            if left <= 0:
                if left < 0:
                    raise ValueError(f"retracting a duration never added to {ck}")
                del values[entry]
        if cell.empty():
            self._drop(ck)
        else:
            self.changed.add(ck)

    def _add_bulk(self, facts: Counter[Fact]) -> None:
        """Many additions at once (a replay, a rebuild): the same integer sums as `_apply`,
        regrouped for speed: each group's names and entries are concatenated per (windows,
        dimension, key), then counted into each window's cell by `Counter.update`, which
        counts in C."""
        horizon = self.horizon
        windows_of = self.windows.of
        groups: dict[Group, tuple[list[str], list[int], dict[str, int]]] = {}
        backlog: Acc = {}
        for f, n in facts.items():
            if f.metric == "open":
                self._interval(f, n, backlog)
                continue
            if f.at > horizon:
                self._hold(f, n)
                continue
            group = (windows_of(f.at), f.dims)
            entry = groups.get(group)
            if entry is None:
                entry = groups[group] = ([], [], {})
            names, value, larger = self._entry(f)
            if names:
                entry[0].extend(names if n == 1 else names * n)
            if value is not None:
                entry[1].extend([value] * n)
            if larger:
                sums = entry[2]
                for name, inc in larger:
                    sums[name] = sums.get(name, 0) + inc * n
        for group, delta in backlog.items():
            entry = groups.get(group)
            if entry is None:
                entry = groups[group] = ([], [], {})
            for token, n in delta.items():
                if n > 0 and isinstance(token, str):
                    entry[0].extend([token] * n)
        temp: dict[tuple[tuple[Window, ...], str, str], tuple[list[str], list[int], dict[str, int]]]
        temp = {}
        projection = self._projection
        for (wins, dims), (names_, values_, weighted) in groups.items():
            for dim, key in projection(dims):
                tk = (wins, dim, key)
                into_entry = temp.get(tk)
                if into_entry is None:
                    temp[tk] = (list(names_), list(values_), dict(weighted))
                    continue
                into_entry[0].extend(names_)
                into_entry[1].extend(values_)
                if weighted:
                    into = into_entry[2]
                    for name, inc in weighted.items():
                        into[name] = into.get(name, 0) + inc
        cells, cell_of, changed = self.cells, self._cell, self.changed
        for (wins, dim, key), (names_, values_, weighted) in temp.items():
            for unit, start in wins:
                ck = (unit, start, dim, key)
                cell = cells.get(ck)
                if cell is None:
                    cell = cell_of(ck)
                counts = cell.counts
                counts.update(names_)
                if values_:
                    cell.values.update(values_)
                for name, inc in weighted.items():
                    counts[name] = counts.get(name, 0) + inc
                changed.add(ck)

    def _hold(self, f: Fact, times: int) -> None:
        left = self._pending.get(f, 0) + times
        if left < 0:
            raise ValueError(f"retracting a fact that was never added: {f}")
        if left:
            self._pending[f] = left
        else:
            del self._pending[f]
        if times > 0:
            self._seq += 1
            heapq.heappush(self._pending_at, (f.at, self._seq, f))

    def _projection(self, dims: Dims) -> tuple[tuple[str, str], ...]:
        proj = self._projections.get(dims)
        if proj is None:
            rest = [(DIMENSION_ATTRS[i], dims[i] or UNKNOWN) for i in self._dim_index]
            proj = (("overall", OVERALL), *rest)
            self._projections[dims] = proj
        return proj

    def _cell(self, key: CellKey) -> Cell:
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell()
            window = (key[0], key[1])
            members = self.by_window.get(window)
            if members is None:
                members = self.by_window[window] = set()
                end = self.windows.end(window[0], window[1])
                milestones = self._milestones
                heapq.heappush(milestones, (end + self.rules.grace_us, window[1], window[0]))
                if window[0] in BACKLOG_UNITS:
                    heapq.heappush(milestones, (end, window[1], window[0]))
            members.add(key)
            self.removed.discard(key)
        return cell

    def _drop(self, key: CellKey) -> None:
        del self.cells[key]
        window = (key[0], key[1])
        members = self.by_window[window]
        members.discard(key)
        if not members:
            del self.by_window[window]
        self.removed.add(key)
        self.changed.add(key)  # for its dependents (next period, next year, other teams)

    def _expand(self, metric: str, value: int) -> tuple[tuple[str, int], ...]:
        """The counters one fact adds to (see `engine.kpis.facts` for the values)."""
        out: list[tuple[str, int]] = []
        if metric == "resolved":
            out.append(("resolved", 1))
            if value & RESOLVED_FCR:
                out.append(("resolved_fcr", 1))
            if value & RESOLVED_REOPENED:
                out.append(("resolved_reopened", 1))
        elif metric == "complaint":
            out.append(("complaints", 1))
            if value:
                out.append(("complaints_in_time", 1))
        elif metric == "records":
            out.append(("records.closed", 1))
            if value == 0:
                out.append(("records.complete", 1))
            for bit, name in enumerate(RECORD_FIELDS):
                if value & (1 << bit):
                    out.append((f"records.missing.{name}", 1))
        elif metric == "survey":
            scores = decode_survey(value)
            out.append(("surveys.submitted", 1))
            flagged = None
            if all(s == 5 for s in scores):
                flagged = "surveys.flagged_all5"
            elif all(s == 1 for s in scores):
                flagged = "surveys.flagged_all1"
            if flagged is not None:
                out += [("surveys.flagged", 1), (flagged, 1)]
            if flagged is None or self.rules.include_flagged_surveys:
                out.append(("surveys.counted", 1))
                if scores[SURVEY_ITEMS.index("overall")] >= 4:
                    out.append(("surveys.satisfied", 1))
                for item, s in zip(SURVEY_ITEMS, scores, strict=True):
                    if s:
                        out += [(f"surveys.sum.{item}", s), (f"surveys.n.{item}", 1)]
        elif metric.startswith("surveys.invalid."):
            out += [("surveys.invalid", 1), (metric, 1)]
        elif metric.startswith("sla.") and metric.count(".") == 1:
            out.append((f"{metric}.due", 1))
            if value:
                out.append((f"{metric}.met", 1))
        else:
            out.append((metric, value))
        return tuple(out)

    # ---------------------------------------------------------------- backlog intervals

    def _band(self, age: int) -> str:
        for limit, name in zip(self.rules.backlog_bands_us, self.bands, strict=False):
            if age < limit:
                return name
        return self.bands[-1]

    def _interval(self, f: Fact, times: int, acc: Acc) -> None:
        horizon = self.horizon
        until = f.until
        pending = until is None or until > horizon
        hi = horizon if pending else until
        assert hi is not None
        self._backlog(f, f.at, hi, times, acc)
        if pending:
            left = self._intervals.get(f, 0) + times
            if left < 0:
                raise ValueError(f"retracting an interval that was never added: {f}")
            if left:
                self._intervals[f] = left
            else:
                del self._intervals[f]

    def _backlog(self, f: Fact, lo: int, hi: int, times: int, acc: Acc) -> None:
        """Count `f` in the backlog of the day/week/month windows ending in (lo, hi]."""
        if hi <= lo:
            return
        for unit, start, end in self.windows.ends_between(lo, hi):
            group = (((unit, start),), f.dims)
            counts = acc.get(group)
            if counts is None:
                counts = acc[group] = {}
            band = f"backlog.{self._band(end - f.value)}"
            counts["backlog"] = counts.get("backlog", 0) + times
            counts[band] = counts.get(band, 0) + times

    def open_backlog(self) -> dict[str, int]:
        """Tickets open at the horizon by age band: the live backlog (a window takes its own
        at its end, so the current windows have none yet)."""
        t = self.horizon
        out = dict.fromkeys(self.bands, 0)
        for f, times in self._intervals.items():
            if f.at <= t and (f.until is None or f.until > t):
                out[self._band(t - f.value)] += times
        return out

    # ---------------------------------------------------------------- time

    def advance(self, t: int) -> None:
        """Move the horizon to `t` (never back): held facts due by then count, backlog is taken
        at the window ends passed, windows past their grace period become final."""
        previous = self.horizon
        if t <= previous:
            return
        self.horizon = t
        heap = self._pending_at
        ready: Counter[Fact] = Counter()
        while heap and heap[0][0] <= t:
            _, _, f = heapq.heappop(heap)
            left = self._pending.get(f, 0)
            if left:
                ready[f] += 1
                if left == 1:
                    del self._pending[f]
                else:
                    self._pending[f] = left - 1
        if ready:
            self._apply(ready, 1)
        if self._intervals and (
            previous == _NEVER or self._next_end is None or t >= self._next_end
        ):
            acc: Acc = {}
            done = []
            for f, times in self._intervals.items():
                until = f.until
                hi = t if until is None or until > t else until
                self._backlog(f, max(f.at, previous), hi, times, acc)
                if until is not None and until <= t:
                    done.append(f)
            for f in done:
                del self._intervals[f]
            self._flush(acc, False)
        self._next_end = self.windows.zone.day_start(self.windows.zone.local_ordinal(t) + 1)
        milestones = self._milestones
        while milestones and milestones[0][0] <= t:
            _, start, unit = heapq.heappop(milestones)
            self.changed.update(self.by_window.get((unit, start), ()))

    # ---------------------------------------------------------------- snapshots

    def take_removed(self) -> list[str]:
        """Compaction keys (`snapshot_key`) of the cells that became empty since the last call
        and are still empty: publish tombstones for them."""
        gone = sorted((k for k in self.removed if k not in self.cells), key=_order)
        self.removed.clear()
        return [cell_key_text(self.windows, k) for k in gone]

    def snapshots(self, changed_only: bool = False) -> list[dict[str, Any]]:
        """JSON-ready `KpiSnapshot` dicts, ordered by unit, window start, dimension, key:
        every cell, or (`changed_only`) those changed since the last such call."""
        return list(self.iter_snapshots(changed_only))

    def iter_snapshots(self, changed_only: bool = False) -> Iterator[dict[str, Any]]:
        """`snapshots` one at a time (for writing many without holding them all)."""
        if changed_only:
            keys = self._affected(self.changed)
            self.changed = set()
        else:
            keys = set(self.cells)
        snapshotter = Snapshotter(self)
        for key in sorted(keys, key=_order):
            yield snapshotter.snapshot(key)

    def _affected(self, changed: set[CellKey]) -> set[CellKey]:
        """Changed cells plus those whose comparisons or team CSAT flag read one of them."""
        out = set(changed)
        windows = self.windows
        team_windows = set()
        for unit, start, dim, key in changed:
            nxt = windows.end(unit, start)
            out.add((unit, nxt, dim, key))
            later = windows.next_year(unit, start)
            if later is not None:
                out.add((unit, later, dim, key))
            if dim == "team":
                team_windows.add((unit, start))
        for window in team_windows:
            out.update(k for k in self.by_window.get(window, ()) if k[2] == "team")
        return {k for k in out if k in self.cells}


def _order(key: CellKey) -> tuple[int, int, int, str]:
    unit, start, dim, k = key
    return (UNIT_ORDER[unit], start, DIMENSION_ORDER[dim], k)


def snapshot_key(snapshot: dict[str, Any]) -> str:
    """The compaction key of a snapshot: unit, window start, dimension, key."""
    w = snapshot["window"]
    return f"{w['unit']}|{w['start']}|{snapshot['dimension']}|{snapshot['key']}"


def cell_key_text(windows: Windows, key: CellKey) -> str:
    """The compaction key of a cell (the same text as `snapshot_key` of its snapshot)."""
    unit, start, dim, k = key
    return f"{unit}|{windows.describe(unit, start)[0]}|{dim}|{k}"
