"""Read a time range of a Kafka topic, every partition, without scanning from the beginning.

The range is by **record timestamp** (when a record was published, or the broker's append time),
the same notion `ListOffsets` by timestamp uses. Per partition it is
`[first offset whose timestamp >= since, first offset whose timestamp >= until)`.

The start of each partition is located by timestamp first (`range_locate`: the broker's
`offsets_for_times` when it checks out, else a binary search reading one record per step; the
end from a fetch response's high watermark, right on tansu too). Then the range is read
sequentially from the start until a record at or after `until` (or the end of the partition as
it was when located), a consumer a partition read a chunk at a time as the merge takes its
records: memory does not grow with the range. Every record the reader handles is counted, the
lookups' apart from the range's, so a caller can show (and a test can check) that nothing before
the start was read. (The client fetches whole record batches; records of a batch before the
requested offset are dropped by it and never reach the reader.)

A partition is finished only by a record at or after `until` or by reaching the end located
before reading: an end-of-partition event short of that end is checked against the broker's
high watermark again and, if records remain, reading goes on (a stall is an error, never a
silently shorter range).

Both bounds assume a partition's records are in timestamp order, as a producer that keeps send
order writes them: every producer of the tree is idempotent (`kafka_io.producer`). A producer
without idempotence can, when a batch is retried (a topic whose leader is not yet elected, a
broker under load), write an early batch after later ones; the range then ends at the first
record at or after `until` and misses the retried records behind it.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from kafka_io.range_locate import (
    PartitionRead,
    RangeError,
    RangeStats,
    locate_range,
    range_consumer,
    record_timestamp,
)

__all__ = [
    "PartitionRead",
    "RangeError",
    "RangeStats",
    "TopicRecord",
    "locate_range",
    "merged",
    "stream_range",
]


@dataclass(frozen=True, slots=True)
class TopicRecord:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None


# The client's own buffers, capped: its prefetch queue and the size of one fetch response (the
# defaults, 64 MiB and 50 MiB, would dwarf the reader's chunks).
_BOUNDED = {
    "queued.min.messages": 1000,
    "queued.max.messages.kbytes": 1024,
    "fetch.max.bytes": 1024 * 1024 + 512,  # librdkafka: at least message.max.bytes (1 MB)
    "max.partition.fetch.bytes": 256 * 1024,
}


class _Reader:
    """A consumer a partition, each read in chunks of at most `chunk` records as the merge takes
    them: memory is bounded by a chunk and the client's capped queue a partition, not by the
    range. (One consumer for all partitions would need pause/resume to keep a partition from
    running ahead; librdkafka restarts a resumed partition's fetching only after a back-off.)"""

    def __init__(
        self,
        bootstrap: str,
        stats: RangeStats,
        timeout: float,
        chunk: int,
        progress: Callable[[int], None] | None,
    ) -> None:
        from confluent_kafka import TopicPartition

        self.topic, self.until_ms, self.timeout, self.chunk = (
            stats.topic,
            stats.until_ms,
            timeout,
            chunk,
        )
        self.parts = {p.partition: p for p in stats.partitions}
        self.progress = progress
        self.consumers: dict[int, Any] = {}
        for p in sorted(self.parts):
            if self.parts[p].start < self.parts[p].end:
                c = self.consumers[p] = range_consumer(bootstrap, **_BOUNDED)
                c.assign([TopicPartition(self.topic, p, self.parts[p].start)])

    def close(self) -> None:
        for p in list(self.consumers):
            self._done(p)

    def _done(self, p: int) -> None:
        c = self.consumers.pop(p, None)
        if c is not None:
            c.close()

    def _ended(self, p: int, position: int) -> bool:
        """Whether an end-of-partition event at `position` ends partition `p`: at the end
        located before reading, or (asked again) at the broker's high watermark."""
        from confluent_kafka import TopicPartition

        if position >= self.parts[p].end:
            return True
        tp = TopicPartition(self.topic, p)
        _, listed = self.consumers[p].get_watermark_offsets(tp, timeout=self.timeout)
        _, fetched = self.consumers[p].get_watermark_offsets(tp, cached=True)
        return bool(position >= max(int(listed), int(fetched)))

    def records(self, p: int) -> Iterator[TopicRecord]:
        """Partition `p`'s records of the range, in offset order, read as they are taken."""
        buf: deque[TopicRecord] = deque()
        while True:
            while buf:
                yield buf.popleft()
            if p not in self.consumers:
                return
            self._fill(p, buf)

    def _fill(self, p: int, buf: deque[TopicRecord]) -> None:
        """Read the next chunk of partition `p` (or find that it is finished)."""
        from confluent_kafka import KafkaError

        consumer, part = self.consumers[p], self.parts[p]
        last_progress = time.monotonic()
        while not buf and p in self.consumers:
            # what the client has queued, without waiting; else wait for the first record only
            # (a batch call waits its whole timeout for a full batch)
            batch = consumer.consume(self.chunk, 0) or consumer.consume(1, 0.05)
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > self.timeout:
                raise RangeError(f"{self.topic}[{p}]: stalled for {self.timeout} s")
            for msg in batch:
                err = msg.error()
                if err is not None:
                    if err.code() != KafkaError._PARTITION_EOF:
                        raise RangeError(f"{self.topic}[{p}]: {err}")
                    if self._ended(p, int(msg.offset())):
                        self._done(p)
                        return
                    continue  # short of the end located before reading: read on
                part.read += 1
                if self.progress is not None:
                    self.progress(1)
                offset, ts = int(msg.offset()), record_timestamp(msg, self.topic)
                if ts >= self.until_ms:
                    part.stop = offset
                elif offset < part.end:
                    buf.append(TopicRecord(p, offset, ts, msg.key(), msg.value()))
                if ts >= self.until_ms or offset + 1 >= part.end:
                    self._done(p)
                    return


def stream_range(
    bootstrap: str,
    topic: str,
    since_ms: int,
    until_ms: int,
    *,
    timeout: float = 10.0,
    chunk: int = 2000,
) -> tuple[Iterator[TopicRecord], RangeStats]:
    """Every record of `topic` whose position is in the time range, all partitions merged by
    (timestamp, partition, offset) (`merged`), read as the caller takes them, with bounded
    memory; and what reading them took (complete once the records are exhausted). The start is
    located now: an unknown topic or an unreachable broker raise `RangeError` here. On a
    terminal, a progress bar on stderr counts the records read against those located."""
    stats = locate_range(bootstrap, topic, since_ms, until_ms, timeout=timeout)
    return _merged_stream(bootstrap, stats, timeout, chunk), stats


def _merged_stream(
    bootstrap: str, stats: RangeStats, timeout: float, chunk: int
) -> Iterator[TopicRecord]:
    with ExitStack() as stack:
        advance = _progress_bar(stack, stats)
        reader = _Reader(bootstrap, stats, timeout, chunk, advance)
        stack.callback(reader.close)
        yield from merged(reader.records(p) for p in sorted(reader.parts))


def _progress_bar(stack: ExitStack, stats: RangeStats) -> Callable[[int], None] | None:
    """`records read / total` on stderr when it is a terminal; None (no bar) otherwise. The total
    is what the partitions held from the start on when located: the range may end before (its
    end is found by reading, not located), so the bar may vanish short of it."""
    total = sum(p.end - p.start for p in stats.partitions)
    if not sys.stderr.isatty() or total < 10_000:
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = stack.enter_context(
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(file=sys.stderr),
            transient=True,
        )
    )
    task = bar.add_task(f"reading {stats.topic}", total=total)
    pending = 0

    def advance(n: int) -> None:
        nonlocal pending
        pending += n
        if pending >= 1000:
            bar.advance(task, pending)
            pending = 0

    return advance


def merged(partitions: Iterable[Iterable[TopicRecord]]) -> Iterator[TopicRecord]:
    """All partitions in one deterministic order: by timestamp, then partition, then offset,
    each partition's own order kept (a ticket's events, keyed to one partition, stay in order).
    Lazy: holds one record a partition."""
    import heapq

    return heapq.merge(*partitions, key=lambda r: (r.timestamp_ms, r.partition, r.offset))
