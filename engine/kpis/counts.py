"""Signed counts of a multiset (facts held past the horizon, open intervals, sketch buckets)."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")


def add_count(counts: dict[K, int], key: K, times: int) -> int:
    """Add `times` (negative: remove) to `key`'s count, dropping the key at zero; the new count.

    A negative result changes nothing: the caller raises, it knows what was over-removed.
    """
    left = counts.get(key, 0) + times
    if left > 0:
        counts[key] = left
    elif left == 0:
        del counts[key]
    return left
