"""Fast restore: a table partition's changelog read in bulk into its RocksDB, before Faust's
recovery reads it record by record.

Faust's recovery delivers each changelog record through its consumer and its conductor and
applies them in small batches: ~3,000 ticket records/s on this machine (README, issue 14).
`restore` reads the same records, from the partition's persisted offset to the offset Faust's
recovery would read to, with a plain confluent-kafka consumer (`assign` only, no group, the
process's TLS/SASL settings: `kafka_io.admin.assigned_consumer`) in batches of 10,000, and
writes each batch into the partition's RocksDB as one WriteBatch: a value as a put, a tombstone
as a delete, and the batch's last offset under Faust's persisted-offset key in the same batch,
so a crash leaves a consistent prefix that the next recovery continues from. That is what
`faust.stores.rocksdb.Store.apply_changelog_batch` writes for the same records: Faust's
recovery then starts at that offset and finds nothing, or only a tail, to read.

A per-record observer sees each (key, value) in changelog order (the tickets' timer entries,
`topologies.state.codec.peek`), so no second pass over the table is needed. Blocking: run it
in a thread (`topologies.state.recovery_hook`); it stops between batches when `stop` is set or
the time budget is spent, having written a consistent prefix.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from threading import Event
from typing import Any

from rocksdict import WriteBatch, WriteOptions

from kafka_io.admin import assigned_consumer

# partition, its batch's (key, value or None: a tombstone) in changelog order
Observe = Callable[[int, list[tuple[bytes, bytes | None]]], None]
BATCH = 10_000

# The reader's buffers: big fetches (records are ~0.5-1 KB), librdkafka prefetching ahead.
CONSUMER: dict[str, Any] = {
    "fetch.max.bytes": 64 * 1024 * 1024,
    "max.partition.fetch.bytes": 16 * 1024 * 1024,
    "queued.max.messages.kbytes": 256 * 1024,
    "fetch.wait.max.ms": 10,  # tansu holds a fetch until its wait expires
    "auto.offset.reset": "earliest",  # a compacted or deleted start: its first record
    "check.crcs": False,
}


@dataclass
class Job:
    """One changelog partition to restore: records `start..end` (inclusive) into `db`."""

    topic: str
    partition: int
    db: Any  # the partition's rocksdict.Rdict (raw mode)
    start: int  # first offset to read
    end: int  # last offset to read (Faust's highwater - 1)
    offset_key: bytes  # where Faust keeps the partition's persisted offset
    observe: Observe | None = None
    last: int = -1  # last offset written (-1: none)
    records: int = 0

    @property
    def done(self) -> bool:
        return self.start > self.end or self.last >= self.end


@dataclass
class Outcome:
    """What a `restore` did: records written and seconds, whether every job reached its end."""

    records: int = 0
    seconds: float = 0.0
    complete: bool = True
    last: dict[tuple[str, int], int] = field(default_factory=dict)


def _unwritten() -> WriteOptions:
    """No write-ahead log: each batch carries its own offset and a crash keeps a prefix of the
    batches (RocksDB flushes its memtables in order); the data is flushed at the end."""
    opts = WriteOptions()
    setattr(opts, "disable_wal", True)  # noqa: B010  # a property at run time (stub: a method)
    return opts


def restore(
    bootstrap: str,
    jobs: Sequence[Job],
    stop: Event | None = None,
    budget_s: float = 60.0,
    batch: int = BATCH,
) -> Outcome:
    """Read each job's records into its DB; stop early at `stop` or after `budget_s` seconds
    (what is written is a consistent prefix: the rest is left to Faust's recovery)."""
    t0 = time.monotonic()
    todo = {(j.topic, j.partition): j for j in jobs if not j.done}
    outcome = Outcome()
    if todo:
        from confluent_kafka import TopicPartition

        consumer = assigned_consumer(bootstrap, f"restore-{id(jobs):x}", **CONSUMER)
        try:
            consumer.assign([TopicPartition(t, p, j.start) for (t, p), j in todo.items()])
            _read(consumer, todo, stop, t0 + budget_s, batch)
        finally:
            consumer.close()
        for job in jobs:
            if job.records:
                job.db.flush()
    outcome.records = sum(j.records for j in jobs)
    outcome.complete = all(j.done for j in jobs)
    outcome.last = {(j.topic, j.partition): j.last for j in jobs}
    outcome.seconds = time.monotonic() - t0
    return outcome


def _read(
    consumer: Any, todo: dict[tuple[str, int], Job], stop: Event | None, until: float, n: int
) -> None:
    from confluent_kafka import KafkaError, KafkaException

    wopts = _unwritten()
    while todo and time.monotonic() < until and not (stop is not None and stop.is_set()):
        batches: dict[tuple[str, int], WriteBatch] = {}
        seen: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = {}
        for msg in consumer.consume(n, 0.5):
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    continue  # the end check below decides; EOF before `end` is a gap
                raise KafkaException(err)
            tp = (msg.topic(), msg.partition())
            job = todo.get(tp)
            offset = msg.offset()
            if job is None or offset > job.end:
                continue
            wb = batches.get(tp)
            if wb is None:
                wb = batches[tp] = WriteBatch(raw_mode=True)
                seen[tp] = []
            key, value = msg.key(), msg.value()
            if value is None:
                wb.delete(key)
            else:
                wb.put(key, value)
            seen[tp].append((key, value))
            job.last = offset
            job.records += 1
        for tp, wb in batches.items():
            job = todo[tp]
            if job.observe is not None:
                job.observe(job.partition, seen[tp])
            wb.put(job.offset_key, str(job.last).encode())  # Faust's form of the offset
            job.db.write(wb, wopts)
            if job.done:
                del todo[tp]


def timer_entries() -> tuple[dict[int, dict[bytes, int]], Observe]:
    """Each partition's final `ticket id -> next deadline` as the changelog leaves it, and the
    observer that collects them (`codec.peek`: the value's own deadline and partition, as
    `PartitionState.rebuild` reads them from the table; a tombstone or no deadline: none)."""
    from topologies.state.codec import peek

    entries: dict[int, dict[bytes, int]] = {}

    def observe(partition: int, batch: list[tuple[bytes, bytes | None]]) -> None:
        for key, value in batch:
            if value is None:
                for gone in entries.values():
                    gone.pop(key, None)
                continue
            due, source = peek(value)
            part = entries.get(source)
            if part is None:
                part = entries[source] = {}
            if due is None:
                part.pop(key, None)
            else:
                part[key] = due

    return entries, observe
