"""The synthetic events of the live benchmarks (`bench stream`'s timers, `bench soak`): one
priority-A ticket created and answered at given instants, stamped in µs."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bench.figures import S_US


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / S_US, UTC).isoformat()


def now_us() -> int:
    return time.time_ns() // 1000


def created(
    ticket: str, at_us: int, priority: str = "A", product_line: str | None = "router"
) -> dict[str, Any]:
    """A `created` event of a simple phone ticket of team-1 (no product line when None)."""
    event: dict[str, Any] = {
        "event_id": f"{ticket}-1",
        "ticket_id": ticket,
        "type": "created",
        "occurred_at": iso(at_us),
        "priority": priority,
        "category": "simple",
        "channel": "phone",
        "team": "team-1",
        "agent": "a-1",
        "supervisor": "s-1",
        "department": "after-sales",
    }
    if product_line is not None:
        event["product_line"] = product_line
    return event


def responded(ticket: str, at_us: int) -> dict[str, Any]:
    return {
        "event_id": f"{ticket}-2",
        "ticket_id": ticket,
        "type": "responded",
        "occurred_at": iso(at_us),
    }


def updated(ticket: str, at_us: int, n: int) -> dict[str, Any]:
    """The ticket's ``n``-th progress update (the timer phase's background load)."""
    return {
        "event_id": f"{ticket}-u{n}",
        "ticket_id": ticket,
        "type": "updated",
        "occurred_at": iso(at_us),
    }
