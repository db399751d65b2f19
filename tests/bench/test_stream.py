"""The pure helpers of `sla-engine bench stream` (the benchmark itself needs a broker)."""

from __future__ import annotations

import math

import pytest

from bench.figures import (
    assemble,
    budget,
    by_label,
    due_schedule,
    gc_delta,
    gc_pauses,
    lag_summary,
    lags_of,
    metric_sum,
    percentile,
    rate_from_samples,
    summary_line,
)


def test_percentile_interpolates_between_ranks() -> None:
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(xs, 0) == 1.0
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 100) == 5.0
    assert percentile(xs, 25) == 2.0
    assert percentile([1.0, 2.0], 99) == pytest.approx(1.99)
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(xs, 101)


def test_lag_summary() -> None:
    s = lag_summary([i / 1000 for i in range(1, 1001)])
    assert s == {"count": 1000, "p50_s": 0.5, "p99_s": 0.99, "max_s": 1.0}
    assert lag_summary([])["count"] == 0


def test_rate_leaves_out_the_wait_before_the_first_event() -> None:
    samples = [(0.0, 0.0), (5.0, 0.0), (6.0, 100.0), (7.0, 600.0), (8.0, 1100.0), (9.0, 1200.0)]
    # 6.0 → 8.0: the sample that saw the end (9.0) may be late, it is left out
    assert rate_from_samples(samples, 1200) == 500.0
    assert rate_from_samples([(0.0, 0.0), (1.0, 10.0), (2.0, 30.0)], 30) == 20.0
    assert rate_from_samples(samples, 5000) is None  # never reached
    assert rate_from_samples([(0.0, 0.0)], 1) is None


def test_metric_sum_adds_label_sets_and_skips_lookalikes() -> None:
    text = (
        "# HELP sla_events_consumed_total Ticket events consumed\n"
        "sla_events_consumed_total 1234.0\n"
        'sla_alerts_total{clock="a",kind="warning",level="",priority="A"} 2.0\n'
        'sla_alerts_total{clock="b",kind="breach",level="minor",priority="B"} 3.0\n'
        "sla_alerts_total_other 99.0\n"
    )
    assert metric_sum(text, "sla_events_consumed_total") == 1234.0
    assert metric_sum(text, "sla_alerts_total") == 5.0
    assert metric_sum(text, "sla_open_tickets") is None


def test_due_schedule_spreads_over_the_window() -> None:
    dues = due_schedule(1_000_000, 4, lead_s=15, window_s=20)
    assert dues == [16_000_000, 21_000_000, 26_000_000, 31_000_000]


def test_lags_of_counts_first_response_warnings_of_the_due_tickets_only() -> None:
    def alert(ticket: str, kind: str, clock: str = "first_response") -> dict[str, str]:
        return {
            "ticket_id": ticket,
            "kind": kind,
            "clock": clock,
            "due_at": "2026-11-26T10:00:00+08:00",
            "detected_at": "2026-11-26T02:00:00.250000+00:00",
        }

    alerts = [
        alert("D0000001", "warning"),
        alert("D0000002", "breach"),
        alert("D0000003", "warning", clock="resolution"),
        alert("B0000001", "warning"),
    ]
    assert lags_of(alerts, "D") == [0.25]


def test_assemble_ratios_and_summary() -> None:
    r = assemble(
        {"events": 200_000},
        {"raw": 100_000.0, "faust": 10_000.0, "engine": 5_000.0},
        {"open_tickets": 10, "due_tickets": 1, "latency": lag_summary([0.2])},
    )
    assert r["ratio_c_a"] == 0.05 and r["ratio_c_b"] == 0.5
    assert r["events_per_s"] == {"raw": 100_000, "faust": 10_000, "engine": 5_000}
    line = summary_line(r)
    assert "c/b 0.500" in line and "p99 0.200 s" in line
    partial = assemble({"events": 10}, {"raw": 1.0, "engine": None}, None)
    assert partial["ratio_c_a"] is None and "timers" not in partial
    assert "engine n/a" in summary_line(partial)


def test_gc_pauses_per_generation_and_their_delta() -> None:
    def scrape(n0: float, s2: float) -> str:
        return (
            f'sla_gc_pause_seconds_count{{generation="0"}} {n0}\n'
            f'sla_gc_pause_seconds_sum{{generation="0"}} 0.5\n'
            f'sla_gc_pause_seconds_bucket{{generation="2",le="1.0"}} 3.0\n'
            f'sla_gc_pause_seconds_count{{generation="2"}} 3.0\n'
            f'sla_gc_pause_seconds_sum{{generation="2"}} {s2}\n'
            f'sla_gc_collected_objects_total{{generation="2"}} {4 * s2}\n'
        )

    before, after = gc_pauses(scrape(10, 1.0)), gc_pauses(scrape(25, 2.25))
    assert before["2"] == {"collections": 3.0, "seconds": 1.0, "freed": 4.0}
    assert gc_delta(before, after) == {
        "0": {"collections": 15.0, "seconds": 0.0},
        "2": {"collections": 0.0, "seconds": 1.25, "freed": 5.0},
    }
    assert gc_pauses("sla_events_consumed_total 3.0\n") == {}


def test_assemble_gives_the_sla_role_its_own_ratio() -> None:
    rates = {"raw": 100_000.0, "faust": 10_000.0, "engine": 2_000.0, "engine_sla": 6_000.0}
    r = assemble({"events": 10}, rates, None)
    assert r["ratio_c_b"] == 0.2 and r["ratio_c_b_sla"] == 0.6
    assert "engine --role sla 6,000/s c/b 0.600" in summary_line(r)
    assert "ratio_c_b_sla" not in assemble({"events": 10}, {"raw": 1.0, "engine": 1.0}, None)


def test_by_label_sums_the_samples_of_each_label_value() -> None:
    text = (
        "# TYPE sla_work_seconds_total counter\n"
        'sla_work_seconds_total{work="events"} 12.5\n'
        'sla_work_seconds_total{work="commit"} 2.0\n'
        'sla_alerts_total{clock="a",kind="warning",level="",priority="A"} 2.0\n'
        'sla_alerts_total{clock="b",kind="warning",level="minor",priority="B"} 3.0\n'
        'sla_alerts_total{clock="b",kind="breach",level="minor",priority="B"} 4.0\n'
    )
    assert by_label(text, "sla_work_seconds_total", "work") == {"events": 12.5, "commit": 2.0}
    assert by_label(text, "sla_alerts_total", "kind") == {"warning": 5.0, "breach": 4.0}
    assert by_label(text, "sla_open_tickets", "work") == {}


def test_budget_splits_the_worker_time_and_bounds_the_ratio() -> None:
    # 100 µs an event in the pass-through; the worker 250 µs, 150 of them its own work.
    spent = budget(10_000.0, 4_000.0, {"events": 20.0, "commit": 10.0}, 200_000)
    assert spent is not None
    assert spent["engine_us_per_event"] == 250.0 and spent["work_us_per_event"] == 150.0
    assert spent["work_us_by_kind"] == {"commit": 50.0, "events": 100.0}
    assert spent["rest_us_per_event"] == 100.0
    assert spent["ratio_c_b_without_work"] == 1.0  # its own work free: as fast as Faust
    assert budget(None, 4_000.0, {"events": 1.0}, 10) is None
    assert budget(10_000.0, 4_000.0, {}, 10) is None
    r = assemble(
        {"events": 200_000, "engine_work_seconds": {"events": 20.0, "commit": 10.0}},
        {"raw": 100_000.0, "faust": 10_000.0, "engine": 4_000.0},
        None,
    )
    assert r["engine_budget"] == spent and "engine_sla_budget" not in r
    assert "250 µs/event, its own work 150, the rest 100 (c/b without its work 1.000)" in (
        summary_line(r)
    )
