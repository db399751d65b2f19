"""The state of the partitions a worker owns (`PartitionState`): what a batch reads and keeps.

A ticket is read from the batch being processed, the changes waiting for the next commit, the
decoded-ticket cache or its partition of the store, in that order. Changed tickets wait in
`pending` until the commit writes them (`write_pending`), once the alerts they announce are on
the broker. Their deadlines go to the partition's timer index at once; the index is rebuilt
from the store after every recovery (`rebuild`).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from engine.kpis import contributions, encode_facts
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from topologies import metrics
from topologies.settings import Settings
from topologies.state import codec
from topologies.state.store import PartitionStore
from topologies.stream_time import Clock, PartitionClock
from topologies.timers import TimerIndex
from topologies.worker.clock_counts import ClockCounts

log = logging.getLogger("sla.worker")

OpenTimers = Callable[[int], TimerIndex]  # partition -> its timer index, opened empty
# partition -> its tickets' deadlines (UTF-8 ticket id -> µs), the whole recovered table's
Restored = Mapping[int, Mapping[bytes, int]]


def timers_under(root: Path) -> OpenTimers:
    """Each partition's timer index in `root/p<partition>`: not durable, rebuilt from the store
    after every recovery."""

    def open_index(partition: int) -> TimerIndex:
        return TimerIndex(root / f"p{partition}", durable=False)

    return open_index


class PartitionState:
    """The state of the partitions a worker owns: the tickets' store, the decoded-ticket
    cache, the changes waiting for the next commit, the timer indexes and stream times."""

    def __init__(
        self,
        settings: Settings,
        policy: RuntimePolicy,
        store: PartitionStore,
        timers: OpenTimers,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.store = store
        self.open_timers = timers
        self.wall = clock
        self.cache: OrderedDict[str, Ticket] = OrderedDict()
        self.counts = ClockCounts()  # the clock gauges over `cache`, kept as it changes
        self.indexes: dict[int, TimerIndex] = {}
        self.ready = False
        self.clocks: dict[int, PartitionClock] = {}
        self.started = clock.monotonic()
        self.facts_sent: OrderedDict[str, bytes] = OrderedDict()
        self.dirty: dict[str, tuple[Ticket, int]] = {}  # KPI facts to send before the commit
        # Tickets changed since the last commit, not yet in RocksDB nor the changelog:
        # ticket id -> (partition, ticket or None = delete). Written by `write_pending` only
        # once the alerts they announce are delivered (local state never ahead of the output).
        self.pending: dict[str, tuple[int, Ticket | None, bytes | None]] = {}

    def clock(self, partition: int) -> PartitionClock:
        c = self.clocks.get(partition)
        if c is None:
            c = self.clocks[partition] = PartitionClock()
        return c

    # state
    def load(
        self,
        ticket_id: str,
        partition: int,
        touched: Mapping[str, tuple[Ticket, Any]] | None = None,
    ) -> Ticket | None:
        """The ticket's current state: changed in the batch being processed (`touched`), since
        the last commit (`pending`, not written yet), decoded in the cache, or read from its
        partition of the table."""
        if touched is not None:
            entry = touched.get(ticket_id)
            if entry is not None:
                return entry[0]
        waiting = self.pending.get(ticket_id)
        if waiting is not None:
            return waiting[1]
        ticket = self.cache.get(ticket_id)
        if ticket is not None:
            self.cache.move_to_end(ticket_id)
            return ticket
        raw = self.store.get(partition, ticket_id.encode())
        if raw is None:
            return None
        ticket = codec.decode(raw, self.policy)
        self._remember(ticket)
        return ticket

    def _remember(self, ticket: Ticket) -> None:
        self.cache[ticket.ticket_id] = ticket
        self.counts.add(ticket)
        if len(self.cache) > self.settings.cache_tickets:
            evicted, _ = self.cache.popitem(last=False)
            self.counts.remove(evicted)

    def save_many(self, keep: Mapping[str, tuple[int, Ticket, bytes]]) -> None:
        """Keep each ticket a batch changed, `(partition, ticket, encoded state)`, for the next
        commit (`pending`), and move its deadlines with one index batch per partition. The
        deadline is read from the encoded state's header (`codec.peek`), where `codec.encode`
        put `deadline(ticket, retention)`: computed once, not again here."""
        moves: dict[int, list[tuple[str, int | None]]] = {}
        peek = codec.peek
        for ticket_id, (partition, ticket, value) in keep.items():
            self.pending[ticket_id] = (partition, ticket, value)
            moves.setdefault(partition, []).append((ticket_id, peek(value)[0]))
            self._remember(ticket)
        for partition, items in moves.items():
            self.index(partition).set_many(items)

    def write_pending(self) -> None:
        """Write the tickets changed since the last commit to the store (RocksDB, its changelog
        queued). Called only once everything they announced is on the broker, so neither the
        local state nor the changelog is ever ahead of the alerts: after a kill before this,
        the table holds those tickets as before the events, which are read again (their
        offsets are committed only after this write) and announce the same ids again."""
        pending, self.pending = self.pending, {}
        writes: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for ticket_id, (partition, _ticket, value) in pending.items():
            writes.setdefault(partition, []).append((ticket_id.encode(), value))
        self.store.write(writes)

    def kept(self, ticket_id: str, partition: int) -> Ticket | None:
        """The ticket as last kept, decoded afresh: its pending write, else its partition of
        the store. Until a batch changes it, that is the state the cache holds, so a batch
        needs no snapshot of a ticket before its first change (only a failure reads this)."""
        waiting = self.pending.get(ticket_id)
        raw = waiting[2] if waiting is not None else self.store.get(partition, ticket_id.encode())
        return codec.decode(raw, self.policy) if raw else None

    def restore(
        self, ticket_id: str, snapshot: bytes | None, touched: dict[str, tuple[Ticket, Any]]
    ) -> Ticket | None:
        """Put a ticket back as it was (`snapshot`, `Ticket.to_bytes`; None: it did not exist)
        after its processing raised half-way (`put_back`)."""
        ticket = Ticket.from_bytes(snapshot, self.policy) if snapshot is not None else None
        return self.put_back(ticket_id, ticket, touched)

    def put_back(
        self, ticket_id: str, ticket: Ticket | None, touched: dict[str, tuple[Ticket, Any]]
    ) -> Ticket | None:
        """Put a ticket back as `ticket` (None: it did not exist) after its processing raised
        half-way: in the batch, the cache, the pending writes and the KPI facts to send.
        Returns it."""
        touched.pop(ticket_id, None)
        self.cache.pop(ticket_id, None)
        self.counts.remove(ticket_id)
        self.facts_sent.pop(ticket_id, None)
        if ticket is not None:
            self._remember(ticket)
        waiting = self.pending.get(ticket_id)
        if waiting is not None:
            self.pending[ticket_id] = (waiting[0], ticket, waiting[2])
        dirty = self.dirty.pop(ticket_id, None)
        if dirty is not None and ticket is not None:
            self.dirty[ticket_id] = (ticket, dirty[1])
        return ticket

    def take_dirty(self) -> list[tuple[str, int, bytes]]:
        """(ticket id, clock, encoded facts as JSON) of the tickets touched since the last call
        whose facts changed: computed once per commit, however many events a ticket had."""
        dirty, self.dirty = self.dirty, {}
        out = []
        for ticket_id, (ticket, now) in dirty.items():
            encoded = self.facts(ticket)
            if encoded is not None:
                out.append((ticket_id, now, encoded))
        return out

    def facts(self, ticket: Ticket) -> bytes | None:
        """The ticket's encoded KPI facts (`orjson.dumps(encode_facts(...))`) when they changed
        since last sent (None: unchanged)."""
        raw = orjson.dumps(encode_facts(contributions(ticket)))
        if self.facts_sent.get(ticket.ticket_id) == raw:
            self.facts_sent.move_to_end(ticket.ticket_id)
            return None
        self.facts_sent[ticket.ticket_id] = raw
        if len(self.facts_sent) > self.settings.cache_tickets:
            self.facts_sent.popitem(last=False)
        return raw

    def drop(self, ticket_id: str, partition: int) -> None:
        """Forget a ticket closed longer than the retention period (at once, not at the end of
        the batch: a later tick of the same batch must not find it; deleted from the table at
        the next commit)."""
        self.cache.pop(ticket_id, None)
        self.counts.remove(ticket_id)
        self.facts_sent.pop(ticket_id, None)
        self.dirty.pop(ticket_id, None)
        self.pending[ticket_id] = (partition, None, None)
        self.index(partition).set(ticket_id, None)

    # timers
    def index(self, partition: int) -> TimerIndex:
        idx = self.indexes.get(partition)
        if idx is None:
            idx = self.indexes[partition] = self.open_timers(partition)
        return idx

    def reset(self) -> None:
        """A rebalance started: timers stop until the table is recovered again."""
        self.ready = False
        self.pending.clear()  # written before this (on_revoked), unless delivery failed
        self.cache.clear()
        self.counts.clear()
        self.facts_sent.clear()
        for idx in self.indexes.values():
            idx.clear()

    def rebuild(self, restored: Restored | None = None) -> None:
        """Refill the timer indexes from the recovered table (active partitions only), or from
        `restored`: what the bulk restore read from the changelog into the whole table."""
        for idx in self.indexes.values():
            idx.clear()
        if restored is None:
            per_partition: dict[int, list[tuple[str, int | None]]] = {}
            for key, value in self.store.items():
                due, partition = codec.peek(value)
                per_partition.setdefault(partition, []).append((key.decode(), due))
            for partition, items in per_partition.items():
                self.index(partition).rebuild(items)
        else:
            for partition, entries in restored.items():
                self.index(partition).rebuild_raw(entries)
        log.info(
            "timer indexes rebuilt: %d open tickets, from %s",
            self.open_tickets(),
            "the table" if restored is None else "the bulk restore's entries",
        )
        self.ready = True
        metrics.OPEN_TICKETS.set(self.open_tickets())
        metrics.RECOVERY.set(self.wall.monotonic() - self.started)

    def open_tickets(self) -> int:
        """Tickets with a deadline in the owned partitions' timer indexes."""
        return sum(len(idx) for idx in self.indexes.values())

    def close(self) -> None:
        """Close the timer indexes (at shutdown)."""
        for idx in self.indexes.values():
            idx.close()
        self.indexes.clear()
