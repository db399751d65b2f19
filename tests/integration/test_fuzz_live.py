"""Hostile input through the live worker (issue 11, fuzz): 1,200 seeded mutations of valid
events and raw bytes, next to canary tickets. The worker never crashes, every rejection is on
`tickets.dlq` with a reason, and the counters equal the records on the topics."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.outputs import Reject
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, alerts_of, consume, produce
from tests.integration.test_worker import created

# Apache Kafka only: parsing and dead-lettering do not depend on the broker
# (test_poison runs on both).
pytestmark = pytest.mark.brokers("kafka")

N_HOSTILE = 1200

HOSTILE_VALUES: list[Any] = [
    None, True, 0, -1, 10**30, -(10**30), 1.5, float("inf"), "", "x" * 5000, "\x00\x1b[31m",
    [], {}, [1, 2], {"a": None}, "2026-13-45T99:99:99+00:00", "9999-12-31T23:59:59+14:00",
]  # fmt: skip


def mutations(rng: random.Random, now: datetime) -> list[tuple[bytes | None, bytes | None]]:
    """Seeded hostile records: field values replaced, fields dropped, bytes flipped or cut."""
    types = ["created", "responded", "assigned", "exemption_requested", "survey_submitted",
             "status_changed", "closed", "reopened", "appeal_filed", "teleported"]  # fmt: skip
    out: list[tuple[bytes | None, bytes | None]] = []
    for i in range(N_HOSTILE):
        ticket = f"F{i % 97}"
        base = created(ticket, now - timedelta(seconds=rng.randint(0, 3000)))
        base["event_id"] = f"{ticket}-f{i}"
        base["type"] = rng.choice(types)
        kind = rng.randrange(5)
        if kind == 0:  # a field's value replaced by something hostile
            base[rng.choice([*base.keys(), "cycle", "survey", "clock"])] = rng.choice(
                HOSTILE_VALUES
            )
        elif kind == 1:  # a field dropped
            base.pop(rng.choice(list(base.keys())))
        text = json.dumps(base, allow_nan=True).encode()
        if kind == 2:  # bytes flipped
            b = bytearray(text)
            for _ in range(rng.randint(1, 5)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            text = bytes(b)
        elif kind == 3:  # cut short
            text = text[: rng.randrange(len(text))]
        key: bytes | None = ticket.encode() if rng.random() < 0.8 else None
        out.append((key, text if rng.random() < 0.98 else None))
    return out


def test_hostile_input_through_the_live_worker(broker: BrokerHandle, tmp_path: Path) -> None:
    rng = random.Random(11)
    topics = Topics.unique(broker.bootstrap)
    now = datetime.now(UTC)
    hostile = mutations(rng, now)
    canaries = [
        (f"OK{i}".encode(), orjson.dumps(created(f"OK{i}", now - timedelta(seconds=70))))
        for i in range(40)
    ]
    records = hostile[:600] + canaries + hostile[600:]
    worker = WorkerProcess(broker.bootstrap, topics, tmp_path / "d", tmp_path / "w.log").start()
    try:
        produce(broker.bootstrap, topics.events, records)  # type: ignore[arg-type]  # None values

        def all_warned(msgs: list[Any]) -> bool:
            warned = {a["ticket_id"] for a in alerts_of(msgs) if a["kind"] == "warning"}
            return {f"OK{i}" for i in range(40)} <= warned

        assert all_warned(
            consume(broker.bootstrap, topics.alerts, until=all_warned, timeout=120, idle=0)
        )
        events = consume(broker.bootstrap, topics.events, timeout=30, idle=2)  # re-keyed too
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and worker.sample("sla_events_consumed_total") < len(
            events
        ):
            time.sleep(0.3)
        events = consume(broker.bootstrap, topics.events, timeout=30, idle=2)
        assert worker.sample("sla_events_consumed_total") == len(events)
        dead = consume(broker.bootstrap, topics.dlq, timeout=30, idle=3)
        assert len(dead) >= N_HOSTILE // 3
        for m in dead:
            r = orjson.loads(m.value())
            Reject.model_validate(r)
            assert r["reason"]
        assert worker.sample("sla_events_rejected_total") == len(dead)
        assert worker.sample("sla_processing_errors_total") == sum(
            1 for m in dead if orjson.loads(m.value())["reason"].startswith("processing_error")
        )
        assert worker.proc is not None and worker.proc.poll() is None
        log = (tmp_path / "w.log").read_text(errors="replace")
        assert "Traceback" not in log and "crashed" not in log.lower()
    finally:
        worker.stop()


def test_mutations_are_hostile() -> None:
    """The generator makes mostly invalid records (else the live test proves little)."""
    from schemas.parse import InvalidEvent, parse_event

    bad = 0
    for _key, value in mutations(random.Random(11), datetime(2026, 11, 1, tzinfo=UTC)):
        try:
            parse_event(value if value is not None else b"")
        except InvalidEvent:
            bad += 1
    assert bad >= N_HOSTILE // 3
