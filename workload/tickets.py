"""A realistic, seeded ticket workload: for the demo stream, benchmarks and tests.

Mixed priorities, channels and categories, late responses, on-site visits, priority changes,
`pending_customer` pauses, complex-case updates, reopens, surveys and closes.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.attributes import SURVEY_ITEMS

CST = timezone(timedelta(hours=8))
TEAMS = [f"team-{i}" for i in range(1, 7)]
PRODUCTS = ["router", "switch", "camera", "nas", "firewall"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _ts(t: datetime) -> str:
    return t.astimezone(CST).isoformat()


class _Life:
    """One ticket's events as they are made: numbered `T…-1`, `T…-2`, … in the order added."""

    def __init__(self, ticket_id: str) -> None:
        self.ticket_id = ticket_id
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, at: datetime, **fields: Any) -> None:
        self.events.append(
            {
                "event_id": f"{self.ticket_id}-{len(self.events) + 1}",
                "ticket_id": self.ticket_id,
                "type": kind,
                "occurred_at": _ts(at),
                **fields,
            }
        )

    def after(self, t: datetime, delta: timedelta, kind: str, **fields: Any) -> datetime:
        """Add `kind` at `t + delta`; that instant (the ticket's time reached)."""
        at = t + delta
        self.add(kind, at, **fields)
        return at


def _created(rng: random.Random, life: _Life, created: datetime) -> str:
    """The `created` event (priority, category, team, customer drawn); the category."""
    priority = rng.choices("ABC", weights=(15, 45, 40))[0]
    category = rng.choices(["simple", "complex", "urgent", "complaint"], weights=(65, 15, 10, 10))[
        0
    ]
    team = rng.choice(TEAMS)
    customer: dict[str, Any] = {"id": f"c-{rng.randrange(10**6):06d}"}
    if rng.random() < 0.3:
        customer |= {"name": "Zhang Wei", "phone": "+86 138 0013 8000"}
    life.add(
        "created",
        created,
        priority=priority,
        channel=rng.choice(["phone", "online", "email"]),
        category=category,
        team=team,
        agent=f"a-{rng.randrange(1, 60)}",
        supervisor=f"s-{rng.randrange(1, 8)}",
        department="after-sales",
        product_line=rng.choice(PRODUCTS),
        customer=customer,
    )
    return category


def _handled(rng: random.Random, life: _Life, t: datetime, category: str) -> datetime:
    """The work before a resolution: response, hand-off, priority change, on-site visit,
    `pending_customer` pause, complex-case update; the time reached."""
    # First response: usually quick, sometimes late enough to warn, breach or escalate.
    t = t + timedelta(
        seconds=rng.choice([rng.uniform(5, 90), rng.uniform(60, 400), rng.uniform(100, 1500)])
    )
    life.add("responded", t)
    if rng.random() < 0.1:
        life.add(
            "assigned",
            t + timedelta(minutes=2),
            agent=f"a-{rng.randrange(1, 60)}",
            team=rng.choice(TEAMS),
        )
    if rng.random() < 0.15:
        t = life.after(
            t, timedelta(minutes=rng.uniform(1, 30)), "priority_changed", priority=rng.choice("ABC")
        )
    if rng.random() < 0.1:
        t = life.after(t, timedelta(minutes=rng.uniform(5, 60)), "onsite_requested")
        t = life.after(t, timedelta(minutes=rng.uniform(10, 200)), "onsite_arrived")
    if rng.random() < 0.25:
        t = life.after(
            t, timedelta(hours=rng.uniform(0.2, 6)), "status_changed", status="pending_customer"
        )
        t = life.after(
            t, timedelta(hours=rng.uniform(0.5, 30)), "status_changed", status="in_progress"
        )
    if category == "complex":
        t = life.after(t, timedelta(hours=rng.uniform(1, 40)), "updated")
    return t


def _closed(rng: random.Random, life: _Life, t: datetime) -> None:
    """Resolution, perhaps a reopen, the survey and the close."""
    t = life.after(t, timedelta(hours=rng.uniform(0.1, 30)), "resolved", solution="replaced unit")
    if rng.random() < 0.05:
        t = life.after(t, timedelta(hours=rng.uniform(1, 20)), "reopened")
        t = life.after(t, timedelta(hours=rng.uniform(0.5, 10)), "resolved")
    if rng.random() < 0.85:
        t = life.after(t, timedelta(hours=rng.uniform(0.1, 30)), "survey_sent")
        if rng.random() < 0.55:
            t = t + timedelta(hours=rng.uniform(0.1, 20))
            base = rng.randint(1, 5)
            scores = {k: max(1, min(5, base + rng.randint(-1, 1))) for k in SURVEY_ITEMS}
            life.add("survey_submitted", t, survey=scores)
    t = life.after(t, timedelta(hours=rng.uniform(1, 48)), "closed", customer_confirmed=True)


def ticket_events(rng: random.Random, ticket_id: str, created: datetime) -> list[dict[str, Any]]:
    """One ticket's whole life, in time order (one in ten is left open)."""
    life = _Life(ticket_id)
    category = _created(rng, life, created)
    t = _handled(rng, life, created, category)
    if rng.random() < 0.1:
        return life.events  # still open
    _closed(rng, life, t)
    return life.events


def generate(
    tickets: int, seed: int = 7, start: datetime | None = None, span: timedelta = timedelta(days=7)
) -> Iterator[dict[str, Any]]:
    """Events of `tickets` tickets created uniformly over `span`, merged in time order."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 23, tzinfo=CST)
    step = span / max(tickets, 1)
    lives = []
    for i in range(tickets):
        created = start + step * i + timedelta(seconds=rng.uniform(0, step.total_seconds()))
        lives.append(ticket_events(rng, f"T{i:07d}", created.replace(microsecond=0)))
    merged = heapq.merge(
        *lives, key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["event_id"])
    )
    yield from merged


def stream(
    tickets: int, seed: int = 7, start: datetime | None = None, span: timedelta = timedelta(days=7)
) -> Iterator[dict[str, Any]]:
    """Like `generate`, lazily: a ticket's life is made when stream time reaches its creation,
    so memory holds the tickets in progress, not the whole workload (a month of a large centre
    for `bench audit`). The same tickets as `generate` with the same arguments."""
    rng = random.Random(seed)
    start = start or datetime(2026, 11, 23, tzinfo=CST)
    step = span / max(tickets, 1)
    # keyed by integer µs since the epoch: the same order as the aware datetimes, and cheap to
    # compare (an aware datetime comparison asks both for their UTC offset: most of the time)
    heap: list[tuple[int, str, int, dict[str, Any]]] = []
    n = 0
    made = 0
    while made < tickets or heap:
        if made < tickets:
            created = start + step * made + timedelta(seconds=rng.uniform(0, step.total_seconds()))
            created = created.replace(microsecond=0)
            for e in ticket_events(rng, f"T{made:07d}", created):
                n += 1
                at = (datetime.fromisoformat(e["occurred_at"]) - _EPOCH) // _US
                heapq.heappush(heap, (at, e["event_id"], n, e))
            made += 1
            horizon = (start + step * made - _EPOCH) // _US  # every later ticket is created then
        else:
            horizon = 2**63
        while heap and heap[0][0] < horizon:
            yield heapq.heappop(heap)[3]


def lines(tickets: int, seed: int = 7, **kw: Any) -> list[bytes]:
    """The workload as JSONL lines (bytes, newline-terminated)."""
    return [orjson.dumps(e) + b"\n" for e in generate(tickets, seed, **kw)]
