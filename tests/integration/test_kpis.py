"""Live KPIs (issue 5): the worker publishes `sla.kpis` and the `sla_kpi*` gauges, and the
published snapshots agree with `replay --kpis` over the same events."""

from __future__ import annotations

import io
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

import workload
from config.loader import load
from engine.instant import to_us
from offline.file import replay
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, consume, produce

SKETCHED = ("_p90_s",)  # the live store's percentiles come from a 1 % log sketch
COMPARED_UNITS = ("hour", "day")


def latest(messages: list[Any]) -> dict[str, dict[str, Any] | None]:
    """What log compaction keeps: the last value per key (None: a tombstone)."""
    out: dict[str, dict[str, Any] | None] = {}
    for m in messages:
        out[m.key().decode()] = orjson.loads(m.value()) if m.value() is not None else None
    return out


def replayed(lines: list[bytes], until: int) -> dict[str, dict[str, Any]]:
    kpis = io.BytesIO()
    replay(io.BytesIO(b"".join(lines)), load(None), until, io.BytesIO(), None, None, kpis)
    out = {}
    for line in kpis.getvalue().splitlines():
        s = orjson.loads(line)
        w = s["window"]
        out[f"{w['unit']}|{w['start']}|{s['dimension']}|{s['key']}"] = s
    return out


def close(a: Any, b: Any, name: str) -> bool:
    if a is None or b is None or (isinstance(a, int) and isinstance(b, int)):
        return bool(a == b)
    tolerance = 0.011 if name.endswith(SKETCHED) else 1e-6
    return math.isclose(float(a), float(b), rel_tol=tolerance, abs_tol=1e-3)


def test_live_kpis_equal_replay_and_reach_the_gauges(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    start = datetime.now(UTC) - timedelta(days=4)
    lines = workload.lines(150, seed=5, start=start, span=timedelta(days=2))
    worker = WorkerProcess(
        broker.bootstrap,
        topics,
        tmp_path / "data",
        tmp_path / "w.log",
        extra=["--kpi-interval", "1"],
    ).start()
    try:
        produce(
            broker.bootstrap,
            topics.events,
            [(orjson.loads(x)["ticket_id"].encode(), x.rstrip(b"\n")) for x in lines],
        )
        until = to_us(datetime.now(UTC))
        want = replayed(lines, until)
        past = {
            k: s
            for k, s in want.items()
            if s["window"]["unit"] in COMPARED_UNITS
            and to_us(datetime.fromisoformat(s["window"]["end"])) < until
        }

        def settled(messages: list[Any]) -> bool:
            got = latest(messages)
            return all(
                got.get(k) is not None and got[k]["metrics"]["accepted"] == s["metrics"]["accepted"]
                for k, s in past.items()
            )

        got = latest(consume(broker.bootstrap, topics.kpis, until=settled, timeout=120, idle=3))
        text = worker.metrics()
    finally:
        worker.stop()

    assert len(past) > 50
    differences = []
    for key, want_snap in past.items():
        snap = got.get(key)
        assert snap is not None, f"no live snapshot for {key}"
        for name, value in want_snap["metrics"].items():
            if not close(snap["metrics"].get(name), value, name):
                differences.append((key, name, snap["metrics"].get(name), value))
        assert snap["targets"] == want_snap["targets"]
        assert snap["flags"] == want_snap["flags"], key
    assert differences == []

    kpi_lines = [line for line in text.splitlines() if line.startswith("sla_kpi{")]
    assert any('unit="month"' in line and 'dimension="overall"' in line for line in kpi_lines)
    assert any('unit="week"' in line and 'dimension="team"' in line for line in kpi_lines)
    assert 'sla_kpi_target{metric="csat"} 0.85' in text
    for line in kpi_lines:  # bounded labels: no ticket ids as keys
        assert 'key="T0' not in line and "ticket" not in line
