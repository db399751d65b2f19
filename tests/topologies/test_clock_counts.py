"""The clock gauges kept incrementally (`ClockCounts`) equal the walk over the decoded-ticket
cache they replace (`TicketEval.open_clocks` of every cached ticket), through a stream of
events, ticks, evictions from a small cache and a rebalance."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

import workload
from config.loader import load
from engine.instant import to_us
from tests.topologies.fakes import FakeClock, FakeProducer, record
from topologies.output import Output
from topologies.settings import Settings
from topologies.state.memory import MemoryStore
from topologies.worker.clock_counts import ALWAYS, Key
from topologies.worker.partition_state import PartitionState, timers_under
from topologies.worker.task import TicketTask

POLICY = load(None)
START = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)  # a Monday


def walked(state: PartitionState, now: int) -> tuple[Counter[Key], Counter[Key]]:
    """What the gauges counted before: a walk over the cache."""
    open_: Counter[Key] = Counter()
    risk: Counter[Key] = Counter()
    for ticket in state.cache.values():
        priority = ticket.state.attrs.get("priority") or ""
        for clock, at_risk in ticket.state.open_clocks(now):
            open_[(clock, priority)] += 1
            risk[(clock, priority)] += at_risk
    return open_, risk


def positive(c: Counter[Key]) -> dict[Key, int]:
    return {k: v for k, v in c.items() if v}


def test_incremental_clock_gauges_equal_the_walk_over_the_cache(tmp_path: Path) -> None:
    settings = Settings(cache_tickets=60)  # fewer than the tickets: evictions and reloads
    lines = workload.lines(200, seed=3, start=START, span=timedelta(days=3))
    events = sorted((orjson.loads(x) for x in lines), key=lambda e: e["occurred_at"])
    clock = FakeClock(to_us(START))
    producer = FakeProducer()
    task = TicketTask(
        settings,
        POLICY,
        MemoryStore(),
        timers_under(tmp_path / "timers"),
        Output("unused", producer),
        clock,
    )
    task.recovered()
    state = task.state
    offsets: Counter[tuple[str, int]] = Counter()

    def rec(topic: str, partition: int, key: bytes | None, value: bytes | None) -> object:
        offsets[(topic, partition)] += 1
        return record(topic, partition, offsets[(topic, partition)], key, value)

    compared = at_risk_seen = 0
    for start in range(0, len(events), 25):
        batch = events[start : start + 25]
        clock.wall = max(clock.wall, to_us(datetime.fromisoformat(batch[-1]["occurred_at"])))
        part = start // 25 % 4
        task.on_events(
            [
                rec(settings.events_topic, part, e["ticket_id"].encode(), orjson.dumps(e))
                for e in batch
            ]
        )
        task.before_commit()
        before = len(producer.delivered)
        task.scan()  # the timers due by now: ticks through the tick agent
        producer.poll()
        ticks = [m for m in producer.delivered[before:] if m.topic_ == settings.ticks_topic]
        task.on_ticks([rec(m.topic_, m.partition_, m.key_, m.value_) for m in ticks])
        for later in (0, 600_000_000, 3_600_000_000):  # now, in 10 minutes, in an hour
            now = clock.wall + later
            got = state.counts.at(now)
            want = walked(state, now)
            assert (positive(got[0]), positive(got[1])) == (positive(want[0]), positive(want[1]))
            compared += 1
            at_risk_seen += sum(want[1].values())
        clock.wall += 3_600_000_000  # the gauges' clock never goes back
        if start == 100:
            state.reset()  # a rebalance empties the cache
            task.recovered()
            assert state.counts.at(clock.wall) == (Counter(), Counter())

    assert compared > 20 and at_risk_seen > 0
    boundaries = 0
    for ticket_id, (_version, entries) in state.counts.held.items():
        ticket = state.cache[ticket_id]
        for (clock_name, _priority), at in entries:
            if at is None or at == ALWAYS:
                continue
            flags = {
                0: dict(ticket.state.open_clocks(at - 1)),
                1: dict(ticket.state.open_clocks(at)),
            }
            assert (flags[0][clock_name], flags[1][clock_name]) == (False, True)  # to the µs
            boundaries += 1
    assert boundaries > 0
    assert len(state.cache) == settings.cache_tickets
    assert sum(state.counts.open.values()) > 0
