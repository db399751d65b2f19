"""Records fetched before a seek of their partition are never delivered after it (issue 11, 2).

Faust's real `Consumer.getmany` (patched by `topologies.worker.stale_fetch`) on a real Faust app,
fed at the consumer thread's edge: the fetch goes through the patched
`AIOKafkaConsumerThread._fetch_records` and the seek through the patched aiokafka
`Fetcher.seek_to`, each on a stand-in for aiokafka's fetcher (no broker). A seek between a fetch
and the delivery of its records is what made the restart stall: the stale records moved Faust's
read offset past the seek position, so the records fetched again from there were dropped unseen
and the commit stayed behind them for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import faust
import pytest
from aiokafka.consumer.fetcher import Fetcher
from aiokafka.structs import ConsumerRecord, TopicPartition
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.types import TP

from topologies import metrics
from topologies.worker import stale_fetch

TOPIC = "unit.events"
P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def record(tp: TopicPartition, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(tp.topic, tp.partition, offset, 0, 0, b"k", b"v", None, 1, 1, [])


class Subscriptions:
    """aiokafka's SubscriptionState, as far as the fetch and the seek use it."""

    def __init__(self) -> None:
        self.positions: dict[Any, int] = {}

    @contextmanager
    def fetch_context(self) -> Iterator[None]:
        yield

    def seek(self, tp: Any, offset: int) -> None:
        self.positions[tp] = offset


class AiokafkaFetcher:
    """aiokafka's Fetcher: hands out the records queued in `ready` and seeks."""

    def __init__(self) -> None:
        self._closed = False
        self._subscriptions = Subscriptions()
        self._records: dict[Any, Any] = {}
        self._wait_consume_future = None
        self.ready: dict[Any, list[Any]] = {}

    def _notify(self, future: Any) -> None:
        pass

    async def fetched_records(
        self, partitions: Any, timeout: float = 0, max_records: Any = None
    ) -> dict[Any, list[Any]]:
        out, self.ready = self.ready, {}
        return out

    def seek(self, tp: Any, offset: int) -> None:
        Fetcher.seek_to(self, tp, offset)  # the patched aiokafka method, as the thread calls it


class Thread:
    """Faust's consumer thread: `_fetch_records` is the patched method, run on this."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer


@pytest.fixture
def app_consumer() -> Iterator[tuple[Any, AiokafkaFetcher, list[Any]]]:
    """A real Faust consumer whose fetch is the patched thread method on a stand-in fetcher;
    `between` holds seeks to run after a fetch returned, before its records are delivered."""
    stale_fetch.apply()
    app = faust.App("unit-stale", broker="kafka://127.0.0.1:9", autodiscover=False)
    consumer = app.consumer
    fetcher = AiokafkaFetcher()
    aiokafka_consumer = type("AIOKafkaConsumer", (), {"_closed": False, "_fetcher": fetcher})()
    between: list[Any] = []

    async def getmany(active_partitions: Any, timeout: float) -> Any:
        batch = await AIOKafkaConsumerThread._fetch_records(
            Thread(consumer), aiokafka_consumer, active_partitions, timeout=timeout
        )
        for tp, offset in between:
            fetcher.seek(tp, offset)
        between.clear()
        return batch

    consumer._getmany = getmany
    consumer._active_partitions = {TP(TOPIC, 0), TP(TOPIC, 1)}
    consumer.highwater = lambda tp: None
    consumer.flow_active = True
    app.consumer_generation_id = 1
    yield consumer, fetcher, between


def delivered(consumer: Any) -> dict[int, list[int]]:
    async def run() -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        async for tp, message in consumer.getmany(timeout=0.01):
            out.setdefault(tp.partition, []).append(message.offset)
        return out

    return asyncio.run(run())


def test_records_fetched_before_a_seek_of_their_partition_are_not_delivered(
    app_consumer: tuple[Any, AiokafkaFetcher, list[Any]],
) -> None:
    consumer, fetcher, between = app_consumer
    before = metrics.STALE_RECORDS._value.get()
    fetcher.ready = {P0: [record(P0, o) for o in range(1417, 1453)], P1: [record(P1, 7)]}
    between.append((P0, 370))  # the post-recovery seek to the committed offset
    got = delivered(consumer)
    assert 0 not in got, "stale records of the seeked partition were delivered"
    assert got[1] == [7], "a partition that was not seeked lost its records"
    assert metrics.STALE_RECORDS._value.get() - before == 36
    # fetched again from the seek position: delivered
    fetcher.ready = {P0: [record(P0, o) for o in range(370, 380)]}
    assert delivered(consumer) == {0: list(range(370, 380))}


def test_a_batch_fetched_after_the_seek_is_delivered(
    app_consumer: tuple[Any, AiokafkaFetcher, list[Any]],
) -> None:
    consumer, fetcher, _ = app_consumer
    fetcher.seek(P0, 5)
    fetcher.ready = {P0: [record(P0, o) for o in range(5, 9)]}
    assert delivered(consumer) == {0: [5, 6, 7, 8]}
