"""A live demo ticket stream: realistic traffic stamped with the wall clock, with some tickets
left unanswered (and a few already overdue) so that alerts appear within a minute."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime
from typing import Any

import orjson

from kafka_io.producer import make_producer
from workload.demo import backlog, compressed_life


def run_stream(
    bootstrap: str, topic: str, stop: threading.Event, rate: float = 2.0, seed: int | None = None
) -> None:
    """Produce the demo stream until `stop` is set: new tickets at `rate` per second, each event
    sent when its time comes; every fifth ticket is never answered."""
    producer = make_producer(bootstrap)
    rng = random.Random(seed)
    run = f"{int(time.time()):x}"  # ticket ids unique per run: a restart does not repeat event ids
    pending: list[tuple[float, dict[str, Any]]] = []

    def send(e: dict[str, Any]) -> None:
        producer.produce(topic, key=e["ticket_id"].encode(), value=orjson.dumps(e))

    for e in backlog(rng, datetime.now(UTC), run):
        send(e)
    n = 0
    next_ticket = time.time()
    while not stop.is_set():
        now = time.time()
        if now >= next_ticket:
            n += 1
            created = datetime.now(UTC)
            # every fifth ticket is never answered
            pending += compressed_life(rng, f"DEMO-{run}-{n:06d}", created, now, n % 5 == 0)
            next_ticket = now + rng.expovariate(rate)
        due = [p for p in pending if p[0] <= now]
        pending = [p for p in pending if p[0] > now]
        for _, e in due:
            e["occurred_at"] = datetime.now(UTC).isoformat()
            send(e)
        producer.poll(0)
        stop.wait(0.05)
    producer.flush(5)
