"""The worker's state path without a broker: batched table writes with explicit partitions
(`PartitionState` on a `RocksDBStore`), their changelog through `Output`, persisted changelog
offsets, and delivery failures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from config.loader import load
from engine.history import from_model
from engine.retention import deadline
from engine.ticket import Ticket
from schemas.parse import parse_event
from tests.topologies.fakes import CHANGELOG, FakeProducer, FakeTable
from topologies.output import DeliveryError, Output
from topologies.settings import Settings
from topologies.state import codec
from topologies.state.rocksdb import RocksDBStore
from topologies.stream_time import SystemClock
from topologies.worker.partition_state import PartitionState, timers_under

POLICY = load(None)


def event_at(partition: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(partition=partition))


def stepped(ticket_id: str, *types: str) -> Ticket:
    """A ticket after a `created` event an hour ago and then `types`, a minute apart."""
    t0 = datetime.now(UTC) - timedelta(hours=1)
    ticket = Ticket.new(ticket_id, POLICY)
    body: dict[str, Any] = {
        "event_id": f"{ticket_id}-0",
        "ticket_id": ticket_id,
        "type": "created",
        "occurred_at": t0.isoformat(),
        "priority": "A",
        "category": "simple",
        "channel": "phone",
        "team": "team-1",
    }
    events = [body] + [
        {
            "event_id": f"{ticket_id}-{i}",
            "ticket_id": ticket_id,
            "type": kind,
            "occurred_at": (t0 + timedelta(minutes=i)).isoformat(),
        }
        for i, kind in enumerate(types, start=1)
    ]
    for body in events:
        ev = from_model(parse_event(orjson.dumps(body)))
        ticket.step(ev, ev.at, ev.at)
    return ticket


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[PartitionState, FakeTable, FakeProducer]]:
    table = FakeTable(tmp_path)
    producer = FakeProducer()
    store = RocksDBStore(table, Output("unused", producer))
    timers = timers_under(tmp_path / "timers")
    engine = PartitionState(Settings(data_dir=tmp_path), POLICY, store, timers, SystemClock())
    yield engine, table, producer
    for idx in engine.indexes.values():
        idx.close()
    table.data.close()


def keep(ticket: Ticket, partition: int) -> tuple[int, Ticket, bytes]:
    return (partition, ticket, codec.encode(ticket, partition, Settings().retention_days))


def test_a_batch_writes_each_ticket_once_to_its_partition_and_changelog_at_commit(
    parts: tuple[PartitionState, FakeTable, FakeProducer],
) -> None:
    engine, table, producer = parts
    a, b = stepped("A-1"), stepped("B-1", "responded")
    engine.save_many({"A-1": keep(a, 2), "B-1": keep(b, 0)})
    # nothing in RocksDB nor the changelog before the commit: state never ahead of the alerts
    assert b"A-1" not in table.data.dbs.get(2, {}) and not producer.queued
    assert engine.load("A-1", 2) is a  # but read from the pending writes
    engine.write_pending()
    stored = table.data.dbs[2][b"A-1"]
    assert stored is not None and codec.decode(stored, POLICY).ticket_id == "A-1"
    assert table.data.dbs[0][b"B-1"] == codec.encode(b, 0, engine.settings.retention_days)
    assert b"A-1" not in table.data.dbs.get(0, {})
    sent = [(m.topic_, m.partition_, m.key_) for m, _ in producer.queued]
    assert sorted(sent) == [(CHANGELOG, 0, b"B-1"), (CHANGELOG, 2, b"A-1")]
    assert engine.index(2).get("A-1") == deadline(a, engine.settings.retention_days)
    assert engine.index(0).get("B-1") == deadline(b, engine.settings.retention_days)
    assert engine.load("A-1", 2) is a  # kept decoded
    engine.write_pending()
    assert len(producer.queued) == 2  # written once


def test_changelog_offsets_are_persisted_once_delivered(
    parts: tuple[PartitionState, FakeTable, FakeProducer],
) -> None:
    engine, table, _producer = parts
    ticket = stepped("A-1")
    engine.save_many({"A-1": keep(ticket, 1)})
    engine.write_pending()
    engine.save_many({"A-1": keep(ticket, 1), "C-1": keep(stepped("C-1"), 3)})
    engine.write_pending()
    assert table.data.persisted == {}  # nothing delivered yet
    cast(RocksDBStore, engine.store).output.poll()
    assert table.data.persisted == {(CHANGELOG, 1): 1, (CHANGELOG, 3): 0}


def test_load_prefers_the_batch_then_pending_then_the_cache_then_the_tickets_partition(
    parts: tuple[PartitionState, FakeTable, FakeProducer],
) -> None:
    engine, _table, _producer = parts
    ticket = stepped("A-1")
    engine.save_many({"A-1": keep(ticket, 1)})
    engine.cache.clear()
    assert engine.load("A-1", 1) is ticket  # pending, not written yet
    engine.write_pending()
    engine.cache.clear()
    assert engine.load("A-1", 0) is None  # not in partition 0
    loaded = engine.load("A-1", 1)
    assert loaded is not None and loaded.to_bytes() == ticket.to_bytes()
    assert engine.load("A-1", 1) is loaded  # cached now
    batch = stepped("A-1", "responded")
    assert engine.load("A-1", 1, {"A-1": (batch, event_at(1))}) is batch


def test_a_dropped_ticket_leaves_table_changelog_and_index(
    parts: tuple[PartitionState, FakeTable, FakeProducer],
) -> None:
    engine, table, producer = parts
    engine.save_many({"A-1": keep(stepped("A-1"), 1)})
    engine.write_pending()
    engine.dirty["A-1"] = (stepped("A-1"), 0)
    engine.drop("A-1", 1)
    assert engine.load("A-1", 1) is None  # at once for the batch
    engine.write_pending()
    assert b"A-1" not in table.data.dbs[1]
    assert (producer.queued[-1][0].key_, producer.queued[-1][0].value_) == (b"A-1", None)
    assert engine.index(1).get("A-1") is None
    assert "A-1" not in engine.cache and "A-1" not in engine.dirty


def test_restore_puts_a_half_changed_ticket_back_everywhere(
    parts: tuple[PartitionState, FakeTable, FakeProducer],
) -> None:
    engine, table, _producer = parts
    saved = stepped("A-1")
    engine.save_many({"A-1": keep(saved, 1)})  # pending, not written
    engine.dirty["A-1"] = (saved, 5)
    snapshot = saved.to_bytes()
    half_done = engine.load("A-1", 1)
    assert half_done is saved
    half_done.step(from_model(parse_event(orjson.dumps({
        "event_id": "A-1-9", "ticket_id": "A-1", "type": "responded",
        "occurred_at": datetime.now(UTC).isoformat(),
    }))), 0, 0)  # fmt: skip
    touched: dict[str, Any] = {"A-1": (half_done, event_at(1))}
    restored = engine.restore("A-1", snapshot, touched)
    assert restored is not None and restored.to_bytes() == snapshot != half_done.to_bytes()
    assert "A-1" not in touched
    assert engine.load("A-1", 1) is restored
    assert engine.dirty["A-1"] == (restored, 5)  # its KPI facts still go out
    engine.write_pending()
    stored = table.data.dbs[1][b"A-1"]
    assert stored is not None
    assert codec.decode(stored, POLICY).to_bytes() == snapshot
    assert engine.restore("N-1", None, {}) is None and engine.load("N-1", 1) is None


def test_delivery_failures_block_every_later_commit() -> None:
    producer = FakeProducer(fail={"sla.alerts"})
    out = Output("unused", producer)
    out.send("sla.alerts", b"T-1", b"{}")
    out.send("sla.ticks", b"T-1", b"now", 2)
    with pytest.raises(DeliveryError, match=r"sla\.alerts"):
        out.flush()
    with pytest.raises(DeliveryError):  # sticky: no commit after a lost message
        out.flush()
    stuck = Output("unused", FakeProducer(stuck=True))
    stuck.send("sla.alerts", b"T-1", b"{}")
    with pytest.raises(DeliveryError, match="1 message"):
        stuck.flush(0.01)


def test_output_keeps_partition_and_tombstones() -> None:
    producer = FakeProducer()
    out = Output("unused", producer)
    out.send("t", b"k", None, 3)
    out.send("u", None, b"v")
    out.flush()
    assert [(m.topic_, m.partition_, m.key_, m.value_) for m in producer.delivered] == [
        ("t", 3, b"k", None),
        ("u", -1, None, b"v"),
    ]
