"""What an event record must be before the worker folds it, and the dead letters of the rest.

A record that cannot be used (null, too large, invalid, too far in the future, older than the
retention horizon: `engine.retention`) or whose processing raised goes to `tickets.dlq` with
its reason and original bytes, counted by `sla_events_rejected_total` (and
`sla_processing_errors_total`); a record keyed by another id than its ticket's is re-keyed.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from engine.history import Ev, decoded, to_row
from engine.instant import iso
from engine.retention import too_old
from schemas.parse import InvalidEvent
from topologies import metrics
from topologies.dlq import MAX_EVENT_BYTES, dead_letter, dlq_key
from topologies.output import Output
from topologies.settings import Settings
from topologies.stream_time import Clock

log = logging.getLogger("sla.worker")


class Intake:
    """The checks of one record, and the dead letters of those that fail them."""

    def __init__(self, settings: Settings, sink: Output, clock: Clock) -> None:
        self.settings = settings
        self.sink = sink
        self.clock = clock
        self.skew_us = int(settings.max_skew * 1_000_000)

    def reject(self, msg: Any, reason: str, label: str) -> None:
        """Send the record to the dead-letter topic with its reason, counted under `label`."""
        metrics.REJECTED.labels(label).inc()
        record = dead_letter(
            reason, msg.value, msg.topic, msg.partition, msg.offset, msg.key, self.clock.wall_us()
        )
        self.sink.send(self.settings.dlq_topic, dlq_key(msg.key), record)

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

    def usable(self, msg: Any) -> Ev | None:
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
            ticket_id, compact = decoded(value)  # the replay's decode (`engine.history`)
        except InvalidEvent as e:
            self.reject(msg, e.reason, metrics.reject_reason(e.reason))
            return None
        key = msg.key.decode("utf-8", "replace") if msg.key is not None else None
        if key != ticket_id:
            self.sink.send(self.settings.events_topic, ticket_id.encode(), value)  # re-key
            return None
        orjson.dumps(to_row(compact))  # raises on what the state cannot store (ints > 64 bits)
        wall = self.clock.wall_us()
        if self.skew_us and compact.at > wall + self.skew_us:
            reason = (
                f"occurred_at {iso(compact.at)} is more than --max-skew "
                f"{self.settings.max_skew:g} s ahead of the wall clock"
            )
            self.reject(msg, reason, "future")
            return None
        old = too_old(compact.at, wall, self.settings.retention_days)
        if old is not None:
            self.reject(msg, old, "too_old")
            return None
        return compact
