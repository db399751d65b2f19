"""`KpiAggregate`: facts aggregated into tumbling event-time windows × dimensions.

Order-independent by construction: a cell (window, dimension, key) holds integer counters and
duration distributions, each a sum over the facts in it, and a fact's cell set depends only on
the fact. Adding and retracting facts commute, so any arrival order, and any sequence of
`replace(old, new)` calls ending with the same facts, gives the same cells.

The aggregate has a **horizon** (stream time: the replay clock, or the live worker's clock),
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
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import engine.kpis.attainment as attainment
import engine.kpis.complaints as complaints
import engine.kpis.records as records
import engine.kpis.resolution as resolution
import engine.kpis.surveys as surveys
from engine.kpis.backlog import NEVER, Backlog
from engine.kpis.cells import Acc, Cell, CellKey, Group, cell_key_text, order
from engine.kpis.counts import add_count, minus, tally
from engine.kpis.facts import DIMENSION_ATTRS, DIST_OFFSET, Dims, Fact
from engine.kpis.sketch import ALPHA, LogMapping
from engine.kpis.snapshot import Snapshotter
from engine.kpis.windows import BACKLOG_UNITS, Window, Windows
from engine.rules import RuntimePolicy

OVERALL = "all"
UNKNOWN = "unknown"
_BULK = 64  # distinct facts in one `add` above which the bulk path is taken
DIST_INDEX = {name: i for i, name in enumerate(resolution.DISTRIBUTIONS)}


class KpiAggregate:
    """Facts → cells; see the module docstring. `exact=True` keeps every duration (exact
    percentiles, for replay); `exact=False` keeps log buckets with relative accuracy `alpha`
    (bounded memory, percentiles within 1 %, for the live worker)."""

    def __init__(self, policy: RuntimePolicy, exact: bool = True, alpha: float = ALPHA) -> None:
        self.policy = policy
        self.rules = policy.kpis
        self.windows = Windows(self.rules.timezone, self.rules.units)
        self.exact = exact
        self.mapping = None if exact else LogMapping(alpha)
        self.horizon = NEVER
        self.cells: dict[CellKey, Cell] = {}
        self.by_window: dict[Window, set[CellKey]] = {}
        self.changed: set[CellKey] = set()
        self.removed: set[CellKey] = set()
        self.clocks = tuple(c.name for c in policy.clocks)
        self.backlog = Backlog(self.rules, self.windows)
        self._pending: dict[Fact, int] = {}  # point facts later than the horizon
        self._pending_at: list[tuple[int, int, Fact]] = []
        self._seq = 0
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
        """A ticket's facts changed from `old` to `new`: only the difference is applied (the
        live aggregator's every update: counted in plain dicts, `Counter`'s `-` and `==` are
        interpreted Python), an open interval whose end moved only between its two ends."""
        before, after = tally(old), tally(new)
        gone = minus(before, after)
        came = minus(after, before)
        retracted, added = self.backlog.move(gone, came, self.horizon) if came else ({}, {})
        if retracted:
            self._flush(retracted, True)
        if gone:
            self._apply(gone, -1)
        if came:
            self._apply(came, 1)
        if added:
            self._flush(added, False)

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

    def _apply(self, facts: Mapping[Fact, int], sign: int) -> None:
        """Add (sign 1) or retract (sign -1) facts, one group of cells at a time."""
        acc: Acc = {}
        for group, times, (names, value, weighted) in self._route(facts, sign, acc):
            counts = acc.get(group)
            if counts is None:
                counts = acc[group] = {}
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
                    cell = cells.get(ck) or cell_of(ck)  # the lookup inline: a call less per cell
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
        dimension, key), counted once there by `Counter` (which counts in C), then merged
        into each window's cell dict."""
        groups: dict[Group, tuple[list[str], list[int], dict[str, int]]] = {}
        backlog: Acc = {}
        for group, n, (names, value, larger) in self._route(facts, 1, backlog):
            entry = groups.get(group)
            if entry is None:
                entry = groups[group] = ([], [], {})
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
            named = Counter(names_)  # counted in C, once for all the windows
            for name, inc in weighted.items():
                named[name] += inc
            valued = Counter(values_)
            for unit, start in wins:
                ck = (unit, start, dim, key)
                cell = cells.get(ck) or cell_of(ck)
                counts = cell.counts
                for name, n in named.items():
                    counts[name] = counts.get(name, 0) + n
                values = cell.values
                for bucket, n in valued.items():
                    values[bucket] = values.get(bucket, 0) + n
                changed.add(ck)

    def _route(
        self, facts: Mapping[Fact, int], sign: int, backlog: Acc
    ) -> Iterator[tuple[Group, int, tuple[list[str], int | None, list[tuple[str, int]]]]]:
        """Each windowed fact's group, signed count and entry; open facts go to the backlog
        (summed into `backlog`), facts past the horizon are held until it reaches them."""
        horizon = self.horizon
        windows_of = self.windows.of
        for f, n in facts.items():
            times = n * sign
            if f.metric == "open":
                self.backlog.add(f, times, horizon, backlog)
                continue
            if f.at > horizon:
                self._hold(f, times)
                continue
            yield (windows_of(f.at), f.dims), times, self._entry(f)

    def _hold(self, f: Fact, times: int) -> None:
        if add_count(self._pending, f, times) < 0:
            raise ValueError(f"retracting a fact that was never added: {f}")
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
        """The counters one fact adds to: its family's, else the metric itself by `value`."""
        out = (
            resolution.counters(metric, value)
            or attainment.counters(metric, value)
            or complaints.counters(metric, value)
            or records.counters(metric, value)
            or surveys.counters(metric, value, self.rules)
        )
        return out if out is not None else ((metric, value),)

    def open_backlog(self) -> dict[str, int]:
        """Tickets open at the horizon by age band: the live backlog (a window takes its own
        at its end, so the current windows have none yet)."""
        return self.backlog.open_now()

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
            self.add(ready)  # often thousands at once (a publication's worth): the bulk path
        acc: Acc = {}
        self.backlog.advance(previous, t, acc)
        if acc:
            self._flush(acc, False)
        milestones = self._milestones
        while milestones and milestones[0][0] <= t:
            _, start, unit = heapq.heappop(milestones)
            self.changed.update(self.by_window.get((unit, start), ()))

    # ---------------------------------------------------------------- snapshots

    def take_removed(self) -> list[str]:
        """Compaction keys (`snapshot_key`) of the cells that became empty since the last call
        and are still empty: publish tombstones for them."""
        gone = sorted((k for k in self.removed if k not in self.cells), key=order)
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
        for key in sorted(keys, key=order):
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
