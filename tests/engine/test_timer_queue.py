"""`engine.timer_queue.TimerQueue` takes deadlines in exactly the order a plain heap of
`(due, ticket id)` tuples would (what the processor used before), whatever is pushed when:
between sweeps, during a sweep, into the bucket being read, at or before the sweep's instant."""

from __future__ import annotations

import heapq

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.timer_queue import SHIFT, TimerQueue

BUCKET = 1 << SHIFT
# Dues spread over a few buckets, with ties (same instant, same or other ticket) common.
DUES = st.one_of(
    st.integers(-2 * BUCKET, 6 * BUCKET),
    st.sampled_from([0, 1, BUCKET - 1, BUCKET, BUCKET + 1, 3 * BUCKET]),
)
IDS = st.sampled_from(["a", "b", "c", "T1", "T2"])
PUSH = st.tuples(st.just("push"), DUES, IDS)
SWEEP = st.tuples(st.just("sweep"), DUES, st.lists(st.tuples(DUES, IDS), max_size=4))
OPS = st.lists(st.one_of(PUSH, PUSH, SWEEP), max_size=60)


@settings(max_examples=400, deadline=None)
@given(OPS)
def test_same_order_as_a_heap(ops: list[tuple[object, ...]]) -> None:
    queue, heap = TimerQueue(), []
    taken, expected = [], []
    for op in ops:
        if op[0] == "push":
            _, due, tid = op
            assert isinstance(due, int) and isinstance(tid, str)
            queue.push(due, tid)
            heapq.heappush(heap, (due, tid))
            continue
        _, now, during = op
        assert isinstance(now, int) and isinstance(during, list)
        # each deadline taken pushes the next of `during` (a ticket's next threshold)
        pending = list(during)
        for entry in queue.pop_due(now):
            taken.append(entry)
            if pending:
                queue.push(*pending.pop())
        pending = list(during)
        while heap and heap[0][0] <= now:
            expected.append(heapq.heappop(heap))
            if pending:
                heapq.heappush(heap, pending.pop())
        assert taken == expected
        assert queue.first() == (heap[0][0] if heap else None)
        assert len(queue) == len(heap)
    rest = [heapq.heappop(heap) for _ in range(len(heap))]
    assert [queue.pop() for _ in range(len(queue))] == rest


def test_empty() -> None:
    queue = TimerQueue()
    assert not queue.due(10**18)
    assert queue.first() is None
    assert len(queue) == 0
