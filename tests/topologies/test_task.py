"""`TicketTask` in process: a memory store, a fake clock, librdkafka's contract as a fake.

Timers fire at the exact instant they are due (no sleeping), a bad record is dead-lettered while
its batch goes on, an event older than the retention horizon is refused, state reaches the store
only at the commit, and a closed ticket is forgotten once its retention ends."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from config.loader import load
from engine.instant import iso
from engine.retention import horizon_us
from engine.ticket import Ticket
from tests.topologies.fakes import FakeClock, FakeProducer, record
from topologies.output import Output
from topologies.settings import Settings
from topologies.state import codec
from topologies.state.memory import MemoryStore
from topologies.worker.partition_state import timers_under
from topologies.worker.task import TicketTask

POLICY = load(None)
T0 = int(datetime(2026, 11, 30, 9, 0, tzinfo=UTC).timestamp() * 1_000_000)  # a Monday
SETTINGS = Settings()


@dataclass
class Worker:
    task: TicketTask
    store: MemoryStore
    clock: FakeClock
    producer: FakeProducer
    offsets: dict[tuple[str, int], int]

    def sent(self, topic: str) -> list[Any]:
        """Messages delivered to `topic` so far (delivery runs on poll and flush)."""
        self.producer.poll()
        return [m for m in self.producer.delivered if m.topic_ == topic]

    def events(self, *bodies: dict[str, Any] | bytes, partition: int = 0) -> None:
        batch = []
        for body in bodies:
            value = body if isinstance(body, bytes) else orjson.dumps(body)
            key = None if isinstance(body, bytes) else str(body["ticket_id"]).encode()
            batch.append(self._record(SETTINGS.events_topic, partition, key, value))
        self.task.on_events(batch)

    def scan_and_tick(self) -> int:
        """One timer scan, then the ticks it sent through the ticks agent; how many ticks."""
        before = len(self.sent(SETTINGS.ticks_topic))
        self.task.scan()
        ticks = self.sent(SETTINGS.ticks_topic)[before:]
        self.task.on_ticks([self._record(m.topic_, m.partition_, m.key_, m.value_) for m in ticks])
        return len(ticks)

    def _record(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> Any:
        offset = self.offsets.get((topic, partition), -1) + 1
        self.offsets[(topic, partition)] = offset
        return record(topic, partition, offset, key, value)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[Worker]:
    clock = FakeClock(T0)
    producer = FakeProducer()
    store = MemoryStore()
    timers = timers_under(tmp_path / "timers")
    task = TicketTask(SETTINGS, POLICY, store, timers, Output("unused", producer), clock)
    task.recovered()  # an empty table: ready
    yield Worker(task, store, clock, producer, {})
    task.state.close()


def created(ticket_id: str, at: int, priority: str = "A") -> dict[str, Any]:
    return {
        "event_id": f"{ticket_id}-1",
        "ticket_id": ticket_id,
        "type": "created",
        "occurred_at": iso(at),
        "priority": priority,
        "category": "simple",
        "channel": "phone",
        "team": "team-1",
    }


def event(ticket_id: str, n: int, kind: str, at: int) -> dict[str, Any]:
    return {"event_id": f"{ticket_id}-{n}", "ticket_id": ticket_id, "type": kind,
            "occurred_at": iso(at)}  # fmt: skip


def test_a_timer_fires_at_the_exact_instant_it_is_due(worker: Worker) -> None:
    worker.events(created("T-1", T0))
    assert worker.sent(SETTINGS.alerts_topic) == []
    due = worker.task.state.index(0).get("T-1")
    assert due is not None and due > T0
    worker.clock.wall = due - 1
    assert worker.scan_and_tick() == 0  # a µs early: nothing
    worker.clock.wall = due
    assert worker.scan_and_tick() == 1
    (tick,) = worker.sent(SETTINGS.ticks_topic)
    assert (tick.partition_, struct.unpack(">q", tick.value_)[0]) == (0, due)
    alerts = [orjson.loads(m.value_) for m in worker.sent(SETTINGS.alerts_topic)]
    assert [a["ticket_id"] for a in alerts] == ["T-1"]
    assert alerts[0]["due_at"] == iso(due)
    assert worker.task.state.index(0).get("T-1") not in (None, due)  # the next deadline


def test_a_bad_record_is_dead_lettered_and_its_batch_goes_on(worker: Worker) -> None:
    worker.clock.wall = T0 + 1_000_000
    worker.events(b"{not json", created("T-2", T0))
    (dead,) = worker.sent(SETTINGS.dlq_topic)
    letter = orjson.loads(dead.value_)
    assert (letter["offset"], letter["detected_at"]) == (0, iso(T0 + 1_000_000))  # the clock's
    assert "T-2" in worker.task.state.pending


def test_an_event_older_than_the_retention_horizon_is_refused(worker: Worker) -> None:
    worker.clock.wall = T0 + horizon_us(SETTINGS.retention_days) + 1
    worker.events(created("T-OLD", T0))
    (dead,) = worker.sent(SETTINGS.dlq_topic)
    assert "older than the retention horizon" in orjson.loads(dead.value_)["reason"]
    assert worker.task.state.pending == {}


def test_state_reaches_the_store_only_at_the_commit(worker: Worker) -> None:
    worker.clock.wall = T0 + 1_000_000
    worker.events(created("T-3", T0, priority="B"), partition=2)
    assert worker.store.get(2, b"T-3") is None
    worker.task.before_commit()
    stored = worker.store.get(2, b"T-3")
    assert stored is not None and codec.decode(stored, POLICY).ticket_id == "T-3"
    (facts,) = worker.sent(SETTINGS.kpi_facts_topic)
    assert facts.key_ == b"T-3" and orjson.loads(facts.value_)["facts"]
    (status,) = worker.sent(SETTINGS.status_topic)
    assert (status.key_, status.partition_) == (b"T-3", 2)


def test_a_closed_ticket_is_forgotten_when_its_retention_ends(worker: Worker) -> None:
    minute = 60_000_000
    worker.clock.wall = T0 + 4 * minute
    worker.events(
        created("T-4", T0),
        event("T-4", 2, "responded", T0 + minute),
        event("T-4", 3, "resolved", T0 + 2 * minute),
        event("T-4", 4, "closed", T0 + 3 * minute),
    )
    worker.task.before_commit()
    assert worker.store.get(0, b"T-4") is not None
    end = T0 + 3 * minute + horizon_us(SETTINGS.retention_days)
    assert worker.task.state.index(0).get("T-4") == end
    worker.clock.wall = end
    assert worker.scan_and_tick() == 1
    worker.task.before_commit()
    assert worker.store.get(0, b"T-4") is None
    assert worker.store.changelog[-1] == (0, b"T-4", None)
    assert worker.sent(SETTINGS.status_topic)[-1].value_ is None  # tombstone
    assert orjson.loads(worker.sent(SETTINGS.kpi_facts_topic)[-1].value_)["facts"] is None


def test_a_tick_that_finds_nothing_due_changes_nothing(worker: Worker) -> None:
    """The scan sends a tick; an event read before it answers the ticket (as while a backlog is
    read): the tick writes, announces and publishes nothing, and the index keeps the deadline."""
    minute = 60_000_000
    worker.events(created("T-9", T0))
    due = worker.task.state.index(0).get("T-9")
    assert due is not None
    worker.clock.wall = due
    worker.task.scan()
    (tick,) = worker.sent(SETTINGS.ticks_topic)
    worker.events(event("T-9", 2, "responded", due - minute))  # read before the tick
    worker.task.before_commit()
    statuses, writes = len(worker.sent(SETTINGS.status_topic)), len(worker.store.changelog)
    facts, alerts = len(worker.sent(SETTINGS.kpi_facts_topic)), worker.sent(SETTINGS.alerts_topic)
    after = worker.task.state.index(0).get("T-9")
    assert after != due  # the response moved the deadline
    worker.task.on_ticks([worker._record(tick.topic_, 0, tick.key_, tick.value_)])
    worker.task.before_commit()
    assert len(worker.sent(SETTINGS.status_topic)) == statuses
    assert len(worker.store.changelog) == writes
    assert len(worker.sent(SETTINGS.kpi_facts_topic)) == facts
    assert worker.sent(SETTINGS.alerts_topic) == alerts
    assert worker.task.state.index(0).get("T-9") == after


def test_after_a_rebalance_the_timers_are_rebuilt_from_the_store(worker: Worker) -> None:
    worker.clock.wall = T0 + 1_000_000
    worker.events(created("T-5", T0), partition=1)
    due = worker.task.state.index(1).get("T-5")
    worker.task.revoked()  # pending written first, then everything in memory dropped
    assert not worker.task.state.ready and worker.task.state.index(1).get("T-5") is None
    worker.task.recovered()
    assert worker.task.state.index(1).get("T-5") == due


def evicted(worker: Worker, ticket_id: str) -> bytes:
    """Commit, then drop the ticket from the cache (as an eviction would); its stored state."""
    worker.task.before_commit()
    state = worker.task.state
    state.cache.pop(ticket_id)
    state.counts.remove(ticket_id)
    stored = worker.store.get(0, ticket_id.encode())
    assert stored is not None
    return codec.decode(stored, POLICY).to_bytes()


def faulty(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """`Ticket.<name>` runs, changes the ticket, then raises (the worst moment to fail)."""
    real = getattr(Ticket, name)

    def run(self: Ticket, *args: Any) -> Any:
        real(self, *args)
        raise RuntimeError("injected")

    monkeypatch.setattr(Ticket, name, run)


def test_a_failed_tick_puts_the_ticket_back_as_stored(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.events(created("T-5", T0), created("T-6", T0))
    before = evicted(worker, "T-5")  # read back from the store by its tick: no snapshot taken
    worker.clock.wall = worker.task.state.index(0).get("T-5") or 0
    faulty(monkeypatch, "tick")
    assert worker.scan_and_tick() == 2
    letters = [orjson.loads(m.value_) for m in worker.sent(SETTINGS.dlq_topic)]
    assert sorted(x["key"] for x in letters) == ["T-5", "T-6"]
    assert all(x["reason"].startswith("processing_error") for x in letters)
    assert worker.sent(SETTINGS.alerts_topic) == []
    state = worker.task.state
    assert "T-5" not in state.pending  # nothing changed: nothing to write
    ticket = state.load("T-5", 0)
    assert ticket is not None and ticket.to_bytes() == before
    monkeypatch.undo()
    worker.events(event("T-5", 2, "responded", T0 + 1_000))  # and the ticket goes on
    assert state.load("T-5", 0) is not None and "T-5" in state.pending


def test_a_failed_first_event_puts_the_ticket_back_as_stored(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    worker.events(created("T-7", T0))
    before = evicted(worker, "T-7")
    faulty(monkeypatch, "settle")
    worker.events(event("T-7", 2, "responded", T0 + 1_000))
    (dead,) = worker.sent(SETTINGS.dlq_topic)
    assert orjson.loads(dead.value_)["reason"] == "processing_error: RuntimeError: injected"
    ticket = worker.task.state.load("T-7", 0)
    assert ticket is not None and ticket.to_bytes() == before
    assert "T-7" not in worker.task.state.pending and "T-7" not in worker.task.state.dirty
