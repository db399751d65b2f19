"""The range reader without a broker: an unreachable broker is one line that says what to do,
and the merge order of partitions. (Reading real topics: tests/integration/test_replay_topic.py.)"""

from __future__ import annotations

import pytest

from kafka_io import range_reader
from kafka_io.process import free_port
from kafka_io.range_reader import RangeError, TopicRecord, check_reachable, merged


def test_an_unreachable_broker_names_the_address_and_the_hint() -> None:
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(RangeError, match=f"no Kafka broker answers at {dead} .*broker's address"):
        check_reachable(dead, 1.0)
    range_reader.set_unreachable_hint(lambda: "try --broker")
    try:
        with pytest.raises(RangeError, match=r"; try --broker$"):
            check_reachable(dead, 1.0)
    finally:
        range_reader.set_unreachable_hint(range_reader._default_hint)
    with pytest.raises(RangeError, match="not HOST:PORT"):
        check_reachable("localhost", 1.0)


def test_merged_orders_by_timestamp_then_partition_then_offset() -> None:
    p0 = [TopicRecord(0, 0, 5, None, b"a"), TopicRecord(0, 1, 9, None, b"b")]
    p1 = [TopicRecord(1, 0, 5, None, b"c"), TopicRecord(1, 1, 6, None, b"d")]
    got = [(r.partition, r.offset) for r in merged([p1, p0])]
    assert got == [(0, 0), (1, 0), (1, 1), (0, 1)]
