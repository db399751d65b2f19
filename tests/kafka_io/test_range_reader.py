"""The range reader's merge without a broker. (Reading real topics:
tests/integration/test_replay_topic.py.)"""

from __future__ import annotations

from kafka_io.range_reader import TopicRecord, merged


def test_merged_orders_by_timestamp_then_partition_then_offset() -> None:
    p0 = [TopicRecord(0, 0, 5, None, b"a"), TopicRecord(0, 1, 9, None, b"b")]
    p1 = [TopicRecord(1, 0, 5, None, b"c"), TopicRecord(1, 1, 6, None, b"d")]
    got = [(r.partition, r.offset) for r in merged([p1, p0])]
    assert got == [(0, 0), (1, 0), (1, 1), (0, 1)]
