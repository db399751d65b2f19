"""Ticks held while a partition reads a backlog: a due ticket's tick waits until the events in the
partition's log at the scan are processed (or for at most `HOLD_S`), and goes out only if the
ticket is still due then."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.topologies.fakes import FakeClock, FakeProducer
from tests.topologies.test_task import POLICY, SETTINGS, T0, Worker, created, event
from topologies.output import Output
from topologies.state.memory import MemoryStore
from topologies.stream_time import IDLE_S
from topologies.worker.held_ticks import HOLD_S, HeldTicks
from topologies.worker.partition_state import timers_under
from topologies.worker.task import TicketTask

MINUTE = 60_000_000
READ = {0: -1}  # partition -> the last offset in its log (the high-water mark - 1)


@pytest.fixture
def behind(tmp_path: Path) -> Iterator[Worker]:
    """A worker whose partition 0 is behind: its high-water mark is far ahead of what it read,
    so its clock is the stream time."""
    clock = FakeClock(T0 + 30 * 24 * 60 * MINUTE)  # the wall clock: long after the events
    producer = FakeProducer()
    store = MemoryStore()
    timers = timers_under(tmp_path / "timers")
    READ[0] = -1

    def highwater(tp: Any) -> int:
        return 10_000

    task = TicketTask(
        SETTINGS, POLICY, store, timers, Output("unused", producer), clock, highwater, READ.get
    )
    task.recovered()
    yield Worker(task, store, clock, producer, {})
    task.state.close()


def test_a_tick_waits_for_the_events_read_before_its_scan(behind: Worker) -> None:
    behind.events(created("T-1", T0), created("T-2", T0))  # offsets 0, 1
    due = behind.task.state.index(0).get("T-1")
    assert due is not None and due == behind.task.state.index(0).get("T-2")
    behind.events(created("T-3", due))  # offset 2: the stream time reaches the deadline
    READ[0] = 4  # offsets 3 and 4 are in the log, not processed yet
    behind.task.scan()
    assert behind.sent(SETTINGS.ticks_topic) == []  # held
    assert len(behind.task.held) == 2
    behind.events(event("T-1", 2, "responded", due + MINUTE))  # offset 3 answers T-1
    assert behind.sent(SETTINGS.ticks_topic) == []  # offset 4 not processed yet
    behind.events(event("T-3", 2, "responded", due + MINUTE))  # offset 4
    ticks = behind.sent(SETTINGS.ticks_topic)
    assert [t.key_ for t in ticks] == [b"T-2"]  # T-1 crossed its threshold with its own event
    assert len(behind.task.held) == 0
    alerts = [orjson.loads(m.value_) for m in behind.sent(SETTINGS.alerts_topic)]
    assert [a["ticket_id"] for a in alerts].count("T-1") >= 1  # from the response, not a tick


def test_nothing_read_ahead_ticks_at_once(behind: Worker) -> None:
    behind.events(created("T-1", T0))
    due = behind.task.state.index(0).get("T-1")
    assert due is not None
    behind.events(created("T-2", due))
    READ[0] = 1  # everything in the log is processed
    behind.task.scan()
    assert [t.key_ for t in behind.sent(SETTINGS.ticks_topic)] == [b"T-1"]


def test_a_rebalance_drops_the_held_ticks_and_the_rebuilt_index_finds_them(
    behind: Worker,
) -> None:
    behind.events(created("T-1", T0))
    due = behind.task.state.index(0).get("T-1")
    behind.events(created("T-2", due))
    READ[0] = 5
    behind.task.scan()
    assert len(behind.task.held) == 1
    behind.task.revoked()
    assert len(behind.task.held) == 0
    behind.task.recovered()
    assert behind.task.state.index(0).get("T-1") == due


def test_a_held_tick_goes_out_after_the_longest_hold(behind: Worker) -> None:
    behind.events(created("T-1", T0))
    due = behind.task.state.index(0).get("T-1")
    behind.events(created("T-2", due))
    READ[0] = 9_999  # a long backlog
    behind.task.scan()
    assert behind.sent(SETTINGS.ticks_topic) == []
    behind.clock.mono += HOLD_S / 2
    behind.events(created("T-3", due))  # still reading the backlog
    behind.task.scan()
    assert behind.sent(SETTINGS.ticks_topic) == []
    behind.clock.mono += HOLD_S / 2
    behind.events(created("T-4", due))
    behind.task.scan()
    assert [t.key_ for t in behind.sent(SETTINGS.ticks_topic)] == [b"T-1"]


def test_an_idle_partition_ticks_at_once(behind: Worker) -> None:
    """No message read for `IDLE_S`: the partition is not reading a backlog any more."""
    behind.events(created("T-1", T0))
    due = behind.task.state.index(0).get("T-1")
    assert due is not None
    READ[0] = 9_999
    behind.clock.mono += IDLE_S
    behind.task.scan()  # on the wall clock now, long after the deadline
    assert [t.key_ for t in behind.sent(SETTINGS.ticks_topic)] == [b"T-1"]


def test_held_ticks_are_released_in_gate_order() -> None:
    last = {0: 3}
    held = HeldTicks(last.get, hold_s=10.0)
    assert held.hold(0, True, 0.0, ["a"]) == []
    last[0] = 7
    assert held.hold(0, True, 1.0, ["b"]) == []
    assert held.hold(0, False, 1.0, ["c"]) == ["c"]  # not behind: at once
    held.seen(0, 3)
    assert held.ready(0, 2.0) == ["a"]
    held.seen(0, 6)
    assert held.ready(0, 2.0) == []
    assert held.ready(0, 11.0) == ["b"] and len(held) == 0
