"""Where a time range of a Kafka topic starts, in every partition: an offset lookup by record
timestamp, reading O(log n) single records a partition, never a scan (`range_reader` reads the
range from there).

The broker's answer (`offsets_for_times`) is used when it checks out (the record before it is
older than `since`, the record at it is not); otherwise the offset is found by a binary search
over offsets that reads one record per step. The embedded tansu broker needs the fallback: it
answers offset 0 to every timestamp lookup, and its listed end offset is approximate, so the end
is taken from the high watermark of a fetch response. The records read to locate are counted
apart from the range's (`PartitionRead.probes`).
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka_io.admin import assigned_consumer

__all__ = [
    "PartitionRead",
    "RangeError",
    "RangeStats",
    "check_reachable",
    "locate_range",
    "partitions_of",
    "range_consumer",
    "record_timestamp",
    "set_unreachable_hint",
]


class RangeError(RuntimeError):
    """A problem a person can act on: broker unreachable, unknown topic, no timestamps."""


def _default_hint() -> str:
    return "check the broker's address"


# What the message of an unreachable broker suggests; the CLI names its own flags and commands
# there (`set_unreachable_hint`), the reader knows nothing of them.
_unreachable_hint: Callable[[], str] = _default_hint


def set_unreachable_hint(hint: Callable[[], str]) -> None:
    """Set what `check_reachable`'s error suggests after the addresses it tried."""
    global _unreachable_hint
    _unreachable_hint = hint


@dataclass(slots=True)
class PartitionRead:
    """What reading one partition took."""

    partition: int
    low: int = 0  # first offset held by the partition
    end: int = 0  # end offset (last + 1) when located
    start: int = 0  # first offset whose timestamp >= since
    located_by: str = "empty"  # broker | search | first | end | empty
    probes: int = 0  # records read to locate the start
    read: int = 0  # records read from the start on (the stopping record included)
    stop: int | None = None  # offset of the first record at/after `until`; None: read to the end

    @property
    def total(self) -> int:
        return self.end - self.low


@dataclass(slots=True)
class RangeStats:
    topic: str
    since_ms: int
    until_ms: int
    partitions: list[PartitionRead] = field(default_factory=list)

    @property
    def probes(self) -> int:
        return sum(p.probes for p in self.partitions)

    @property
    def read(self) -> int:
        return sum(p.read for p in self.partitions)

    @property
    def total(self) -> int:
        """Records held by the topic when it was located (offset span: gaps would count)."""
        return sum(p.total for p in self.partitions)

    def line(self) -> str:
        located = sorted({p.located_by for p in self.partitions if p.total})
        return (
            f"{self.topic}: read {self.read} records of {self.total} in {len(self.partitions)} "
            f"partitions, + {self.probes} to locate the start by timestamp "
            f"({', '.join(located) or 'empty'})"
        )


def check_reachable(bootstrap: str, timeout: float) -> None:
    """Fail fast, with the address, when no listed bootstrap server accepts a connection."""
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            errors.append(f"{server.strip()}: not HOST:PORT (the port is missing)")
            continue
        try:
            with socket.create_connection(
                (host.strip("[]") or "localhost", int(port)), timeout=timeout
            ):
                return
        except (OSError, ValueError) as e:
            errors.append(f"{server.strip()}: {getattr(e, 'strerror', None) or e}")
    raise RangeError(
        f"no Kafka broker answers at {bootstrap} ({'; '.join(errors)}); {_unreachable_hint()}"
    )


def range_consumer(bootstrap: str, **extra: Any) -> Any:
    """A consumer of a range's records or probes: assign() only, a group id of its own."""
    return assigned_consumer(bootstrap, f"sla-engine-range-{uuid.uuid4().hex[:8]}", **extra)


def partitions_of(consumer: Any, bootstrap: str, topic: str, timeout: float) -> list[int]:
    """The topic's partitions; RangeError naming the topics there when it does not exist.
    Asks for every topic's metadata, not this one's: a broker that auto-creates topics on a
    metadata request (tansu does) must not create a misspelt one."""
    from confluent_kafka import KafkaException

    try:
        meta = consumer.list_topics(timeout=timeout)
    except KafkaException as e:
        raise RangeError(f"the broker at {bootstrap} does not answer: {e}") from None
    found = meta.topics.get(topic)
    if found is None:
        import difflib

        names = sorted(t for t in meta.topics if not t.startswith("__"))
        close = difflib.get_close_matches(topic, names, n=12, cutoff=0.5)
        names = close + [n for n in names if n not in close]  # the likely misspelling first
        shown = ", ".join(names[:12]) + (f", … ({len(names)} in all)" if len(names) > 12 else "")
        raise RangeError(
            f"topic {topic!r} does not exist on {bootstrap}; topics there: {shown or 'none'}"
        )
    if found.error is not None:
        raise RangeError(f"topic {topic!r} on {bootstrap}: {found.error}")
    return sorted(found.partitions)


class _Prober:
    """Reads single records at given offsets of one partition."""

    def __init__(self, consumer: Any, topic: str, partition: int, timeout: float) -> None:
        self.consumer = consumer
        self.topic = topic
        self.partition = partition
        self.timeout = timeout
        self.count = 0

    def at(self, offset: int) -> tuple[int, int] | None:
        """(offset, timestamp ms) of the first record at or after `offset`; None at the end."""
        from confluent_kafka import KafkaError, TopicPartition

        self.consumer.assign([TopicPartition(self.topic, self.partition, offset)])
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            for msg in self.consumer.consume(1, 0.2):
                err = msg.error()
                if err is not None and err.code() != KafkaError._PARTITION_EOF:
                    raise RangeError(f"{self.topic}[{self.partition}] at offset {offset}: {err}")
                if msg.partition() != self.partition or msg.offset() < offset:
                    continue  # left over from an earlier assignment (its end included)
                if err is not None:  # the end of the partition, at or after `offset`
                    return None
                self.count += 1
                return int(msg.offset()), record_timestamp(msg, self.topic)
        raise RangeError(
            f"{self.topic}[{self.partition}]: no record at offset {offset} within {self.timeout} s"
        )


def record_timestamp(msg: Any, topic: str) -> int:
    """The record's timestamp in ms; RangeError when it has none."""
    _, ts = msg.timestamp()
    if ts is None or ts < 0:
        raise RangeError(
            f"{topic}[{msg.partition()}] offset {msg.offset()} has no timestamp: a time range "
            "cannot be read from this topic (message format before Kafka 0.10?)"
        )
    return int(ts)


def _locate(
    consumer: Any, topic: str, partition: int, since_ms: int, timeout: float
) -> PartitionRead:
    from confluent_kafka import TopicPartition

    part = PartitionRead(partition)
    low, listed = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
    part.low = part.start = part.end = int(low)
    if listed <= low:
        return part
    probe = _Prober(consumer, topic, partition, timeout)
    try:
        first = probe.at(low)
        # The high watermark of that fetch response is the true end (tansu's listed one is not).
        _, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
        if first is None:  # nothing there after all
            return part
        part.end = max(int(listed), int(high), first[0] + 1)
        part.low = part.start = first[0]
        if first[1] >= since_ms:
            part.located_by = "first"
            return part
        # Everything before `lo` is older than `since`; `hi` is a candidate answer.
        lo, hi = first[0] + 1, part.end
        answer = consumer.offsets_for_times(
            [TopicPartition(topic, partition, since_ms)], timeout=timeout
        )[0]
        offset = int(answer.offset) if answer.error is None else -2
        if offset == -1:  # Kafka: no record at or after the timestamp
            offset = part.end
        if lo <= offset <= part.end:
            before = probe.at(offset - 1)
            at = probe.at(offset) if offset < part.end else None
            if (
                before is not None
                and before[0] == offset - 1
                and before[1] < since_ms
                and (at[1] >= since_ms if at is not None else offset == part.end)
            ):
                part.start, part.located_by = offset, "broker"
                return part
        while lo < hi:  # the broker's answer did not check out: binary search over offsets
            mid = (lo + hi) // 2
            got = probe.at(mid)
            if got is None:
                hi = mid
            elif got[1] < since_ms:
                lo = got[0] + 1
            else:
                hi = mid
        part.start = lo
        part.located_by = "search" if lo < part.end else "end"
        return part
    finally:
        part.probes = probe.count


def locate_range(
    bootstrap: str, topic: str, since_ms: int, until_ms: int, *, timeout: float = 10.0
) -> RangeStats:
    """Where the time range starts in every partition of `topic` (and where each ends)."""
    check_reachable(bootstrap, min(timeout, 5.0))
    stats = RangeStats(topic, since_ms, until_ms)
    prober = range_consumer(bootstrap, **{"max.partition.fetch.bytes": 65536})
    try:
        for p in partitions_of(prober, bootstrap, topic, timeout):
            stats.partitions.append(_locate(prober, topic, p, since_ms, timeout))
    finally:
        prober.close()
    return stats
