"""The seeded workload and the demo's traffic (workload/): deterministic, time-ordered, lazy
`stream` equal to `generate`, and the demo's compressed lives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import workload
from workload.demo import backlog, compressed_life

START = datetime(2026, 9, 1, tzinfo=UTC)


def test_the_same_seed_gives_the_same_events() -> None:
    assert workload.lines(50, seed=3) == workload.lines(50, seed=3)
    assert workload.lines(50, seed=3) != workload.lines(50, seed=4)


def test_stream_is_generate_made_lazily() -> None:
    span = timedelta(days=3)
    lazy = list(workload.stream(120, 9, START, span))
    assert lazy == list(workload.generate(120, 9, START, span))


def test_events_are_in_time_order_and_numbered_per_ticket() -> None:
    events = list(workload.generate(80, 5, START, timedelta(days=2)))
    times = [datetime.fromisoformat(e["occurred_at"]) for e in events]
    assert times == sorted(times)
    per_ticket: dict[str, list[str]] = {}
    for e in events:
        per_ticket.setdefault(e["ticket_id"], []).append(e["event_id"])
    for ticket, ids in per_ticket.items():
        assert sorted(ids, key=lambda i: int(i.rsplit("-", 1)[1])) == [
            f"{ticket}-{n}" for n in range(1, len(ids) + 1)
        ]


def test_a_ticket_life_is_created_answered_and_closed_last_if_at_all() -> None:
    rng = random.Random(1)
    lives = [workload.ticket_events(rng, f"X{i}", START) for i in range(200)]
    for life in lives:
        assert [e["type"] for e in life[:2]] == ["created", "responded"]
        assert all(e["type"] != "closed" for e in life[:-1])
    still_open = sum(1 for life in lives if life[-1]["type"] != "closed")
    assert 0 < still_open < 60  # about one in ten is left open


def test_the_demo_backlog_is_unanswered_tickets_of_the_last_minutes() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    events = backlog(random.Random(2), now, "run1", count=5)
    assert [e["ticket_id"] for e in events] == [f"DEMO-run1-OLD-{i:03d}" for i in range(5)]
    for e in events:
        assert e["type"] == "created"
        age = now - datetime.fromisoformat(e["occurred_at"])
        assert timedelta(seconds=30) <= age <= timedelta(seconds=401)


def test_the_demo_compresses_minutes_of_a_life_into_seconds() -> None:
    created = datetime(2026, 12, 1, 12, tzinfo=UTC)
    sends = compressed_life(random.Random(3), "DEMO-x-1", created, 1000.0, unanswered=False)
    assert len(sends) > 1 and sends[0][0] == 1000.0
    for at, e in sends:
        minutes = (datetime.fromisoformat(e["occurred_at"]) - created).total_seconds() / 60
        assert at == 1000.0 + minutes
    only = compressed_life(random.Random(3), "DEMO-x-1", created, 1000.0, unanswered=True)
    assert [e["type"] for _, e in only] == ["created"]
