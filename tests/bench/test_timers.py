"""The timer index benchmark (`bench.timers`) runs and reports its figures (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from bench.timers import bench_timers


def test_bench_runs_and_reports(tmp_path: Path) -> None:
    numbers = bench_timers(5_000, path=tmp_path, due_per_tick=100, total_due=2_000, moves=1_000)
    for key in (
        "load_keys_per_s",
        "rebuild_keys_per_s",
        "pop_due_per_key_us_p50",
        "pop_due_per_key_us_p99",
        "bytes_per_key_sst",
    ):
        assert numbers[key] > 0
    assert numbers["popped"] >= 2_000
