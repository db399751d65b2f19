"""`sla-engine run --role`: an `sla` worker and a `kpis` worker side by side do what one `all`
worker does: alerts on `sla.alerts` from the first, the KPI snapshots on `sla.kpis` (equal to
`replay --kpis` over the same events) and the `sla_kpi` gauges from the second only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import workload
from engine.instant import to_us
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, consume, produce
from tests.integration.test_kpis import COMPARED_UNITS, latest, replayed


@pytest.mark.brokers("kafka")
def test_an_sla_and_a_kpis_worker_side_by_side(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    start = datetime.now(UTC) - timedelta(days=4)
    lines = workload.lines(120, seed=7, start=start, span=timedelta(days=2))

    def worker(role: str) -> WorkerProcess:
        return WorkerProcess(
            broker.bootstrap,
            topics,
            tmp_path / role,
            tmp_path / f"{role}.log",
            extra=["--role", role, "--kpi-interval", "1"],
        )

    kpis = worker("kpis").start()
    sla = worker("sla")
    try:
        sla.start().wait_recovered()
        produce(
            broker.bootstrap,
            topics.events,
            [(orjson.loads(x)["ticket_id"].encode(), x.rstrip(b"\n")) for x in lines],
        )
        until = to_us(datetime.now(UTC))
        past = {
            k: s
            for k, s in replayed(lines, until).items()
            if s["window"]["unit"] in COMPARED_UNITS
            and to_us(datetime.fromisoformat(s["window"]["end"])) < until
        }

        def settled(messages: list[Any]) -> bool:
            got = latest(messages)
            return all(
                got.get(k) is not None and got[k]["metrics"]["accepted"] == s["metrics"]["accepted"]
                for k, s in past.items()
            )

        snapshots = latest(consume(broker.bootstrap, topics.kpis, until=settled, timeout=180))
        alerts = consume(broker.bootstrap, topics.alerts, until=lambda m: len(m) > 0, idle=1)
        kpis_metrics, sla_metrics = kpis.metrics(), sla.metrics()
        kpis_log, sla_log = kpis.log_tail(200), sla.log_tail(200)
    finally:
        sla.stop()
        kpis.stop()

    assert len(past) > 50
    for key, want in past.items():
        got = snapshots.get(key)
        assert got is not None, f"no snapshot for {key}"
        assert got["metrics"]["accepted"] == want["metrics"]["accepted"], key
    assert alerts, "no alert from the sla worker"
    tickets = {orjson.loads(x)["ticket_id"] for x in lines}
    assert {orjson.loads(m.value())["ticket_id"] for m in alerts} <= tickets
    assert any(line.startswith("sla_kpi{") for line in kpis_metrics.splitlines())
    assert not any(line.startswith("sla_kpi{") for line in sla_metrics.splitlines())
    assert "kpis worker of group " + topics.group + "-kpis" in kpis_log
    assert "sla worker of group " + topics.group + " " in sla_log
