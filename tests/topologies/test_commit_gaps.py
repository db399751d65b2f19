"""A commit held by an ack gap at the head of a partition is noticed and repaired (issue 11, 2),
on a real Faust consumer's own bookkeeping (its `_new_offset` decides what it can commit)."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
import pytest
from faust.types import TP

from topologies import metrics
from topologies.worker.commit_gaps import CommitGaps, held
from topologies.worker.gauges import lags

EVENTS = TP("unit.events", 3)
OTHER = TP("unit.events", 0)


@pytest.fixture
def consumer() -> Any:
    """A real Faust consumer in the stalled state: committed 67 of partition 3, offsets 67-1416
    never acked, 1417-1649 acked (processed)."""
    app = faust.App("unit-gaps", broker="kafka://127.0.0.1:9", autodiscover=False)
    c = app.consumer
    c._committed_offset[EVENTS] = 67
    c._acked[EVENTS] = list(range(1417, 1650))
    c._acked_index[EVENTS] = set(range(1417, 1650))
    c._committed_offset[OTHER] = 10
    c._acked[OTHER] = [10, 11, 12]

    async def seek_in_thread(tp: Any, offset: int) -> None:
        c.seeks.append((tp, offset))

    c.seeks = []
    c._seek = seek_in_thread
    return c


def test_faust_cannot_commit_past_the_gap_and_held_agrees(consumer: Any) -> None:
    assert consumer._new_offset(EVENTS) is None
    assert held([EVENTS, OTHER], consumer._committed_offset, consumer._acked) == {
        EVENTS: (67, 1417)
    }


def test_a_gap_seen_twice_is_counted_logged_and_read_again(
    consumer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    gaps = CommitGaps()
    count = metrics.COMMIT_GAPS.labels(EVENTS.topic, "3")
    before = count._value.get()
    assert asyncio.run(gaps.check(consumer, [EVENTS, OTHER], ready=True)) == 0  # seen once
    assert asyncio.run(gaps.check(consumer, [EVENTS, OTHER], ready=True)) == 1
    assert consumer.seeks == [(EVENTS, 67)]
    assert consumer._read_offset[EVENTS] == 67  # Faust delivers 67 onwards again
    assert count._value.get() - before == 1
    assert "commit held at offset 67, offsets 67-1416 were never acknowledged" in caplog.text
    # the records of the gap, read again and acked: Faust commits to the end
    for offset in range(67, 1417):
        consumer._acked[EVENTS].append(offset)
    assert consumer._new_offset(EVENTS) == 1650


def test_no_repair_while_not_ready_or_once_the_commit_moved(consumer: Any) -> None:
    gaps = CommitGaps()
    asyncio.run(gaps.check(consumer, [EVENTS], ready=True))
    assert asyncio.run(gaps.check(consumer, [EVENTS], ready=False)) == 0  # a rebalance: reset
    assert asyncio.run(gaps.check(consumer, [EVENTS], ready=True)) == 0  # seen once again
    consumer._committed_offset[EVENTS] = 68  # the commit moved: not the same gap
    assert asyncio.run(gaps.check(consumer, [EVENTS], ready=True)) == 0
    assert consumer.seeks == []


def test_lag_counts_what_is_not_committed() -> None:
    # the stalled partition: processed to the end, committed 67 of 1,650: lag 1,583, not 0
    ends = {(EVENTS.topic, 3): 1650, (OTHER.topic, 0): 12}
    assert lags([EVENTS, OTHER], ends, {EVENTS: 67}) == {EVENTS: 1583, OTHER: 12}
    assert lags([EVENTS], ends, {EVENTS: 1650}) == {EVENTS: 0}
