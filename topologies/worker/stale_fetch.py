"""Never deliver a record fetched before its partition was seeked (issue 11, 2: the restart stall).

Faust's fetcher iterates a fetched batch while other tasks may seek (`Consumer.perform_seek` at
the end of a table recovery, `topologies.uncommitted`, a rebalance). A seek resets the
partition's read offset, but records of the batch fetched *before* it are still delivered after
it and move the read offset back up; the records then fetched again from the seek position are
below it, and Faust's drain loop drops them unseen ("DROPPED MESSAGE ROFF"). They are never
acked, and Faust commits only contiguous acks: the partition's commit stays where it was for
good, while the later records are processed. Measured on tansu (a worker restarting into an
empty data dir after its predecessor committed once): right after the post-recovery seek to the
committed offset 370, partition 0's read offset was already 1,452; committed stayed at 370.

The fix: every seek of a partition, in the consumer's thread, bumps that partition's seek count
(`aiokafka`'s `Fetcher.seek_to`, behind `seek` and `seek_to_committed`); each fetched batch
carries the counts it was fetched under (taken in the same thread, right after aiokafka drained
it: it drops its own buffered records at a seek, so a batch is never older than its counts);
and a record whose partition was seeked since its batch was fetched is not delivered. aiokafka
fetches it again from the new position.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from topologies import metrics

log = logging.getLogger("sla.worker")

# id of an aiokafka fetcher -> topic partition -> its seeks so far (written by the consumer
# thread; per fetcher, so that two consumers in one process never mistake each other's seeks)
SEEKS: dict[int, dict[Any, int]] = {}


class Fetched(dict[Any, Any]):
    """A fetched batch (`RecordMap`), its fetcher's live seek counts and its partitions' then."""

    live: Mapping[Any, int]
    seeks: Mapping[Any, int]


def stale(tp: Any, batch: Fetched) -> bool:
    """Whether `tp` was seeked since `batch` was fetched."""
    return batch.live.get(tp, 0) != batch.seeks.get(tp, 0)


async def fresh(consumer: Any, records: AsyncIterator[tuple[Any, Any]]) -> AsyncIterator[Any]:
    """The (tp, message) pairs of `Consumer.getmany` minus those fetched before a seek of
    their partition (the batch is the one `_wait_next_records` just returned)."""
    dropped: dict[int, list[int]] = {}
    batch: Fetched | None = None
    checked = False
    try:
        async for tp, message in records:
            if not checked:  # the inner getmany has fetched its batch by now
                fetched = getattr(consumer, "_sla_fetched", None)
                batch = fetched if isinstance(fetched, Fetched) else None
                checked = True
            if batch is not None and stale(tp, batch):
                span = dropped.setdefault(tp.partition, [message.offset, 0])
                span[1] += 1
                continue
            yield tp, message
    finally:
        if dropped:
            n = sum(count for _, count in dropped.values())
            metrics.STALE_RECORDS.inc(n)
            log.info(
                "not delivered: %d records fetched before their partition was seeked "
                "(read again from the seek position): %s",
                n,
                {p: f"{count} from offset {first}" for p, (first, count) in dropped.items()},
            )


_applied = False


def apply() -> None:
    """Patch aiokafka's fetcher and Faust's consumer once per process."""
    global _applied
    if _applied:
        return
    from aiokafka.consumer.fetcher import Fetcher
    from faust.transport.consumer import Consumer
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

    seek_to = Fetcher.seek_to

    def counted_seek_to(self: Any, tp: Any, offset: int) -> None:
        counts = SEEKS.setdefault(id(self), {})
        counts[tp] = counts.get(tp, 0) + 1
        seek_to(self, tp, offset)

    fetch_records = AIOKafkaConsumerThread._fetch_records

    async def fetch_with_counts(self: Any, consumer: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            records = await fetch_records(self, consumer, *args, **kwargs)
        except KeyError as exc:
            # aiokafka's drain raced a seek made from the event loop's thread (Faust seeks there)
            # that emptied a partition's buffer: seen once in CI right after a recovery's seek,
            # a crash of the whole fetcher. Records already drained in this call are dropped:
            # their partition's commit then holds behind them and the commit-gap watch reads
            # them again (topologies/worker/commit_gaps.py).
            log.warning("fetch raced a seek (%r): fetching again", exc)
            records = {}
        batch = Fetched(records)  # no await since aiokafka drained it: the counts are its own
        batch.live = SEEKS.setdefault(id(consumer._fetcher), {})
        batch.seeks = {tp: batch.live.get(tp, 0) for tp in batch}
        return batch

    wait_next_records = Consumer._wait_next_records

    async def remember_batch(self: Any, timeout: float) -> Any:
        records, active = await wait_next_records(self, timeout)
        self._sla_fetched = records
        return records, active

    getmany = Consumer.getmany

    def fresh_getmany(self: Any, timeout: float) -> AsyncIterator[Any]:
        return fresh(self, getmany(self, timeout))

    Fetcher.seek_to = counted_seek_to  # the patches
    AIOKafkaConsumerThread._fetch_records = fetch_with_counts  # type: ignore[method-assign]
    Consumer._wait_next_records = remember_batch  # type: ignore[method-assign]
    Consumer.getmany = fresh_getmany  # type: ignore[method-assign]
    _applied = True
