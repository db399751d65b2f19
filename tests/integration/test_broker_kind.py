"""The tansu work-arounds are switched on only for tansu: on Apache Kafka the worker runs with
Faust's recovery consistency check on and without the end-offset and fetch-wait patches."""

from __future__ import annotations

import time

import pytest

from kafka_io.admin import broker_kind
from kafka_io.producer import make_producer
from tests.integration.conftest import BrokerHandle, TopicFactory
from tests.integration.harness import consume
from topologies.app import consistency_check, on_tansu
from topologies.settings import Settings


def test_work_arounds_only_on_tansu(broker: BrokerHandle) -> None:
    if broker.kind == "external":
        pytest.skip("an external broker may be of either kind")
    settings = Settings(broker=broker.bootstrap)
    assert broker_kind(broker.bootstrap) == broker.kind
    tansu = on_tansu(settings)
    assert tansu == (broker.kind == "tansu")
    assert consistency_check(settings, tansu) == (broker.kind != "tansu")


def test_compacted_topics_are_compacted_on_kafka(
    broker: BrokerHandle, make_topic: TopicFactory
) -> None:
    """The KPI topics are created compacted; on Apache Kafka the cleaner really keeps only the
    latest value per key (tansu accepts the config and compacts nothing)."""
    if broker.kind != "kafka":
        pytest.skip(f"{broker.kind} does not compact (docs/streaming-notes.md)")
    config = {"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"}
    topic = make_topic(partitions=1, config=config)
    p = make_producer(broker.bootstrap, linger_ms=0)
    for i in range(50):
        p.produce(topic, key=b"cell", value=str(i).encode())
    p.flush(10)
    deadline = time.monotonic() + 60
    values: list[bytes] = []
    while time.monotonic() < deadline:
        p.produce(topic, key=b"roll", value=b"x")  # a new record rolls the 100 ms segment
        p.flush(10)
        msgs = consume(broker.bootstrap, topic, timeout=10, idle=0.3)
        values = [m.value() for m in msgs if m.key() == b"cell"]
        if len(values) == 1:
            break
    assert values == [b"49"]
