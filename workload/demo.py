"""The demo's traffic, pure: tickets left unanswered and a ticket's life compressed so that
every kind of alert appears within a minute (`topologies.demo` sends it on the wall clock)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from workload.tickets import ticket_events


def backlog(rng: random.Random, now: datetime, run: str, count: int = 12) -> list[dict[str, Any]]:
    """Tickets created minutes ago and never answered: their first-response alerts fire at once."""
    out = []
    for i in range(count):
        created = now - timedelta(seconds=rng.uniform(30, 400))
        life = ticket_events(rng, f"DEMO-{run}-OLD-{i:03d}", created)
        out.append(life[0])
    return out


def compressed_life(
    rng: random.Random, ticket_id: str, created: datetime, now: float, unanswered: bool
) -> list[tuple[float, dict[str, Any]]]:
    """One new ticket's events with the instant (`now` + offset, seconds) each is due to be sent:
    minutes of its life become seconds; an unanswered ticket is only created."""
    life = ticket_events(rng, ticket_id, created)
    if unanswered:
        life = life[:1]
    out = []
    for e in life:
        at = datetime.fromisoformat(e["occurred_at"])
        offset = (at - created).total_seconds() / 60
        out.append((now + offset, e))
    return out
