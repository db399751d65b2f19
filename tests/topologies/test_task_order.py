"""What the ticket worker publishes does not hang on Python's hash seed: the same events give the
same messages in the same order, whatever `PYTHONHASHSEED` the worker runs with.

Within one batch, messages of different tickets are in the order the batch first touched the
tickets (an earlier build iterated a set of ticket ids for `sla.status`, so that order changed
from one process to the next)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zlib
from datetime import datetime
from pathlib import Path

import orjson

import workload
from tests.topologies import test_task as base
from tests.topologies.fakes import FakeClock, FakeProducer, record
from tests.topologies.test_task import POLICY, SETTINGS, T0, Worker, created
from topologies.kpis import KpiAggregator
from topologies.output import Output
from topologies.state.memory import MemoryStore
from topologies.worker.kpi_task import KpiTask
from topologies.worker.partition_state import timers_under
from topologies.worker.task import TicketTask

ROOT = Path(__file__).resolve().parents[2]
PARTITIONS = 4
worker = base.worker  # the ticket-worker fixture of test_task, shared here


def test_statuses_go_out_in_the_order_the_batch_first_touched_the_tickets(worker: Worker) -> None:
    ids = [f"T-{n:03d}" for n in range(60, 0, -1)]  # 60 ids: a set's order differs from this
    worker.clock.wall = T0 + 1_000_000
    worker.events(*(created(t, T0) for t in ids))
    assert [m.key_.decode() for m in worker.sent(SETTINGS.status_topic)] == ids


def _unknown(tp: object) -> int | None:
    return None


def _us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def digest(tickets: int = 300, batch: int = 40) -> str:
    """sha256 of every message the ticket and KPI tasks published (topic, partition, key, value,
    in order) and of the ticket store's changelog, for a seeded workload in batches, with timer
    scans and KPI publications between."""
    with tempfile.TemporaryDirectory() as tmp:
        events = [orjson.loads(line) for line in workload.lines(tickets, seed=11)]
        clock = FakeClock(_us(events[0]["occurred_at"]))
        producer, store = FakeProducer(), MemoryStore()
        task = TicketTask(
            SETTINGS, POLICY, store, timers_under(Path(tmp)), Output("unused", producer), clock
        )
        task.recovered()
        w = Worker(task, store, clock, producer, {})
        kpi_producer = FakeProducer()
        aggregator = KpiAggregator(POLICY, SETTINGS.retention_days)
        kpis = KpiTask(
            SETTINGS, aggregator, MemoryStore(), Output("unused", kpi_producer), clock, _unknown
        )
        kpis.recovered()
        fed = 0

        def commit() -> None:
            nonlocal fed
            task.before_commit()
            facts = w.sent(SETTINGS.kpi_facts_topic)
            kpis.on_facts([record(m.topic_, 0, fed + i, m.key_, m.value_) for i, m in
                           enumerate(facts[fed:])])  # fmt: skip
            fed = len(facts)
            kpis.publish()

        for i in range(0, len(events), batch):
            chunk = events[i : i + batch]
            clock.wall = _us(chunk[-1]["occurred_at"]) + 1_000_000
            for p in range(PARTITIONS):
                mine = [e for e in chunk if zlib.crc32(e["ticket_id"].encode()) % PARTITIONS == p]
                if mine:
                    w.events(*mine, partition=p)
            w.scan_and_tick()
            commit()
        clock.wall += 30 * 86_400_000_000  # a month on: every remaining timer, retention too
        for _ in range(20):
            if w.scan_and_tick() == 0:
                break
            commit()
        producer.poll()
        kpi_producer.poll()
        h = hashlib.sha256()
        for m in producer.delivered + kpi_producer.delivered:
            h.update(repr((m.topic_, m.partition_, m.key_, m.value_)).encode())
        h.update(repr(store.changelog).encode())
        task.state.close()
        return f"{len(producer.delivered)} {len(kpi_producer.delivered)} {h.hexdigest()}"


def _digest_with_seed(seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    code = "from tests.topologies.test_task_order import digest; print(digest())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_the_worker_output_is_the_same_under_any_hash_seed() -> None:
    first, second = _digest_with_seed(0), _digest_with_seed(1)
    worker_out, kpis_out, _ = first.split()
    assert int(worker_out) > 1000 and int(kpis_out) > 100  # a real run of both tasks
    assert first == second
