"""Restart into an empty data dir after a kill -9 with a backlog (issue 11, 2): the new worker
processes every readable event, and `sla_consumer_lag` says how many are left until then."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from confluent_kafka import Consumer, TopicPartition

import workload
from kafka_io.admin import end_offsets
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, produce


def committed(bootstrap: str, topics: Topics) -> dict[int, int]:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": topics.group})
    try:
        tps = [TopicPartition(topics.events, p) for p in range(topics.partitions)]
        return {tp.partition: max(tp.offset, 0) for tp in c.committed(tps, timeout=10)}
    finally:
        c.close()


def test_restart_into_an_empty_data_dir_processes_the_whole_backlog(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap)
    start = datetime.now(UTC) - timedelta(days=10)
    lines = workload.lines(1000, seed=3, start=start, span=timedelta(days=2))[:6000]
    w1 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d1", tmp_path / "w1.log").start()
    produce(
        broker.bootstrap,
        topics.events,
        [(orjson.loads(x)["ticket_id"].encode(), x.rstrip(b"\n")) for x in lines],
    )
    # Killed once it has committed: the restarted worker then recovers a changelog and seeks to
    # committed offsets while its fetcher holds records fetched before the seek (the stall of
    # issue 11, 2: 2 of 3 runs on tansu stalled this way before `worker.stale_fetch`).
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (
        w1.sample("sla_events_consumed_total") < 1000
        or sum(committed(broker.bootstrap, topics).values()) == 0
    ):
        time.sleep(0.05)
    w1.kill()
    ends = end_offsets(broker.bootstrap, [(topics.events, p) for p in range(topics.partitions)])
    assert sum(ends.values()) == len(lines)
    w2 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d2", tmp_path / "w2.log").start()
    try:
        lag_seen: list[float] = []
        deadline = time.monotonic() + 120
        done = committed(broker.bootstrap, topics)
        while time.monotonic() < deadline and sum(done.values()) < len(lines):
            lag_seen.append(w2.sample("sla_consumer_lag"))
            time.sleep(0.5)
            done = committed(broker.bootstrap, topics)
        assert done == {p: ends[(topics.events, p)] for p in range(topics.partitions)}, (
            f"stalled: committed {done} of {ends}; lag read {lag_seen[-5:]}"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and w2.sample("sla_consumer_lag") != 0:
            time.sleep(0.5)
        assert w2.sample("sla_consumer_lag") == 0
    finally:
        w2.stop()
