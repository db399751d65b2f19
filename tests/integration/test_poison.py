"""Poison pills through the live worker (issue 11, 3 and 4): each one goes to `tickets.dlq` with
its reason, the rest of its batch goes on, and the counters equal the records on the topics."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from kafka_io.producer import make_producer
from schemas.outputs import Reject
from schemas.reject import RAW_CLIP_BYTES
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, alerts_of, consume
from tests.integration.test_worker import created, iso
from topologies.dlq import MAX_EVENT_BYTES

BIG = 5 * 1024 * 1024


def send(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes | None]]) -> None:
    # linger: one burst, poison and canaries share the worker's batches
    p = make_producer(bootstrap, linger_ms=50, **{"message.max.bytes": 2 * BIG})
    for key, value in messages:
        p.produce(topic, key=key, value=value)
    assert p.flush(30) == 0


def test_poison_pills_are_dead_lettered_and_the_batch_goes_on(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap)
    now = datetime.now(UTC)
    old = now - timedelta(seconds=70)  # a canary's first-response warning fires on arrival
    huge_cycle = {
        "event_id": "P1-2",
        "ticket_id": "P1",
        "type": "exemption_requested",
        "occurred_at": iso(old + timedelta(seconds=1)),
        "clock": "first_response",
        "cycle": 10**30,
    }
    # Each event within the schema's bounds (names of 126 characters), but 300 hand-offs make
    # a ticket state over the worker's --max-message-bytes (lowered to 40 KB here, as for a
    # broker with a small message.max.bytes): its processing fails, not its parsing.
    big_state = [created("P3", old)] + [
        {"event_id": f"P3-{i}", "ticket_id": "P3", "type": "assigned",
         "agent": "n" * 120 + f"{i:06d}", "occurred_at": iso(old + timedelta(milliseconds=i))}
        for i in range(2, 302)
    ]  # fmt: skip
    # Apache Kafka refuses records over its message.max.bytes (1 MB) at the broker: they never
    # reach the worker. The embedded broker takes them, so there the worker must dead-letter them.
    oversized = broker.kind != "kafka"
    messages: list[tuple[bytes | None, bytes | None]] = []
    for i in range(60):
        messages.append((f"C{i}".encode(), orjson.dumps(created(f"C{i}", old))))
        if i == 10:
            messages.append((b"P1", orjson.dumps(created("P1", old))))
            messages.append((b"P1", json.dumps(huge_cycle).encode()))  # orjson refuses it
        if i == 20 and oversized:
            messages.append((b"P2", orjson.dumps(created("P2", old, agent="a" * 1_200_000))))
        if i == 30:
            if oversized:
                messages.append((b"P4", b"x" * BIG))
            messages.append((b"P5", None))
            messages.append((b"P6", b""))
        if i == 40:
            messages.extend((b"P3", orjson.dumps(e)) for e in big_state)
        if i == 50:
            future = created("P7", now + timedelta(days=365))
            messages.append((b"P7", orjson.dumps(future)))
            # a late ticket with its own answer, in the same burst: neither pages nor retracts
            late = now - timedelta(days=21)
            messages.append((b"L1", orjson.dumps(created("L1", late))))
            answer = {"event_id": "L1-2", "ticket_id": "L1", "type": "responded",
                      "occurred_at": iso(late + timedelta(seconds=30))}  # fmt: skip
            messages.append((b"L1", orjson.dumps(answer)))
    worker = WorkerProcess(
        broker.bootstrap,
        topics,
        tmp_path / "d",
        tmp_path / "w.log",
        extra=["--max-message-bytes", "40000"],
    ).start()
    try:
        send(broker.bootstrap, topics.events, messages)

        def canaries(msgs: list[Any]) -> bool:
            warned = {a["ticket_id"] for a in alerts_of(msgs) if a["kind"] == "warning"}
            return {f"C{i}" for i in range(60)} <= warned and "P1" in warned

        got = consume(broker.bootstrap, topics.alerts, until=canaries, timeout=90, idle=1)
        assert canaries(got)
        late_alerts = [a for a in alerts_of(got) if a["ticket_id"] == "L1"]
        assert late_alerts, "the late ticket's resolution breaches are announced"
        assert not [a for a in late_alerts if a["kind"] == "retraction"]
        assert not [a for a in late_alerts if a["clock"] == "first_response"]
        poisons = {b"P1", b"P3", b"P5", b"P6", b"P7"} | ({b"P2", b"P4"} if oversized else set())

        def all_dead(msgs: list[Any]) -> bool:
            return poisons <= {m.key() for m in msgs}

        dead = [orjson.loads(m.value()) for m in consume(
            broker.bootstrap, topics.dlq, until=all_dead, timeout=60, idle=3
        )]  # fmt: skip
        by_key: dict[str | None, list[dict[str, Any]]] = {}
        for r in dead:
            by_key.setdefault(r.get("key"), []).append(r)
        (p1,) = by_key["P1"]  # the schema bounds cycle (1-10,000): refused before the engine
        assert "cycle" in p1["reason"] and not p1["reason"].startswith("processing_error")
        assert orjson.loads(p1["raw"])["event_id"] == "P1-2"
        if oversized:
            (p2,) = by_key["P2"]
            assert p2["reason"].startswith("too large") and p2["raw_clipped"]
            (p4,) = by_key["P4"]
            assert p4["reason"] == f"too large: {BIG} bytes (at most {MAX_EVENT_BYTES} are read)"
            assert p4["raw_bytes"] == BIG and len(p4["raw"]) == RAW_CLIP_BYTES and p4["raw_clipped"]
        (p5,) = by_key["P5"]
        assert p5["raw"] is None and p5["raw_encoding"] == "none" and "null" in p5["reason"]
        (p6,) = by_key["P6"]
        assert p6["raw"] == "" and p6["raw_encoding"] == "utf-8" and p6["raw_bytes"] == 0
        assert p6["reason"].startswith("not JSON")
        (p7,) = by_key["P7"]
        assert "ahead of the wall clock" in p7["reason"] and "--max-skew 300" in p7["reason"]
        p3 = by_key["P3"]
        assert p3 and all("OutputTooLarge" in r["reason"] for r in p3)
        # P3's tick may fail too: which of its events a batch kept (under the limit) depends on
        # how the records were split into batches, and a tick adds to that state
        assert all(
            (r["topic"] == topics.events or (r["topic"] == topics.ticks and r["key"] == "P3"))
            and r["offset"] >= 0
            for r in dead
        )
        for r in dead:
            Reject.model_validate(r)  # the published schema of tickets.dlq
        # counters equal the records on the topics, from a real scrape
        events = consume(broker.bootstrap, topics.events, timeout=30, idle=2)
        assert len(events) == len(messages)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and worker.sample("sla_events_consumed_total") < len(
            messages
        ):
            time.sleep(0.2)
        assert worker.sample("sla_events_consumed_total") == len(messages)
        assert worker.sample("sla_events_rejected_total") == len(dead)
        errors = sum(1 for r in dead if r["reason"].startswith("processing_error"))
        assert worker.sample("sla_processing_errors_total") == errors
        text = worker.metrics()
        too_large = 2.0 if oversized else 0.0
        assert f'sla_events_rejected_total{{reason="too_large"}} {too_large}' in text
        assert 'sla_events_rejected_total{reason="future"} 1.0' in text
        assert "Integer exceeds 64-bit range" not in (tmp_path / "w.log").read_text()
        assert "processing_error (settle)" in (tmp_path / "w.log").read_text()
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        worker.stop()
