"""The live worker's work (`TicketTask`): one batch of events or ticks through the engine, each
record's failure on its own, the timer scan and what a commit or a rebalance must do first.

A record that cannot be used (invalid, too large, too far in the future, older than the
retention horizon) or whose processing raises anything is sent to `tickets.dlq` with its
reason (`processing_error: …` for an exception) and the batch goes on: its ticket is put back
as it was before that record, nothing else of the batch is lost, and the counters say so
(`sla_events_rejected_total`, `sla_processing_errors_total`). A batch first folds every event
of a ticket, then crosses the thresholds due once per ticket (`Ticket.absorb`, then
`Ticket.settle`): an alert reflects everything that arrived with it, so a late ticket that
arrives with its own answer neither pages nor retracts.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

from engine.retention import deadline, expired, horizon_us, nothing_due
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from topologies import metrics
from topologies.kpis import facts_message, facts_message_raw
from topologies.output import Output
from topologies.settings import Settings
from topologies.state import codec
from topologies.state.store import PartitionStore
from topologies.status import StatusPublisher
from topologies.stream_time import Clock
from topologies.worker.alert_counts import count_alerts
from topologies.worker.held_ticks import HeldTicks, LastOffset, unknown_offset
from topologies.worker.intake import Intake
from topologies.worker.outputs import encode_alerts, encode_state
from topologies.worker.partition_state import OpenTimers, PartitionState, Restored

log = logging.getLogger("sla.worker")

_NOW = struct.Struct(">q")
SCAN_LIMIT = 10_000  # due tickets per partition and scan
# A batch's snapshot of a ticket "as last kept" (its pending write or stored state): a ticket
# is only serialised for a rollback once a batch has changed it (`Ticket.to_bytes` is never empty).
KEPT = b""

Highwater = Callable[[Any], "int | None"]  # topic partition -> its high-water mark, if known
Touched = dict[str, tuple[Ticket, Any]]  # ticket id -> (its state, the last event of the batch)
Keep = dict[str, tuple[int, Ticket, bytes]]  # ticket id -> (partition, state, encoded state)


def _unknown(tp: Any) -> int | None:
    return None


class TicketTask:
    """The ticket agents' work on the partitions a worker owns (no await: a batch never
    interleaves with another). Driven by `topologies.app` in the worker, by tests in process
    (`topologies.state.memory.MemoryStore`, a fake `Clock`)."""

    def __init__(
        self,
        settings: Settings,
        policy: RuntimePolicy,
        store: PartitionStore,
        timers: OpenTimers,
        sink: Output,
        clock: Clock,
        highwater: Highwater = _unknown,
        last_offset: LastOffset = unknown_offset,
    ) -> None:
        self.settings = settings
        self.sink = sink
        self.clock = clock
        self.highwater = highwater
        self.state = PartitionState(settings, policy, store, timers, clock)
        self.intake = Intake(settings, sink, clock)
        self.statuses = StatusPublisher(settings.status_topic, sink.send, self.partition_now)
        self.untargeted: dict[str, int] = {}  # per ticket of the batch: cycles known untargeted
        self.retention_us = horizon_us(settings.retention_days)
        self.limit = int(settings.max_message_bytes)
        self.held = HeldTicks(last_offset)  # a backlog's due ticks, waiting for its events

    def partition_now(self, partition: int) -> int:
        """The partition's clock now (stream time while it is behind, else the wall clock)."""
        return self.state.clock(partition).now(self.clock.wall_us(), self.clock.monotonic())

    def ready(self) -> bool:
        """Whether the tickets table has recovered (the batch loop waits for it)."""
        return self.state.ready

    # events
    def on_events(self, batch: Sequence[Any]) -> None:
        """Validate, re-key or fold each event; then settle and keep each touched ticket once."""
        touched: Touched = {}
        before: dict[str, bytes | None] = {}  # each touched ticket's state before the batch
        absorbed: dict[str, list[tuple[Any, str]]] = {}  # (event, event id) per ticket
        highwaters: dict[Any, int | None] = {}  # the last fetch's: the same for the whole batch
        self.untargeted = {}
        for event in batch:
            try:
                self._absorb(event, touched, before, absorbed, highwaters)
            except Exception as e:
                self.intake.failed(event.message, "event", e)
        kept = self._settle(touched, before, absorbed)
        self._statuses({t: touched[t] for t in kept})
        metrics.EVENTS.inc(len(batch))
        seen = self.held.seen
        for event in batch:
            seen(event.message.partition, event.message.offset)
        self._release()

    def _statuses(self, touched: Touched) -> None:
        """One `sla.status` message per ticket kept by the batch; new untargeted cycles counted."""
        for ticket_id, (ticket, _) in touched.items():
            known = self.untargeted.get(ticket_id)
            if known is not None:
                for clock_name, _, _ in ticket.state.untargeted[known:]:
                    metrics.UNTARGETED.labels(clock_name).inc()
        self.statuses.publish(touched)

    def _absorb(
        self,
        event: Any,
        touched: Touched,
        before: dict[str, bytes | None],
        absorbed: dict[str, list[tuple[Any, str]]],
        highwaters: dict[Any, int | None],
    ) -> None:
        msg = event.message
        compact = self.intake.usable(msg)
        if compact is None:
            return
        state = self.state
        ticket_id = msg.key.decode()
        ticket = state.load(ticket_id, msg.partition, touched)
        # Before its first change in the batch a ticket is as kept: no snapshot to take.
        first = ticket_id not in before
        snapshot = None if ticket is None else KEPT if first else ticket.to_bytes()
        before.setdefault(ticket_id, snapshot)
        tp = msg.tp
        if tp not in highwaters:
            highwaters[tp] = self.highwater(tp)
        state.clock(msg.partition).observe(
            compact.at, msg.offset, highwaters[tp], self.clock.monotonic()
        )
        try:
            if ticket is None:
                ticket = Ticket.new(ticket_id, state.policy)
            self.untargeted.setdefault(ticket_id, len(ticket.state.untargeted))
            if ticket.absorb(compact):
                touched[ticket_id] = (ticket, event)
                absorbed.setdefault(ticket_id, []).append((event, compact.id))
        except Exception:
            restored = self._put_back(ticket_id, msg.partition, snapshot, touched)
            if restored is not None and ticket_id in absorbed:
                touched[ticket_id] = (restored, absorbed[ticket_id][-1][0])
            raise

    def _settle(
        self,
        touched: Touched,
        before: dict[str, bytes | None],
        absorbed: dict[str, list[tuple[Any, str]]],
    ) -> list[str]:
        """Cross each touched ticket's thresholds due by its partition's clock, once; the ids
        of the tickets kept (not put back after a failure), in the order the batch first
        touched them: a list, not a set, so the output order does not hang on the hash seed."""
        state, retention = self.state, self.settings.retention_days
        wall, mono = self.clock.wall_us(), self.clock.monotonic()
        keep: Keep = {}
        for ticket_id, (ticket, last) in list(touched.items()):
            partition = last.message.partition
            events = absorbed[ticket_id]
            try:
                now = state.clock(partition).now(wall, mono)
                alerts = ticket.settle(now, wall, events[-1][1])
                payloads = encode_alerts(alerts, self.limit)
                value = encode_state(ticket, partition, retention, self.limit)
            except Exception as e:
                self._put_back(ticket_id, partition, before[ticket_id], touched)
                for event, _id in events:
                    self.intake.failed(event.message, "settle", e)
                continue
            keep[ticket_id] = (partition, ticket, value)
            self._publish(ticket, alerts, payloads, now, False, wall)
        state.save_many(keep)
        return list(keep)

    def _put_back(
        self, ticket_id: str, partition: int, snapshot: bytes | None, touched: Touched
    ) -> Ticket | None:
        """Put a ticket back as `snapshot` (`Ticket.to_bytes`; None: it did not exist; `KEPT`:
        as last kept) after its processing raised."""
        state = self.state
        if snapshot == KEPT:
            return state.put_back(ticket_id, state.kept(ticket_id, partition), touched)
        return state.restore(ticket_id, snapshot, touched)

    def _publish(
        self,
        ticket: Ticket,
        alerts: list[dict[str, Any]],
        payloads: list[bytes],
        now: int,
        from_timer: bool,
        wall: int,
    ) -> None:
        key = ticket.ticket_id.encode()
        for payload in payloads:
            self.sink.send(self.settings.alerts_topic, key, payload)
        if alerts:
            count_alerts(alerts, from_timer, wall)
        self.state.dirty[ticket.ticket_id] = (ticket, now)

    # ticks
    def on_ticks(self, batch: Sequence[Any]) -> None:
        """Run each tick; drop tickets past their retention; keep each touched ticket once. A
        tick that finds nothing due (an event since the scan saw to it) changes nothing."""
        touched: Touched = {}
        keep: Keep = {}
        idle: dict[int, list[tuple[str, int | None]]] = {}
        self.untargeted = {}
        for event in batch:
            try:
                self._tick(event, touched, keep, idle)
            except Exception as e:
                self.intake.failed(event.message, "tick", e)
        self.state.save_many(keep)
        for partition, entries in idle.items():
            self.state.index(partition).set_many(entries)
        self._statuses({t: touched[t] for t in keep if t in touched})

    def _tick(
        self,
        event: Any,
        touched: Touched,
        keep: Keep,
        idle: dict[int, list[tuple[str, int | None]]],
    ) -> None:
        state, msg = self.state, event.message
        ticket_id = msg.key.decode()
        ticket = state.load(ticket_id, msg.partition, touched)
        if ticket is None:
            return
        wall = self.clock.wall_us()
        now = _NOW.unpack(msg.value)[0] if len(msg.value or b"") == _NOW.size else wall
        if nothing_due(ticket, now, self.retention_us):
            # Nothing due: an event read after the scan already crossed the threshold, moved or
            # stopped the clock (most ticks while a backlog is read). The ticket is as kept:
            # nothing to write, announce or publish; its index entry is put back as it stands.
            idle.setdefault(msg.partition, []).append(
                (ticket_id, deadline(ticket, self.settings.retention_days))
            )
            return
        self.untargeted.setdefault(ticket_id, len(ticket.state.untargeted))
        try:
            alerts = ticket.tick(now, wall)
            payloads = encode_alerts(alerts, self.limit)
            gone = expired(ticket, now, self.retention_us)
            retention = self.settings.retention_days
            value = b"" if gone else encode_state(ticket, msg.partition, retention, self.limit)
        except Exception:
            # As before this tick: as an earlier tick of the batch left it, else as kept.
            earlier = keep.get(ticket_id)
            was: Ticket | None
            if earlier is not None:
                was = codec.decode(earlier[2], state.policy)
            else:
                was = state.kept(ticket_id, msg.partition)
            restored = state.put_back(ticket_id, was, touched)
            if restored is not None and ticket_id in keep:
                keep[ticket_id] = (msg.partition, restored, keep[ticket_id][2])
            raise
        if gone:
            touched.pop(ticket_id, None)
            keep.pop(ticket_id, None)
            self._forget(ticket, msg.partition, now, alerts, payloads, wall)
            return
        touched[ticket_id] = (ticket, event)
        keep[ticket_id] = (msg.partition, ticket, value)
        self._publish(ticket, alerts, payloads, now, True, wall)

    def _forget(
        self,
        ticket: Ticket,
        partition: int,
        now: int,
        alerts: list[dict[str, Any]],
        payloads: list[bytes],
        wall: int,
    ) -> None:
        """A ticket closed longer than the retention: its last alerts, then its state, KPI
        facts (one producer for both, so they stay in order) and status are dropped."""
        ticket_id = ticket.ticket_id
        self.state.drop(ticket_id, partition)
        for payload in payloads:
            self.sink.send(self.settings.alerts_topic, ticket_id.encode(), payload)
        if alerts:
            count_alerts(alerts, True, wall)
        facts = facts_message(now, None)
        self.sink.send(self.settings.kpi_facts_topic, ticket_id.encode(), facts, 0)
        self.statuses.forget(ticket_id, partition)

    # timers
    def scan(self, wall_us: int | None = None) -> None:
        """Send a tick to each ticket due by its partition's clock (at `wall_us`, default the
        clock's), on the ticket's own partition of the ticks topic; while the partition reads
        a backlog, held first (`HeldTicks`). Nothing before recovery."""
        state = self.state
        if not state.ready:
            return
        wall = self.clock.wall_us() if wall_us is None else wall_us
        mono = self.clock.monotonic()
        self._release()
        for partition, idx in list(state.indexes.items()):
            clock = state.clock(partition)
            now = clock.now(wall, mono)
            due = [ticket_id for _due, ticket_id in idx.pop_due(now, limit=SCAN_LIMIT)]
            self._send_ticks(
                partition, now, self.held.hold(partition, clock.in_backlog(mono), mono, due)
            )
        self.sink.poll()
        metrics.OPEN_TICKETS.set(state.open_tickets())

    def _send_ticks(self, partition: int, now: int, ticket_ids: list[str]) -> None:
        value = _NOW.pack(now)
        for ticket_id in ticket_ids:
            self.sink.send(self.settings.ticks_topic, ticket_id.encode(), value, partition)
        if ticket_ids:
            metrics.TICKS.labels("sent").inc(len(ticket_ids))

    def _release(self) -> None:
        """Tick the held tickets whose wait is over (`HeldTicks.ready`), if still due; the
        others' timer entries are put back as they stand."""
        state, retention = self.state, self.settings.retention_days
        mono = self.clock.monotonic()
        for partition in self.held.partitions():
            ready = self.held.ready(partition, mono)
            if not ready:
                continue
            now = self.partition_now(partition)
            due: list[str] = []
            idle: list[tuple[str, int | None]] = []
            for ticket_id in ready:
                ticket = state.load(ticket_id, partition)
                if ticket is None:
                    continue
                if nothing_due(ticket, now, self.retention_us):
                    idle.append((ticket_id, deadline(ticket, retention)))
                else:
                    due.append(ticket_id)
            state.index(partition).set_many(idle)
            metrics.TICKS.labels("answered").inc(len(ready) - len(due))
            self._send_ticks(partition, now, due)

    # commits and rebalances
    def before_commit(self) -> None:
        """What the batches since the last commit emitted, on the broker, then the state that
        says it was announced. Facts go out once per commit, however many events a ticket had;
        a repeated event after a crash marks its ticket again, so nothing is lost."""
        topic = self.settings.kpi_facts_topic
        for ticket_id, now, raw in self.state.take_dirty():
            self.sink.send(topic, ticket_id.encode(), facts_message_raw(now, raw), 0)
        self.write_through()

    def write_through(self) -> None:
        """Flush the output, write the pending tickets, flush their changelog."""
        self.sink.flush()  # alerts, ticks, facts, dead letters: on the broker
        self.state.write_pending()  # only then the state that says they were announced
        self.sink.flush()  # and its changelog, before the offsets go out

    def revoked(self) -> None:
        """Partitions are being revoked: the pending tickets go into their partitions before
        those close; timers stop until the table is recovered again."""
        self.write_through()
        self.state.reset()
        self.held.clear()

    def recovered(self, restored: Restored | None = None) -> None:
        """The table is recovered: rebuild the timer indexes (from `restored`, the entries the
        bulk restore collected, when given), start processing."""
        self.held.clear()
        self.state.rebuild(restored)

    def close(self) -> None:
        """At shutdown: close the timer indexes, deliver what is queued (best effort)."""
        self.state.close()
        # Best effort, e.g. ticks sent since the last commit. Faust has closed the tables by
        # now: their changelog offsets are not stored (a restart reads a little more).
        left = self.sink.producer.flush(5.0)
        if left:
            log.warning("at shutdown: %d message(s) not delivered", left)
