"""Signed counts of a multiset (facts held past the horizon, open intervals, sketch buckets)."""

from __future__ import annotations

from collections.abc import Iterable
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


def tally(items: Iterable[K]) -> dict[K, int]:
    """How many times each item occurs (a multiset, as `Counter(items)`, in plain dict code:
    compiled, `Counter`'s arithmetic and comparison stay interpreted Python)."""
    out: dict[K, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def minus(a: dict[K, int], b: dict[K, int]) -> dict[K, int]:
    """The multiset difference a − b, positive counts only (as `Counter.__sub__`)."""
    out: dict[K, int] = {}
    for item, n in a.items():
        left = n - b.get(item, 0)
        if left > 0:
            out[item] = left
    return out
