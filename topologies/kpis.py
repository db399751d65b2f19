"""Live KPIs: one aggregator per cluster, fed with every ticket's facts.

The SLA agents own tickets by partition, but a KPI window spans all tickets, so each ticket's
facts (`engine.kpis.contributions`) travel to the single partition of an internal topic
(`sla.kpi-facts`, keyed by ticket id). Whichever worker owns that partition keeps the latest
facts per ticket in a changelogged RocksDB table and the aggregate in a `KpiAggregate` (log sketch
percentiles, 1 %): a new message replaces the ticket's old facts, so repeats and reorders
change nothing, and after a rebalance the store is rebuilt from the table (bulk add).

Changed snapshots go to the compacted `sla.kpis` topic every `kpi_interval` seconds (keyed by
`snapshot_key`, tombstones for cells that emptied) and into the `sla_kpi*` gauges for the
current day, week and month per team and priority.

When the SLA agent forgets a closed ticket (its retention), it sends a tombstone: the facts
leave the store, which keeps memory bounded. Windows that started before that retention are
then incomplete, so they are no longer published: their last snapshot stays in the compacted
topic (and a `replay --kpis` over the archive gives every window in full).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson

from engine.instant import to_us
from engine.kpis import Fact, KpiAggregate, decode_facts, snapshot_key
from engine.kpis.codec import differing
from engine.kpis.snapshot import Snapshotter
from engine.retention import horizon_us
from engine.rules import RuntimePolicy
from topologies import metrics
from topologies.labels import TEAMS
from topologies.stream_time import PartitionClock

GAUGE_UNITS = ("day", "week", "month")
GAUGE_DIMENSIONS = ("overall", "team", "priority")


def facts_message(now: int, encoded: list[Any] | None) -> bytes:
    """The value sent to the facts topic: the sender's clock and the ticket's encoded facts
    (None: the ticket was forgotten)."""
    return orjson.dumps({"now": now, "facts": encoded})


def facts_message_raw(now: int, raw: bytes) -> bytes:
    """`facts_message(now, encoded)` from `raw = orjson.dumps(encoded)`, already dumped: the
    same bytes (orjson writes a dict compactly, in insertion order), without encoding the facts
    a second time."""
    return b'{"now":%d,"facts":%b}' % (now, raw)


def _facts(raw: bytes | None) -> tuple[Fact, ...]:
    return decode_facts(orjson.loads(raw)) if raw else ()


class KpiAggregator:
    """The KPI store of the worker that owns the facts partition, and what it publishes."""

    def __init__(self, policy: RuntimePolicy, retention_days: float) -> None:
        self.policy = policy
        self.retention_us = horizon_us(retention_days)
        self.store = KpiAggregate(policy, exact=False)
        self.clock = PartitionClock()
        self.ready = False
        self._gauges: set[tuple[str, str, str, str]] = set()
        self._flags: set[tuple[str, str]] = set()

    def reset(self) -> None:
        """The facts partition may have moved: start empty until it is recovered again."""
        self.store = KpiAggregate(self.policy, exact=False)
        self.clock = PartitionClock()
        self.ready = False
        self.clear_gauges()

    def rebuild(self, rows: Iterable[bytes]) -> None:
        """Every ticket's stored facts at once (after recovery of the facts table)."""
        facts: list[Fact] = []
        for raw in rows:
            facts.extend(_facts(raw))
        self.store.add(facts)
        self.ready = True

    def update(self, old: bytes | None, new: bytes | None) -> None:
        """One ticket's facts replaced (`new` None: forgotten): only the rows that differ are
        decoded (`engine.kpis.codec.differing`)."""
        gone, came = differing(
            orjson.loads(old) if old else None, orjson.loads(new) if new else None
        )
        self.store.replace(gone, came)

    def publishable(self, now: int) -> list[tuple[bytes, bytes | None]]:
        """(compaction key, snapshot or None for a tombstone) of every cell changed since the
        last call, in windows that started within the retention period."""
        store = self.store
        store.advance(now)
        cutoff = store.horizon - self.retention_us
        out: list[tuple[bytes, bytes | None]] = []
        for snap in store.iter_snapshots(changed_only=True):
            if to_us(datetime.fromisoformat(snap["window"]["start"])) >= cutoff:
                out.append((snapshot_key(snap).encode(), orjson.dumps(snap)))
        for key in store.take_removed():
            start = key.split("|", 2)[1]
            if to_us(datetime.fromisoformat(start)) >= cutoff:
                out.append((key.encode(), None))
        return out

    def current(self) -> list[dict[str, Any]]:
        """Snapshots of the current day, week and month per overall, team and priority."""
        store = self.store
        if store.horizon < -(2**61):
            return []
        snapshotter = Snapshotter(store)
        out = []
        for unit in GAUGE_UNITS:
            if unit not in store.windows.units:
                continue
            start = store.windows.start(unit, store.horizon)
            for key in sorted(store.by_window.get((unit, start), ())):
                if key[2] in GAUGE_DIMENSIONS:
                    out.append(snapshotter.snapshot(key))
        return out

    def refresh_gauges(self) -> None:
        """`sla_kpi` and `sla_team_csat_flagged` from the current windows; series of windows
        that rolled over are removed."""
        gauges: set[tuple[str, str, str, str]] = set()
        flags: set[tuple[str, str]] = set()
        for snap in self.current():
            unit, dim, key = snap["window"]["unit"], snap["dimension"], snap["key"]
            if dim == "team" and not TEAMS.admits(key):
                continue  # beyond the cap: on the sla.kpis topic only (topologies.labels)
            for name, value in snap["metrics"].items():
                if value is None:
                    continue
                labels = (unit, name, dim, key)
                metrics.KPI.labels(*labels).set(value)
                gauges.add(labels)
            if dim == "team":
                metrics.TEAM_CSAT_FLAGGED.labels(unit, key).set(
                    int("csat_below_team_mean" in snap["flags"])
                )
                flags.add((unit, key))
        for band, count in self.store.open_backlog().items():
            metrics.OPEN_BACKLOG.labels(band).set(count)
        for labels in self._gauges - gauges:
            metrics.KPI.remove(*labels)
        for flag in self._flags - flags:
            metrics.TEAM_CSAT_FLAGGED.remove(*flag)
        self._gauges, self._flags = gauges, flags

    def clear_gauges(self) -> None:
        for labels in self._gauges:
            metrics.KPI.remove(*labels)
        for flag in self._flags:
            metrics.TEAM_CSAT_FLAGGED.remove(*flag)
        self._gauges, self._flags = set(), set()
