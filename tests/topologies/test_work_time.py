"""The worker's own time by kind of work: each call of a timed function counted, its result
and its exception passed through."""

from __future__ import annotations

import time

import pytest

from topologies import metrics
from topologies.worker.work_time import timed


def seconds(work: str) -> float | None:
    return metrics.REGISTRY.get_sample_value("sla_work_seconds_total", {"work": work})


def test_a_timed_call_adds_its_wall_time_and_returns_its_result() -> None:
    def nap(s: float) -> float:
        time.sleep(s)
        return s

    run = timed("test_sleep", nap)
    assert seconds("test_sleep") == 0.0  # the series exists from the wrapping on
    assert run(0.02) == 0.02
    first = seconds("test_sleep")
    assert first is not None and first >= 0.02
    run(0)
    after = seconds("test_sleep")
    assert after is not None and first <= after < first + 0.02


def test_a_call_that_raises_is_counted_and_raises() -> None:
    def fail() -> None:
        time.sleep(0.01)
        raise RuntimeError("boom")

    run = timed("test_raise", fail)
    with pytest.raises(RuntimeError, match="boom"):
        run()
    took = seconds("test_raise")
    assert took is not None and took >= 0.01
