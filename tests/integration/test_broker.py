"""The Kafka-protocol broker the engine runs on: keyed produce/consume, groups, offsets.

These pin the broker behaviour the topologies rely on. Where the embedded tansu
broker is known to differ from Apache Kafka the test skips with the measured
reason instead of failing (see docs/streaming-notes.md).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka.admin import AdminClient

from kafka_io.admin import end_offsets
from kafka_io.producer import make_producer, partition_for
from tests.integration.conftest import BrokerHandle, TopicFactory

# Fast group joins: tansu holds a JoinGroup for about session.timeout.ms / 2.
FAST_GROUP = {"session.timeout.ms": 2000, "heartbeat.interval.ms": 500}


def producer(bootstrap: str, **extra: Any) -> Any:
    """The tree's one producer configuration (`kafka_io.producer`): murmur2, idempotent."""
    return make_producer(bootstrap, **extra)


def consumer(bootstrap: str, group: str | None = None, **extra: Any) -> Consumer:
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": group or f"test-{uuid.uuid4().hex[:8]}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        **FAST_GROUP,
    }
    conf.update(extra)
    return Consumer(conf)


def java_partition(key: bytes, partitions: int) -> int:
    """The Java client's placement (`partition_for` is checked against Kafka's own murmur2
    test vectors in tests/kafka_io/test_producer.py)."""
    return partition_for(key, partitions)


def drain(c: Consumer, expected: int, timeout: float = 30.0) -> list[Any]:
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        for m in c.consume(1000, 0.5):
            if m.error():
                raise AssertionError(f"consume error: {m.error()}")
            got.append(m)
    return got


def test_keyed_messages_round_trip_and_stay_in_their_key_partition(
    broker: BrokerHandle, make_topic: TopicFactory
) -> None:
    topic = make_topic(partitions=4)
    n, keys = 2000, 97
    p = producer(broker.bootstrap)
    sent: dict[tuple[bytes, bytes], None] = {}
    for i in range(n):
        key = f"T-{i % keys}".encode()
        value = f'{{"seq": {i}}}'.encode()
        p.produce(topic, key=key, value=value)
        sent[(key, value)] = None
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(10) == 0

    c = consumer(broker.bootstrap)
    started = time.monotonic()
    c.subscribe([topic])
    got = drain(c, n)
    join_and_drain = time.monotonic() - started
    c.close()

    assert len(got) == n
    assert {(m.key(), m.value()) for m in got} == set(sent)
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    seqs_of: dict[bytes, list[int]] = defaultdict(list)
    for m in got:
        partitions_of[m.key()].add(m.partition())
        seqs_of[m.key()].append(int(m.value().split(b":")[1].rstrip(b"}")))
    assert all(len(ps) == 1 for ps in partitions_of.values()), "a key spans partitions"
    assert {k: ps.pop() for k, ps in partitions_of.items()} == {
        k: java_partition(k, 4) for k in partitions_of
    }, "producer partitioner differs from the Java/aiokafka murmur2 partitioner"
    assert len({m.partition() for m in got}) == 4
    for key, seqs in seqs_of.items():
        assert seqs == sorted(seqs), f"events of {key!r} out of order"
    assert join_and_drain < 20, f"group join + drain took {join_and_drain:.1f} s"


def test_create_topics_is_idempotent(broker: BrokerHandle) -> None:
    name = f"idempotent-{uuid.uuid4().hex[:8]}"
    broker.create_topics({name: 3})
    broker.create_topics({name: 5})  # exists: left alone, no error
    md = AdminClient({"bootstrap.servers": broker.bootstrap}).list_topics(name, timeout=10)
    assert len(md.topics[name].partitions) == 3


def test_committed_offsets_resume_a_group(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=2)
    p = producer(broker.bootstrap)
    for i in range(100):
        p.produce(topic, key=f"k{i % 10}".encode(), value=str(i).encode())
    p.flush(10)
    group = f"resume-{uuid.uuid4().hex[:8]}"

    c = consumer(broker.bootstrap, group)
    c.subscribe([topic])
    first = drain(c, 100)
    assert len(first) == 100
    c.commit(asynchronous=False)
    c.close()

    for i in range(100, 130):
        p.produce(topic, key=f"k{i % 10}".encode(), value=str(i).encode())
    p.flush(10)
    c = consumer(broker.bootstrap, group)
    c.subscribe([topic])
    second = drain(c, 30, timeout=20)
    c.close()
    assert sorted(int(m.value()) for m in second) == list(range(100, 130))


def test_end_offsets_count_every_record(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=1)
    p = producer(broker.bootstrap, **{"linger.ms": 50})
    for i in range(300):
        p.produce(topic, value=str(i).encode())
        if i % 100 == 99:
            p.flush(10)  # three batches of 100
    c = consumer(broker.bootstrap)
    low, high = c.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
    c.close()
    if high != 300 and broker.embedded:
        pytest.skip(
            f"tansu: ListOffsets(latest) answers {high} for 300 records, i.e. the base offset "
            "of the last record batch + 1, not the end offset (fetch responses are right)"
        )
    assert (low, high) == (0, 300)


def test_end_offsets_helper_finds_the_true_end(
    broker: BrokerHandle, make_topic: TopicFactory
) -> None:
    topic = make_topic(partitions=3)
    p = producer(broker.bootstrap, **{"linger.ms": 50})
    for _batch in range(3):
        for _ in range(100):
            p.produce(topic, value=b"x", partition=0)
            p.produce(topic, value=b"y", partition=1)
        p.flush(10)
    p.produce(topic, value=b"z", partition=1)
    p.flush(10)
    ends = end_offsets(broker.bootstrap, [(topic, 0), (topic, 1), (topic, 2)])
    assert ends == {(topic, 0): 300, (topic, 1): 301, (topic, 2): 0}


def test_status_from_topic_reads_the_last_batch(
    broker: BrokerHandle, make_topic: TopicFactory
) -> None:
    """`sla-engine status --topic` reads to the true end: on tansu the listed end stops at the
    last batch's base offset, and a status published late in that batch was reported missing."""
    from cli.status import from_topic

    topic = make_topic(partitions=1)
    p = producer(broker.bootstrap, **{"linger.ms": 50})
    for i in range(300):
        p.produce(topic, key=f"T-{i % 150}".encode(), value=json.dumps({"n": i}).encode())
        if i % 100 == 99:
            p.flush(10)  # three batches of 100
    assert from_topic(broker.bootstrap, topic, "T-149") == {"n": 299}
    assert from_topic(broker.bootstrap, topic, "T-0") == {"n": 150}


def test_offsets_for_times(broker: BrokerHandle, make_topic: TopicFactory) -> None:
    topic = make_topic(partitions=1)
    base = int(time.time() * 1000) - 3_600_000
    p = producer(broker.bootstrap, **{"linger.ms": 0})
    for i in range(20):
        p.produce(topic, value=str(i).encode(), timestamp=base + i * 1000)
        p.flush(10)
    c = consumer(broker.bootstrap)
    [middle] = c.offsets_for_times([TopicPartition(topic, 0, base + 10_500)], timeout=10)
    [after] = c.offsets_for_times([TopicPartition(topic, 0, base + 3_600_000)], timeout=10)
    c.close()
    if (middle.offset, after.offset) != (11, -1) and broker.embedded:
        pytest.skip(
            f"tansu: offsets_for_times is not supported (answers {middle.offset} and "
            f"{after.offset}, expected 11 and -1): replays by time must filter by timestamp"
        )
    assert middle.offset == 11
    assert after.offset == -1  # no record at or after that time: end
