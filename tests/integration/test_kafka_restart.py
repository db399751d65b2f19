"""Apache Kafka stopped (SIGTERM, then SIGKILL) and restarted on its data dir under a running
worker: the worker reconnects by itself and the alerts topic ends up holding exactly the
decisions a replay of the events gives, by `alert_id` (none missing, no id with two contents)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.instant import to_us
from tests.integration.conftest import need_kafka
from tests.integration.harness import Topics, WorkerProcess, consume, keyed, produce
from tests.integration.test_worker import created, due_by, replay_keys

pytestmark = pytest.mark.kafka_only


@pytest.fixture
def kafka(tmp_path: Path) -> Iterator[Any]:
    need_kafka()
    from kafka_io.apache import KafkaBroker

    broker = KafkaBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def wait_consumed(worker: WorkerProcess, n: int, timeout: float = 90) -> None:
    """Until the worker has processed `n` events (scraped), or fail with its log."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if worker.sample("sla_events_consumed_total") >= n:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the worker processed fewer than {n} events: {worker.log_tail()}")


def test_broker_restarts_lose_nothing(kafka: Any, tmp_path: Path) -> None:
    topics = Topics.unique(kafka.bootstrap)
    now = datetime.now(UTC)
    # Priority A: warning 60 s and breach 120 s after creation; created 50-119 s ago, so the
    # thresholds fall due before, during and after the restarts.
    batches = [
        [created(f"B{b}-{i:02d}", now - timedelta(seconds=50 + 23 * b + i)) for i in range(20)]
        for b in range(3)
    ]
    worker = WorkerProcess(kafka.bootstrap, topics, tmp_path / "data", tmp_path / "w.log").start()
    try:
        produce(kafka.bootstrap, topics.events, keyed(batches[0]))
        wait_consumed(worker, 20)
        kafka.stop(sig=signal.SIGTERM)
        kafka.start()  # same data dir, same port
        produce(kafka.bootstrap, topics.events, keyed(batches[1]))
        wait_consumed(worker, 40)
        kafka.stop(sig=signal.SIGKILL)
        kafka.start()
        produce(kafka.bootstrap, topics.events, keyed(batches[2]))
        wait_consumed(worker, 60)
        assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
        everything = [e for batch in batches for e in batch]
        until = to_us(now + timedelta(seconds=75))  # every breach is due by then
        want = due_by(replay_keys([orjson.dumps(e) + b"\n" for e in everything], until), until)
        assert sum(k[3] == "breach" for k in want) == 60

        def complete(msgs: list[Any]) -> bool:
            return due_by(effective_of(msgs), until) >= want

        msgs = consume(kafka.bootstrap, topics.alerts, until=complete, timeout=120, idle=2)
    finally:
        worker.stop()
    by_id: dict[str, set[bytes]] = {}
    for m in msgs:
        a = orjson.loads(m.value())
        a.pop("detected_at", None)
        by_id.setdefault(a["alert_id"], set()).add(orjson.dumps(a, option=orjson.OPT_SORT_KEYS))
    assert not {i: c for i, c in by_id.items() if len(c) > 1}, "an alert id with two contents"
    assert due_by(effective_of(msgs), until) == want


def effective_of(msgs: list[Any]) -> set[tuple[Any, ...]]:
    from tests.integration.harness import alerts_of, effective_keys

    return effective_keys(alerts_of(msgs))
