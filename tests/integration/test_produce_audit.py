"""`sla-engine produce` of a history stamps each record with its `occurred_at`, so that an audit
by time range of a correct worker fed that way agrees (issue 12: with every record stamped at
publication the events read for the window were the wrong ones and the audit differed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli import workload
from cli.main import main
from engine.instant import to_us
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, consume
from tests.integration.test_worker import replay_keys


def test_audit_of_a_worker_fed_by_produce_agrees(
    broker: BrokerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    topics = Topics.unique(broker.bootstrap)
    start = (datetime.now(UTC) - timedelta(hours=4)).replace(microsecond=0)
    lines = workload.lines(60, seed=12, start=start, span=timedelta(hours=2))
    history = tmp_path / "history.jsonl"
    history.write_bytes(b"".join(lines))
    worker = WorkerProcess(broker.bootstrap, topics, tmp_path / "data", tmp_path / "w.log").start()
    try:
        args = ["--broker", broker.bootstrap, "--topic", topics.events, "--input", str(history)]
        assert main(["produce", *args]) == 0
        records = consume(broker.bootstrap, topics.events, until=lambda m: len(m) >= len(lines))
        stamped = {m.value(): m.timestamp()[1] for m in records}
        for line in lines:
            at = datetime.fromisoformat(orjson.loads(line)["occurred_at"])
            assert stamped[line.rstrip(b"\n")] == to_us(at) // 1000
        window = (start + timedelta(minutes=30), start + timedelta(hours=2))
        want = {k for k in replay_keys(lines, to_us(window[1])) if k[5] < window[1].isoformat()}

        def settled(msgs: list[Any]) -> bool:
            return len(msgs) >= len(want)

        consume(broker.bootstrap, topics.alerts, until=settled, timeout=90, idle=2)
    finally:
        worker.stop()
    capsys.readouterr()
    code = main(
        [
            "audit", "--broker", broker.bootstrap, "--events", topics.events,
            "--alerts", topics.alerts, "--from", window[0].isoformat(),
            "--to", window[1].isoformat(), "--lookback", "1h",
            # a backfill: every alert is detected now, hours after it was due
            "--late-threshold", "1d", "--grace", "10m",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "AGREE" in out
