"""One batch of events or ticks through the engine, each record's failure on its own.

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
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from engine.history import Ev, from_model, to_row
from engine.instant import iso
from engine.ticket import Ticket
from schemas.parse import InvalidEvent, parse_event
from topologies import metrics, state
from topologies.dlq import MAX_EVENT_BYTES, dead_letter, dlq_key

log = logging.getLogger("sla.worker")

_NOW = struct.Struct(">q")
# librdkafka's message.max.bytes is 1,000,000 (the broker's default limit is about the same):
# an output that would not fit is refused before anything of its record is sent. The worker's
# limit is `--max-message-bytes` (this by default), for brokers configured lower.
MAX_OUTPUT_BYTES = 900_000

Count = Callable[[list[dict[str, Any]], bool, int], None]
Highwater = Callable[[Any], "int | None"]


class OutputTooLarge(ValueError):
    """Something the engine would emit does not fit in a Kafka message."""


def now_us() -> int:
    return time.time_ns() // 1000


def encode_alerts(alerts: list[dict[str, Any]], limit: int = MAX_OUTPUT_BYTES) -> list[bytes]:
    payloads = [orjson.dumps(a) for a in alerts]
    for p in payloads:
        if len(p) > limit:
            raise OutputTooLarge(f"an alert of {len(p)} bytes (at most {limit})")
    return payloads


def encode_state(
    ticket: Ticket, partition: int, retention_days: float, limit: int = MAX_OUTPUT_BYTES
) -> bytes:
    value = state.encode(ticket, partition, retention_days)
    if len(value) > limit:
        raise OutputTooLarge(f"ticket state of {len(value)} bytes (at most {limit})")
    return value


class Stepper:
    """The events and ticks agents' work on one batch (no await: a batch never interleaves)."""

    def __init__(
        self, engine: Any, out: Any, highwater: Highwater, count: Count, statuses: Any = None
    ) -> None:
        self.engine = engine
        self.out = out
        self.statuses = statuses  # `topologies.status.StatusPublisher`: sla.status per batch
        self.untargeted: dict[str, int] = {}  # per ticket of the batch: cycles known untargeted
        self.settings = engine.settings
        self.highwater = highwater
        self.count = count
        self.retention_us = int(self.settings.retention_days * state.DAY_US)
        self.skew_us = int(self.settings.max_skew * 1_000_000)
        self.limit = int(self.settings.max_message_bytes)

    # dead letters
    def reject(self, msg: Any, reason: str, label: str) -> None:
        metrics.REJECTED.labels(label).inc()
        record = dead_letter(
            reason, msg.value, msg.topic, msg.partition, msg.offset, msg.key, now_us()
        )
        self.out.send(self.settings.dlq_topic, dlq_key(msg.key), record)

    def failed(self, msg: Any, stage: str, exc: BaseException) -> None:
        """A record whose processing raised: dead-lettered, counted and logged (the log line
        names the exception type only: its text may quote input)."""
        metrics.PROCESSING_ERRORS.labels(stage).inc()
        log.error(
            "processing_error (%s) at %s[%d]@%d: %s; record sent to %s",
            stage,
            msg.topic,
            msg.partition,
            msg.offset,
            type(exc).__name__,
            self.settings.dlq_topic,
        )
        reason = f"processing_error: {type(exc).__name__}: {exc}"
        self.reject(msg, reason[:1000], "processing_error")

    # events
    def events(self, batch: Sequence[Any]) -> None:
        """Validate, re-key or fold each event; then settle and keep each touched ticket once."""
        touched: dict[str, tuple[Ticket, Any]] = {}
        before: dict[str, bytes | None] = {}  # each touched ticket's state before the batch
        absorbed: dict[str, list[tuple[Any, str]]] = {}  # (event, event id) per ticket
        highwaters: dict[Any, int | None] = {}  # the last fetch's: the same for the whole batch
        position = self.engine.position
        self.untargeted = {}
        for event in batch:
            msg = event.message
            position[msg.partition] = max(position.get(msg.partition, 0), msg.offset + 1)
            try:
                self._absorb(event, touched, before, absorbed, highwaters)
            except Exception as e:
                self.failed(event.message, "event", e)
        kept = self._settle(touched, before, absorbed)
        self._statuses({t: touched[t] for t in kept})

    def _statuses(self, touched: dict[str, tuple[Ticket, Any]]) -> None:
        """One `sla.status` message per ticket kept by the batch; new untargeted cycles counted."""
        for ticket_id, (ticket, _) in touched.items():
            known = self.untargeted.get(ticket_id)
            if known is not None:
                for clock_name, _, _ in ticket.state.untargeted[known:]:
                    metrics.UNTARGETED.labels(clock_name).inc()
        if self.statuses is not None:
            self.statuses.publish(touched)

    def _usable(self, msg: Any) -> Ev | None:
        """The record's event, or None when it was dead-lettered or re-keyed."""
        value = msg.value
        if value is None:
            self.reject(msg, "no value (a null record)", "null_value")
            return None
        if len(value) > MAX_EVENT_BYTES:
            reason = f"too large: {len(value)} bytes (at most {MAX_EVENT_BYTES} are read)"
            self.reject(msg, reason, "too_large")
            return None
        try:
            ev = parse_event(value)
        except InvalidEvent as e:
            self.reject(msg, e.reason, metrics.reject_reason(e.reason))
            return None
        key = msg.key.decode("utf-8", "replace") if msg.key is not None else None
        if key != ev.ticket_id:
            self.out.send(self.settings.events_topic, ev.ticket_id.encode(), value)  # re-key
            return None
        compact = from_model(ev)
        orjson.dumps(to_row(compact))  # raises on what the state cannot store (ints > 64 bits)
        wall = now_us()
        if self.skew_us and compact.at > wall + self.skew_us:
            reason = (
                f"occurred_at {iso(compact.at)} is more than --max-skew "
                f"{self.settings.max_skew:g} s ahead of the wall clock"
            )
            self.reject(msg, reason, "future")
            return None
        if compact.at < wall - self.retention_us:
            reason = (
                f"occurred_at {iso(compact.at)} is older than the retention horizon "
                f"(--retention-days {self.settings.retention_days:g})"
            )
            self.reject(msg, reason, "too_old")
            return None
        return compact

    def _absorb(
        self,
        event: Any,
        touched: dict[str, tuple[Ticket, Any]],
        before: dict[str, bytes | None],
        absorbed: dict[str, list[tuple[Any, str]]],
        highwaters: dict[Any, int | None],
    ) -> None:
        msg = event.message
        compact = self._usable(msg)
        if compact is None:
            return
        engine = self.engine
        ticket_id = msg.key.decode()
        ticket = engine.load(ticket_id, msg.partition, touched)
        snapshot = ticket.to_bytes() if ticket is not None else None
        before.setdefault(ticket_id, snapshot)
        tp = msg.tp
        if tp not in highwaters:
            highwaters[tp] = self.highwater(tp)
        engine.clock(msg.partition).observe(
            compact.at, msg.offset, highwaters[tp], time.monotonic()
        )
        try:
            if ticket is None:
                ticket = Ticket.new(ticket_id, engine.policy)
            self.untargeted.setdefault(ticket_id, len(ticket.state.untargeted))
            if ticket.absorb(compact):
                touched[ticket_id] = (ticket, event)
                absorbed.setdefault(ticket_id, []).append((event, compact.id))
        except Exception:
            restored = engine.restore(ticket_id, snapshot, touched)
            if restored is not None and ticket_id in absorbed:
                touched[ticket_id] = (restored, absorbed[ticket_id][-1][0])
            raise

    def _settle(
        self,
        touched: dict[str, tuple[Ticket, Any]],
        before: dict[str, bytes | None],
        absorbed: dict[str, list[tuple[Any, str]]],
    ) -> set[str]:
        """Cross each touched ticket's thresholds due by its partition's clock, once; the ids
        of the tickets kept (not put back after a failure)."""
        engine, retention = self.engine, self.settings.retention_days
        wall, mono = now_us(), time.monotonic()
        keep: dict[str, tuple[int, Ticket, bytes]] = {}
        for ticket_id, (ticket, last) in list(touched.items()):
            partition = last.message.partition
            events = absorbed[ticket_id]
            try:
                now = engine.clock(partition).now(wall, mono)
                alerts = ticket.settle(now, wall, events[-1][1])
                payloads = encode_alerts(alerts, self.limit)
                value = encode_state(ticket, partition, retention, self.limit)
            except Exception as e:
                engine.restore(ticket_id, before[ticket_id], touched)
                for event, _id in events:
                    self.failed(event.message, "settle", e)
                continue
            keep[ticket_id] = (partition, ticket, value)
            self._publish(ticket, alerts, payloads, now, False, wall)
        engine.save_many(keep)
        return set(keep)

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
            self.out.send(self.settings.alerts_topic, key, payload)
        if alerts:
            self.count(alerts, from_timer, wall)
        self.engine.dirty[ticket.ticket_id] = (ticket, now)

    # ticks
    def ticks(self, batch: Sequence[Any], forget: Callable[[Ticket, int], None]) -> None:
        """Run each tick; drop tickets past their retention (`forget`); keep each touched
        ticket once."""
        touched: dict[str, tuple[Ticket, Any]] = {}
        keep: dict[str, tuple[int, Ticket, bytes]] = {}
        self.untargeted = {}
        for event in batch:
            try:
                self._tick(event, touched, keep, forget)
            except Exception as e:
                self.failed(event.message, "tick", e)
        self.engine.save_many(keep)
        self._statuses({t: touched[t] for t in keep if t in touched})

    def _tick(
        self,
        event: Any,
        touched: dict[str, tuple[Ticket, Any]],
        keep: dict[str, tuple[int, Ticket, bytes]],
        forget: Callable[[Ticket, int], None],
    ) -> None:
        engine, msg = self.engine, event.message
        ticket_id = msg.key.decode()
        ticket = engine.load(ticket_id, msg.partition, touched)
        if ticket is None:
            return
        snapshot = ticket.to_bytes()
        self.untargeted.setdefault(ticket_id, len(ticket.state.untargeted))
        wall = now_us()
        now = _NOW.unpack(msg.value)[0] if len(msg.value or b"") == _NOW.size else wall
        try:
            alerts = ticket.tick(now, wall)
            payloads = encode_alerts(alerts, self.limit)
            last = ticket.last_event_at()
            gone = (
                ticket.is_closed()
                and ticket.next_due() is None
                and last is not None
                and now >= last + self.retention_us
            )
            retention = engine.settings.retention_days
            value = b"" if gone else encode_state(ticket, msg.partition, retention, self.limit)
        except Exception:
            restored = engine.restore(ticket_id, snapshot, touched)
            if restored is not None and ticket_id in keep:
                keep[ticket_id] = (msg.partition, restored, keep[ticket_id][2])
            raise
        if gone:
            touched.pop(ticket_id, None)
            keep.pop(ticket_id, None)
            engine.drop(ticket_id, msg.partition)
            for payload in payloads:
                self.out.send(self.settings.alerts_topic, ticket_id.encode(), payload)
            if alerts:
                self.count(alerts, True, wall)
            forget(ticket, now)
            if self.statuses is not None:
                self.statuses.forget(ticket_id, msg.partition)
            return
        touched[ticket_id] = (ticket, event)
        keep[ticket_id] = (msg.partition, ticket, value)
        self._publish(ticket, alerts, payloads, now, True, wall)
