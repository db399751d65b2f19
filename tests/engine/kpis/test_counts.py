"""The multiset helpers the live aggregator diffs a ticket's facts with: as `Counter` does."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from engine.kpis.counts import minus, tally

items = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=12)


@given(items)
def test_tally_counts_as_counter(xs: list[str]) -> None:
    assert tally(xs) == dict(Counter(xs))


@given(items, items)
def test_minus_is_counters_difference(xs: list[str], ys: list[str]) -> None:
    got = minus(tally(xs), tally(ys))
    assert got == dict(Counter(xs) - Counter(ys))
    assert all(n > 0 for n in got.values())
