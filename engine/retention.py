"""The retention horizon: how long the live worker keeps a ticket, and which events it refuses.

One rule for the whole tree: an event whose `occurred_at` is older than `retention_days` before
the wall clock is refused (`too_old`); a closed ticket with no deadline left is dropped once
its last event is that old; until then its state is kept and looked at again at that instant.
Pure: the instants are passed in.
"""

from __future__ import annotations

from engine.instant import iso
from engine.ticket import Ticket

DAY_US = 86_400 * 1_000_000


def horizon_us(retention_days: float) -> int:
    """The retention period in µs."""
    return int(retention_days * DAY_US)


def too_old(occurred_us: int, wall_us: int, retention_days: float) -> str | None:
    """The dead-letter reason of an event older than the retention horizon (None: recent)."""
    if occurred_us >= wall_us - horizon_us(retention_days):
        return None
    return (
        f"occurred_at {iso(occurred_us)} is older than the retention horizon "
        f"(--retention-days {retention_days:g})"
    )


def expired(ticket: Ticket, now_us: int, retention_us: int) -> bool:
    """Whether a ticket's state may be dropped: closed, no deadline left, its last event at
    least the retention period before `now_us`."""
    last = ticket.last_event_at()
    return (
        ticket.is_closed()
        and ticket.next_due() is None
        and last is not None
        and now_us >= last + retention_us
    )


def deadline(ticket: Ticket, retention_days: float) -> int | None:
    """When the worker must look at this ticket again: its next SLA threshold, or for a closed
    ticket the end of its retention (then its state is dropped)."""
    due = ticket.next_due()
    if due is None and ticket.is_closed():
        last = ticket.last_event_at()
        if last is not None:
            return last + horizon_us(retention_days)
    return due


def nothing_due(ticket: Ticket, now_us: int, retention_us: int) -> bool:
    """Whether a tick at `now_us` would find nothing to do: no threshold due and the retention
    not over (the worker then leaves the ticket as it is)."""
    due = ticket.next_due()
    return (due is None or due > now_us) and not expired(ticket, now_us, retention_us)
