"""Direct state pre-load: N open tickets produced straight to a worker's tickets changelog, as a
worker that had processed their events would have left it.

Loading 1,000,000 open tickets through the events topic takes a worker ~19 minutes (two events
per ticket at ~1,800 events/s, README "Issue 14 figures at size"): that is what the benchmarks
skip here. Each ticket is the timer phase's background ticket (`bench.timer_latency`:
`created` 20 s before the pre-load, `responded` 15 s before, so its next deadline is the
resolution target, hours away), its two events parsed as the worker parses them
(`schemas.parse.parse_event`, `engine.history.from_model`), folded and settled once
(`Ticket.absorb`, `Ticket.settle`, as one batch does) and encoded as the worker stores it
(`topologies.state.codec.encode`: its deadline, its partition, `Ticket.to_bytes`). The record
goes to `GROUP-tickets-changelog` (Faust's name for the `tickets` table's changelog), keyed by
ticket id on the partition the worker's events of that ticket would use (murmur2, the producer
factory's partitioner, `kafka_io.producer`).

What else a worker needs to take them as its own: nothing. Its consumer group has no committed
offset on the events topic, which is empty; a worker seeks such partitions to their earliest
offset (`topologies.uncommitted`) and reads whatever arrives next. Its table recovery reads the
changelog into an empty data dir. Not pre-loaded: the tickets' KPI facts (`kpi-facts` table,
`sla.kpi-facts`), which only a `kpis`/`all` worker's aggregates would miss.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import orjson

from bench.events import created, responded
from bench.figures import S_US

CHECK_EVERY = 1_000  # one ticket in this many is built again by the engine and compared


def changelog_topic(group: str, table: str = "tickets") -> str:
    """Faust's changelog topic of a worker's table (`{app id}-{table}-changelog`)."""
    return f"{group}-{table}-changelog"


def ticket_id(i: int) -> str:
    return f"B{i:07d}"


def stored(i: int, now: int, partitions: int, policy: Any, retention_days: float = 35.0) -> bytes:
    """Ticket `i`'s stored value at instant `now`, built by the engine from its two events."""
    from engine.history import from_model
    from engine.ticket import Ticket
    from kafka_io.producer import partition_for
    from schemas.parse import parse_event
    from topologies.state import codec

    tid = ticket_id(i)
    ticket = Ticket.new(tid, policy)
    last = ""
    for event in (created(tid, now - 20 * S_US), responded(tid, now - 15 * S_US)):
        ev = from_model(parse_event(orjson.dumps(event)))
        ticket.absorb(ev)
        last = ev.id
    ticket.settle(now, now, last)
    return codec.encode(ticket, partition_for(tid.encode(), partitions), retention_days)


class NotTheEngines(AssertionError):
    """A pre-loaded value differs from the one the engine builds for that ticket."""


def records(n: int, partitions: int, now: int | None = None) -> Iterator[tuple[bytes, bytes]]:
    """The `n` tickets' (key, stored value), all at instant `now` (default: the wall clock).

    The engine builds ticket 0; every other ticket's value is that one with its own id and
    partition (~500 µs per ticket through the engine, ~2 µs this way), and one in
    `CHECK_EVERY` (and the last) is built again by the engine and must be byte-identical
    (`NotTheEngines` otherwise): same events at the same instants, only the id differs."""
    from config.loader import load
    from kafka_io.producer import partition_for
    from topologies.state import codec

    at = time.time_ns() // 1000 if now is None else now
    policy = load(None)
    first = stored(0, at, partitions, policy)
    due, _ = codec.peek(first)
    body, name = codec.state_of(first), ticket_id(0).encode()
    for i in range(n):
        key = ticket_id(i).encode()
        value = codec.frame(due, partition_for(key, partitions), body.replace(name, key))
        checked = i % CHECK_EVERY == 0 or i == n - 1
        if checked and value != stored(i, at, partitions, policy):
            raise NotTheEngines(f"ticket {key.decode()}: pre-load and engine differ")
        yield key, value


def preload(bootstrap: str, group: str, n: int, partitions: int) -> dict[str, Any]:
    """Produce `n` open tickets' state to `group`'s tickets changelog (created compacted with
    `partitions` partitions, as Faust declares it); what it took."""
    from kafka_io.admin import create_topics
    from kafka_io.producer import publish

    topic = changelog_topic(group)
    create_topics(bootstrap, {topic: partitions}, {"cleanup.policy": "compact"})
    t0 = time.perf_counter()
    value_bytes = 0

    def stamped() -> Iterator[tuple[bytes | None, bytes | None, int]]:
        nonlocal value_bytes
        for key, value in records(n, partitions):
            value_bytes += len(value)
            yield key, value, 0

    produced = publish(bootstrap, topic, stamped(), timeout=600.0)
    seconds = time.perf_counter() - t0
    return {
        "preloaded_tickets": produced,
        "preload_topic": topic,
        "preload_s": round(seconds, 1),
        "preload_value_bytes_per_ticket": round(value_bytes / produced) if produced else None,
    }
