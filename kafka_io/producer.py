"""THE producer configuration: every confluent-kafka `Producer` of the tree is made here.

- **Partitioner `murmur2_random`**: the Java client's and aiokafka's (so Faust's) placement of
  keyed records. librdkafka's default (`consistent_random`, CRC32) differs: a ticket's events
  sent by a producer without it land on another partition than the worker's table expects
  (docs/streaming-notes.md). `partition_for` is the same placement computed here.
- **Idempotence**: retries (Apache Kafka under load, a topic whose leader is not yet elected)
  keep each partition in send order and write no duplicate. Without it a retried first batch
  lands after later ones: a partition is no longer in record-timestamp order, which the
  time-range reader (`range_reader`) and one ticket's event order both rely on.
- **Back-pressure**: `send` retries a record while librdkafka's queue is full (`BufferError`),
  serving delivery reports meanwhile, instead of dropping it or raising.

Faust's own producer (aiokafka) only sends what Faust itself emits (the worker's output goes
through a producer made here, `topologies.app.Output`); aiokafka's default partitioner is the
same murmur2, so nothing has to be set there for keys to land alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from kafka_io import client

if TYPE_CHECKING:
    from confluent_kafka import Producer

__all__ = [
    "PARTITIONER",
    "NotDelivered",
    "make_producer",
    "partition_for",
    "producer_config",
    "publish",
    "send",
]

PARTITIONER = "murmur2_random"
LINGER_MS = 5

# Settings correctness depends on: a caller may not override them.
_FIXED = {"partitioner": PARTITIONER, "enable.idempotence": True}


def producer_config(bootstrap: str, *, linger_ms: int = LINGER_MS, **extra: Any) -> dict[str, Any]:
    """librdkafka's producer configuration: the process's security settings (`client`), the
    murmur2 partitioner, idempotence, `linger.ms` and any other setting in `extra`."""
    fixed = {k: extra[k] for k in _FIXED if k in extra and extra[k] != _FIXED[k]}
    if fixed:
        raise ValueError(f"producer settings {fixed} would break partitioning or ordering")
    return client.conf(bootstrap, **{"linger.ms": linger_ms, **extra, **_FIXED})


def make_producer(bootstrap: str, *, linger_ms: int = LINGER_MS, **extra: Any) -> Producer:
    """A confluent-kafka producer of `producer_config`."""
    from confluent_kafka import Producer

    return Producer(producer_config(bootstrap, linger_ms=linger_ms, **extra))


def send(
    producer: Any,
    topic: str,
    value: bytes | None,
    key: bytes | None = None,
    *,
    partition: int = -1,
    timestamp: int = 0,
    on_delivery: Callable[[Any, Any], None] | None = None,
    wait: float = 0.05,
    while_full: Callable[[], None] | None = None,
) -> None:
    """Queue one record (`partition` -1: by the key's murmur2 hash; `timestamp` 0: now;
    `value` None: a tombstone). While the queue is full, serve delivery reports for `wait`
    seconds (then call `while_full`, e.g. an outage check) and try again."""
    while True:
        try:
            if timestamp:
                producer.produce(topic, value, key, partition, on_delivery, timestamp=timestamp)
            else:
                producer.produce(topic, value, key, partition, on_delivery)
            return
        except BufferError:  # librdkafka's queue is full: let it deliver some
            producer.poll(wait)
            if while_full is not None:
                while_full()


class NotDelivered(RuntimeError):
    """Records `publish` queued did not all reach the broker."""


def publish(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None, int]],
    *,
    timeout: float = 120.0,
    linger_ms: int = 20,
    **extra: Any,
) -> int:
    """Publish `(key, value, timestamp ms; 0: now)` records to `topic` and wait until every one
    is on the broker (`NotDelivered` otherwise); their count. Loads topics for benchmarks."""
    p = make_producer(bootstrap, linger_ms=linger_ms, **{"log_level": 0, **extra})
    failed: list[str] = []

    def delivered(err: Any, _: Any) -> None:
        if err is not None:
            failed.append(str(err))

    n = 0
    for key, value, ts in records:
        send(p, topic, value, key, timestamp=ts, on_delivery=delivered)
        n += 1
        if n % 10_000 == 0:
            p.poll(0)
    left = p.flush(timeout)
    if left or failed:
        raise NotDelivered(
            f"{topic}: {left + len(failed)} of {n} records not delivered ({failed[:1]})"
        )
    return n


def partition_for(key: bytes, partitions: int) -> int:
    """The partition `murmur2_random` (and Java, aiokafka, so Faust) gives a non-empty `key`:
    aiokafka's murmur2, the very function Faust places keys with."""
    from aiokafka.partitioner import murmur2

    return int((murmur2(key) & 0x7FFFFFFF) % partitions)
