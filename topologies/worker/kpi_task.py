"""The KPI agent's work (`KpiTask`): fold the facts each ticket's worker sent into the
aggregate, publish the snapshots that changed (`topologies.kpis.KpiAggregator`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson

from topologies.kpis import KpiAggregator
from topologies.output import Output
from topologies.settings import Settings
from topologies.state.store import PartitionStore
from topologies.stream_time import Clock
from topologies.worker.task import Highwater

log = logging.getLogger("sla.worker")


class KpiTask:
    """The aggregator of the facts partition, its facts table and what it publishes."""

    def __init__(
        self,
        settings: Settings,
        aggregator: KpiAggregator,
        store: PartitionStore,
        sink: Output,
        clock: Clock,
        highwater: Highwater,
    ) -> None:
        self.settings = settings
        self.aggregator = aggregator
        self.store = store
        self.sink = sink
        self.clock = clock
        self.highwater = highwater

    def ready(self) -> bool:
        """Whether the facts table has recovered (the batch loop waits for it)."""
        return self.aggregator.ready

    def on_facts(self, batch: Sequence[Any]) -> None:
        """The latest facts of each ticket in the batch replace its stored ones: in the KPI
        store and in the facts table (one write per ticket, as for the tickets table)."""
        aggregator = self.aggregator
        latest: dict[tuple[int, bytes], bytes | None] = {}
        highwaters: dict[Any, int | None] = {}
        mono = self.clock.monotonic()
        for event in batch:
            msg = event.message
            body = orjson.loads(msg.value)
            tp = msg.tp
            if tp not in highwaters:
                highwaters[tp] = self.highwater(tp)
            aggregator.clock.observe(int(body["now"]), msg.offset, highwaters[tp], mono)
            new = orjson.dumps(body["facts"]) if body["facts"] is not None else None
            latest[(msg.partition, msg.key)] = new  # a later message of a ticket replaces
        writes: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for (partition, key), new in latest.items():
            old = self.store.get(partition, key)
            if new != old:
                aggregator.update(old, new)
                writes.setdefault(partition, []).append((key, new))
        self.store.write(writes)

    def publish(self) -> None:
        """Debounced: the snapshots changed since the last run, and the current-window gauges."""
        aggregator = self.aggregator
        if not aggregator.ready:
            return
        now = aggregator.clock.now(self.clock.wall_us(), self.clock.monotonic())
        for key, value in aggregator.publishable(now):
            self.sink.send(self.settings.kpis_topic, key, value)
        self.sink.poll()
        aggregator.refresh_gauges()

    def recovered(self) -> None:
        """The facts table is recovered: the aggregate is rebuilt from it."""
        self.aggregator.reset()
        self.aggregator.rebuild(value for _key, value in self.store.items())

    def before_commit(self) -> None:
        """On a `kpis` worker (no ticket task to do it): the snapshots and the facts table's
        changelog on the broker before the facts that made them count as done."""
        self.sink.flush()

    def close(self) -> None:
        """At shutdown of a `kpis` worker: deliver what is queued (best effort)."""
        left = self.sink.producer.flush(5.0)
        if left:
            log.warning("at shutdown: %d message(s) not delivered", left)
