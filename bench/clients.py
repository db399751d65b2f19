"""The benchmarks' Kafka clients: publish keyed records, read a topic from the beginning."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson


def _producer(bootstrap: str) -> Any:
    from confluent_kafka import Producer

    return Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "partitioner": "murmur2_random",
            "queue.buffering.max.messages": 1_000_000,
            "log_level": 0,
        }
    )


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Publish ``(key, value)`` pairs and wait until every one is delivered."""
    p = _producer(bootstrap)
    n = 0
    for key, value in messages:
        while True:
            try:
                p.produce(topic, key=key, value=value)
                break
            except BufferError:
                p.poll(0.05)
        n += 1
        if n % 10_000 == 0:
            p.poll(0)
    left = p.flush(120)
    if left:
        raise RuntimeError(f"{left} of {n} messages to {topic} not delivered")
    return n


def keyed_lines(lines: Iterable[bytes]) -> Iterable[tuple[bytes, bytes]]:
    for line in lines:
        value = line.rstrip(b"\n")
        yield orjson.loads(value)["ticket_id"].encode(), value

def read_topic(
    bootstrap: str, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    """Decoded JSON values of ``topic`` from the beginning until ``until(values)`` or timeout."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    out: list[dict[str, Any]] = []
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = c.consume(10_000, 0.5)
            out.extend(
                orjson.loads(v) for m in batch if m.error() is None and (v := m.value()) is not None
            )
            if until(out):
                break
    finally:
        c.close()
    return out
