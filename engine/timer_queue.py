"""The replay's timer queue: (due, ticket id) deadlines taken in that order, as a heap would
give them, at a fraction of a heap's cost at size.

A plain heap of ~17,000 `(due, id)` tuples (the 20,000-ticket workload) costs a dozen cache
misses per pop: each level compares two tuples scattered over the heap's memory (`heappop` was
~5-8 % of a replay). Here deadlines are kept in buckets of `WIDTH` µs of due time (a calendar
queue): an entry is an append to its bucket; only the bucket numbers are in a heap (a few
hundred, in cache); the earliest bucket is sorted once when it comes due and read in order
with a cursor. What is pushed while the earliest bucket is being read goes into it in order
(`insort`), so the order taken is exactly the heap's, whatever is pushed when (tests/engine/
test_timer_queue.py holds it to `heapq`).

Entries are never removed: the caller skips a stale one (its ticket's deadline moved) as it
did with the heap (lazy deletion).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterator

SHIFT = 30  # a bucket is 2**30 µs (~18 min) of due time
Entry = tuple[int, str]  # due (µs), ticket id


class TimerQueue:
    """Deadlines taken in (due, ticket id) order; repeats are kept (and taken) like a heap's."""

    __slots__ = ("_buckets", "_key", "_keys", "_now", "_pos")

    def __init__(self) -> None:
        self._buckets: dict[int, list[Entry]] = {}  # bucket number -> entries, unordered
        self._keys: list[int] = []  # heap of the numbers of `_buckets`
        self._now: list[Entry] = []  # the earliest bucket, sorted, read from `_pos`
        self._pos = 0
        self._key: int | None = None  # the number of `_now` (None: none taken)

    def __len__(self) -> int:
        return len(self._now) - self._pos + sum(len(b) for b in self._buckets.values())

    def push(self, due: int, ticket_id: str) -> None:
        """Add a deadline."""
        key = due >> SHIFT
        if self._key is not None and key <= self._key:
            bisect.insort(self._now, (due, ticket_id), lo=self._pos)
            return
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [(due, ticket_id)]
            heapq.heappush(self._keys, key)
        else:
            bucket.append((due, ticket_id))

    def due(self, now: int) -> bool:
        """Whether a deadline is due by `now` (the common answer after an event: no)."""
        if self._pos < len(self._now):
            return self._now[self._pos][0] <= now
        if self._keys and self._keys[0] << SHIFT <= now:  # the next bucket has begun
            self._take()
            return self._now[0][0] <= now
        return False

    def pop(self) -> Entry:
        """The earliest deadline, taken (after `due` said one is due, or `first`)."""
        if self._pos >= len(self._now):
            self._take()
        entry = self._now[self._pos]
        self._pos += 1
        return entry

    def first(self) -> int | None:
        """The earliest due instant (None: empty)."""
        if self._pos >= len(self._now):
            if not self._keys:
                return None
            self._take()
        return self._now[self._pos][0]

    def pop_due(self, now: int) -> Iterator[Entry]:
        """Take the deadlines due by `now` in order; pushes between takes are taken in order."""
        while self.due(now):
            yield self.pop()

    def _take(self) -> None:
        """Make the earliest bucket the one read (the one read is exhausted)."""
        key = heapq.heappop(self._keys)
        self._now = sorted(self._buckets.pop(key))
        self._pos = 0
        self._key = key
