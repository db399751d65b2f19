"""`sla-engine produce` stamps each record with its event's `occurred_at`, and an audit by time
range of a correct worker fed that way agrees (issue 12: a bulk `produce` stamped every record
with the moment of publication)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from cli.main import main
from engine.instant import to_us
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, alerts_of, consume
from tests.integration.test_worker import created, iso

S = timedelta(seconds=1)


# Apache Kafka only (CI time): produce and audit read the broker through the tested clients.
@pytest.mark.brokers("kafka")
def test_audit_of_a_worker_fed_by_produce_agrees(
    broker: BrokerHandle, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Priority-A tickets created 50-58 s before one bulk `produce`, half answered 5 s after
    creation: the others' first-response warnings fall due 2-10 s after it, on the timer."""
    topics = Topics.unique(broker.bootstrap)
    worker = WorkerProcess(broker.bootstrap, topics, tmp_path / "data", tmp_path / "w.log")
    worker.start()
    feed = tmp_path / "events.jsonl"
    try:
        # Warm-up: the worker joins its group before the events that count arrive.
        warm = created("WU", datetime.now(UTC) - 400 * S, priority="C")
        feed.write_bytes(orjson.dumps(warm) + b"\n")
        args = ["--broker", broker.bootstrap, "--topic", topics.events, "--input", str(feed)]
        assert main(["produce", *args]) == 0
        consume(broker.bootstrap, topics.alerts, until=lambda m: len(m) > 0, timeout=60, idle=0)
        t0 = datetime.now(UTC)
        events: list[dict[str, Any]] = []
        for i in range(10):
            born = t0 - (50 + i) * S
            events.append(created(f"P-{i}", born))
            if i % 2:
                answer = {"event_id": f"P-{i}-2", "ticket_id": f"P-{i}", "type": "responded",
                          "occurred_at": iso(born + 5 * S)}  # fmt: skip
                events.append(answer)
        feed.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
        assert main(["produce", *args]) == 0
        records = consume(broker.bootstrap, topics.events, until=lambda m: len(m) > len(events))
        stamps = {m.value(): m.timestamp()[1] for m in records}
        for e in events:  # each record at its event's time, not at the moment of publication
            assert (
                stamps[orjson.dumps(e)] == to_us(datetime.fromisoformat(e["occurred_at"])) // 1000
            )

        def warned(msgs: list[Any]) -> bool:
            return sum(a["ticket_id"].startswith("P-") for a in alerts_of(msgs)) >= 5

        consume(broker.bootstrap, topics.alerts, until=warned, timeout=60, idle=1)
    finally:
        worker.stop()
    capsys.readouterr()
    window = (t0, t0 + 11 * S)
    code = main(
        [
            "audit", "--broker", broker.bootstrap, "--events", topics.events,
            "--alerts", topics.alerts, "--from", window[0].isoformat(),
            "--to", window[1].isoformat(), "--lookback", "1h", "--grace", "5s",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "AGREE: 5 decisions matched" in out, out
