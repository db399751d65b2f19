"""The live percentile sketch: within 1 % (relative) of the exact nearest-rank percentile,
also after removals and merges (hypothesis), and the exact method by hand."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kpis.sketch import ALPHA, LogSketch, exact_quantile, rank

DURATIONS = st.lists(st.integers(0, 90 * 86_400 * 1_000_000), min_size=1, max_size=300)
QUANTILES = st.sampled_from([0.5, 0.9, 0.99, 1.0, 0.0])


def close(estimate: float | None, exact: int | None) -> bool:
    assert estimate is not None and exact is not None
    return abs(estimate - exact) <= ALPHA * exact + 1e-9 * max(exact, 1)


def test_nearest_rank_by_hand() -> None:
    assert [rank(0.9, n) for n in (1, 3, 10, 11, 100)] == [1, 3, 9, 10, 90]
    assert exact_quantile([60, 540, 120], 0.9) == 540
    assert exact_quantile(list(range(1, 11)), 0.9) == 9
    assert exact_quantile([], 0.9) is None


@settings(max_examples=150, deadline=None)
@given(DURATIONS, QUANTILES)
def test_sketch_quantile_within_one_percent(values: list[int], q: float) -> None:
    sketch = LogSketch()
    for v in values:
        sketch.add(v)
    assert sketch.count == len(values) and sketch.total == sum(values)
    assert close(sketch.quantile(q), exact_quantile(values, q))


@settings(max_examples=100, deadline=None)
@given(DURATIONS, DURATIONS, st.data())
def test_sketch_with_removals_and_merges(a: list[int], b: list[int], data: st.DataObject) -> None:
    left, right = LogSketch(), LogSketch()
    for v in a:
        left.add(v)
    for v in b:
        right.add(v)
    removed = data.draw(st.lists(st.sampled_from(a), max_size=len(a) - 1, unique_by=id))
    kept = list(a)
    for v in removed:
        left.add(v, -1)
        kept.remove(v)
    left.merge(right)
    everything = kept + b
    assert left.count == len(everything) and left.total == sum(everything)
    assert close(left.quantile(0.9), exact_quantile(everything, 0.9))
    again = LogSketch.from_dict(left.to_dict())
    assert again.quantile(0.9) == left.quantile(0.9)


def test_removing_everything_empties_the_sketch() -> None:
    s = LogSketch()
    for v in (0, 5, 5, 1_000_000):
        s.add(v)
    for v in (0, 5, 5, 1_000_000):
        s.add(v, -1)
    assert (s.count, s.total, s.buckets, s.quantile(0.9)) == (0, 0, {}, None)
