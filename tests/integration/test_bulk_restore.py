"""The bulk restore gives a worker exactly the state Faust's own recovery gives it.

One tickets changelog (pre-loaded open tickets, later versions of some, tombstones, a ticket
without a deadline, produced in several batches), restored into two empty data dirs by two
workers of the same group one after the other: `--restore faust`, then `--restore bulk`. Every
key and value of every table partition's RocksDB (the persisted offset included) and every
timer index entry must be the same, and the same as the changelog's last value per key.
"""

from __future__ import annotations

import time
from pathlib import Path

from rocksdict import AccessType, Options, Rdict

from bench.preload import changelog_topic, records, stored
from config.loader import load
from kafka_io.producer import partition_for, publish
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, wait_until
from topologies.state import codec
from topologies.timers import TimerIndex

PARTITIONS = 2
OPEN = 300


def changelog(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """Produce the changelog in four batches; the last value of each live key."""
    now = time.time_ns() // 1000
    first = list(records(OPEN, PARTITIONS, now))
    policy = load(None)
    later = [
        (key, stored(i, now + 60_000_000, PARTITIONS, policy))
        for i, (key, _) in enumerate(first)
        if i % 3 == 0
    ]
    gone: list[tuple[bytes, bytes | None]] = [(key, None) for key, _ in first[1::7]]
    undue = first[2]
    no_deadline = (undue[0], codec.frame(None, partition_for(undue[0], PARTITIONS), b"{}"))
    last: dict[bytes, bytes | None] = {}
    for batch in (first, later, gone, [no_deadline]):
        publish(bootstrap, topic, [(k, v, 0) for k, v in batch])
        last.update(batch)
    return {k: v for k, v in last.items() if v is not None}


def table_of(data_dir: Path) -> dict[int, dict[bytes, bytes]]:
    """Every partition's RocksDB of the `tickets` table, read after the worker stopped."""
    root = data_dir / "faust" / "v1" / "tables"
    out = {}
    for p in range(PARTITIONS):
        path = str(root / f"tickets-{p}.db")
        db = Rdict(path, Options(raw_mode=True), access_type=AccessType.read_only())
        out[p] = dict(db.items())
        db.close()
    return out


def timers_of(data_dir: Path) -> dict[int, list[tuple[int, str]]]:
    out = {}
    for p in range(PARTITIONS):
        with TimerIndex(data_dir / "timers" / f"p{p}", durable=False) as idx:
            out[p] = list(idx.items())
    return out


def recovered(w: WorkerProcess) -> bool:
    """Whether the worker's first recovery is done (a scrape that times out on a loaded
    machine counts as not yet)."""
    try:
        return w.sample("sla_recovery_duration_seconds") > 0
    except OSError:
        return False


def restore_with(broker: BrokerHandle, topics: Topics, mode: str, where: Path) -> str:
    w = WorkerProcess(
        broker.bootstrap,
        topics,
        where,
        where.with_suffix(".log"),
        extra=["--restore", mode, "--role", "sla"],
    )
    w.start()
    try:
        wait_until(lambda: recovered(w), 120, f"recovery with --restore {mode}")
    finally:
        w.stop()
    return w.log_tail(400)


def test_bulk_restore_gives_the_state_faust_recovery_gives(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap, PARTITIONS)
    topic = changelog_topic(topics.group)
    broker.create_topics({topic: PARTITIONS}, {"cleanup.policy": "compact"})
    expected = changelog(broker.bootstrap, topic)

    faust_log = restore_with(broker, topics, "faust", tmp_path / "faust")
    bulk_log = restore_with(broker, topics, "bulk", tmp_path / "bulk")
    assert "bulk restore:" not in faust_log
    assert "bulk restore: " in bulk_log, bulk_log
    assert "from the bulk restore's entries" in bulk_log  # no second pass over the table

    by_faust, by_bulk = table_of(tmp_path / "faust"), table_of(tmp_path / "bulk")
    assert by_bulk == by_faust
    offset_key = b"__faust\0offset__"
    live = {k: v for part in by_bulk.values() for k, v in part.items() if k != offset_key}
    assert live == expected
    for p, part in by_bulk.items():
        assert all(partition_for(k, PARTITIONS) == p for k in part if k != offset_key)

    timers_faust, timers_bulk = timers_of(tmp_path / "faust"), timers_of(tmp_path / "bulk")
    assert timers_bulk == timers_faust
    due = {(d, k.decode()) for k, v in expected.items() if (d := codec.peek(v)[0]) is not None}
    assert {e for entries in timers_bulk.values() for e in entries} == due
    assert len(due) == len(expected) - 1  # the ticket without a deadline has no timer
    assert f"rebuilt: {len(due)} open tickets, from the table" in faust_log
    assert f"rebuilt: {len(due)} open tickets, from the bulk restore's entries" in bulk_log
