"""The benchmarks' Kafka clients: publish keyed records, read a topic from the beginning."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from kafka_io.producer import NotDelivered, publish


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Publish ``(key, value)`` pairs and wait until every one is delivered."""
    try:
        return publish(
            bootstrap, topic, ((k, v, 0) for k, v in messages), timeout=120,
            **{"queue.buffering.max.messages": 1_000_000},
        )  # fmt: skip
    except NotDelivered as e:
        raise RuntimeError(str(e)) from None


def keyed_lines(lines: Iterable[bytes]) -> Iterable[tuple[bytes, bytes]]:
    for line in lines:
        value = line.rstrip(b"\n")
        yield orjson.loads(value)["ticket_id"].encode(), value


def from_start(bootstrap: str, topic: str, group_prefix: str) -> Any:
    """A consumer of a fresh group assigned every partition of ``topic`` from the beginning."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"{group_prefix}-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
    except BaseException:
        c.close()
        raise
    return c


def read_topic(
    bootstrap: str, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    """Decoded JSON values of ``topic`` from the beginning until ``until(values)`` or timeout."""
    c = from_start(bootstrap, topic, "bench-read")
    out: list[dict[str, Any]] = []
    try:
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
