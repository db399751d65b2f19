"""A tiny run of `bench stream`'s timer phase in the production layout (issue 14): a `--role
sla` and a `--role kpis` worker, a background load during the due window, every warning read
back off the alerts topic."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.timer_latency import bench_timers
from tests.integration.conftest import BrokerHandle


@pytest.mark.brokers("tansu")
def test_split_layout_warns_every_due_ticket(broker: BrokerHandle, tmp_path: Path) -> None:
    r = bench_timers(
        broker.bootstrap, tmp_path, 300, 40, lead_s=6.0, window_s=2.0, partitions=4,
        roles="split", background_rate=50.0,
    )  # fmt: skip
    assert r["roles"] == "split"
    assert r["latency"]["count"] == 40, r
    assert r["early_warnings"] == 0 and r["background_alerts"] == 0
    assert r["open_tickets"] == 300
    other = r["other_workers_rss_bytes"]
    assert len(other) == 1 and other[0] and other[0] > 0  # the kpis worker ran to the end
    (log,) = tmp_path.glob("worker-timers-*-kpis.log")
    assert "kpis worker of group" in log.read_text()  # the aggregator ran on its own


@pytest.mark.brokers("tansu")
def test_engine_phase_in_both_layouts_reads_every_event(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    from bench.stream import run

    r = run(events=5000, phases=("engine",), broker=broker.bootstrap, keep=tmp_path,
            roles=("all", "split"))  # fmt: skip
    rates = r["events_per_s"]
    assert rates["engine"] and rates["engine"] > 0 and rates["engine_sla"] > 0, r
    assert r["engine_sla_rss_bytes"] and r["engine_sla_rss_bytes"] > 0
    assert list(tmp_path.glob("worker-tp-*-kpis.log"))  # the aggregator ran beside the sla one
    # Each worker's own time by kind: the `all` one aggregates KPIs, the `sla` one does not.
    assert r["engine_work_seconds"]["events"] > 0 and r["engine_work_seconds"]["kpi_facts"] > 0
    assert r["engine_sla_work_seconds"]["events"] > 0
    assert "kpi_facts" not in r["engine_sla_work_seconds"]
