"""The worker's collector policy: every collection timed, what survived frozen on `hold_off`."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from topologies import metrics
from topologies.worker import gc_policy


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def timed() -> Iterator[None]:
    """The callback on, for this test only (the test process keeps its own thresholds)."""
    gc.callbacks.append(gc_policy._on_gc)
    try:
        yield
    finally:
        gc.callbacks.remove(gc_policy._on_gc)


def test_a_full_collection_is_timed_and_counts_the_cycles_it_freed(timed: None) -> None:
    before = sample("sla_gc_pause_seconds_count", generation="2")
    freed = sample("sla_gc_collected_objects_total", generation="2")
    for _ in range(100):
        a: list[object] = []
        a.append(a)  # a reference cycle: only the collector frees it
    del a
    gc.collect()
    assert sample("sla_gc_pause_seconds_count", generation="2") == before  # not from the callback
    gc_policy.publish()
    assert sample("sla_gc_pause_seconds_count", generation="2") == before + 1
    assert sample("sla_gc_pause_seconds_sum", generation="2") > 0
    assert sample("sla_gc_collected_objects_total", generation="2") >= freed + 100


def test_hold_off_freezes_what_survived_and_nothing_before_tune(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frozen = gc.get_freeze_count()
    gc_policy.hold_off()  # not tuned yet (a worker before its first recovery): nothing
    assert gc.get_freeze_count() == frozen
    monkeypatch.setattr(gc_policy, "_tuned", [True])
    kept = [[i] for i in range(1000)]  # long-lived, tracked
    try:
        gc_policy.hold_off()
        assert gc.get_freeze_count() >= frozen + len(kept)
        now = gc.get_freeze_count()
        del kept
        # frozen objects are still freed by reference counting: the frozen heap shrinks
        assert gc.get_freeze_count() <= now - 1000
    finally:
        gc.unfreeze()
