"""How a ticket is stored in the RocksDB table: its next deadline first, so the timer index can be
rebuilt from the table without decoding every ticket."""

from __future__ import annotations

import struct

from engine.rules import RuntimePolicy
from engine.ticket import Ticket

_HEADER = struct.Struct(">qH")  # next deadline (µs, -1 = none), source partition
NO_DEADLINE = -1
DAY_US = 86_400 * 1_000_000


def deadline(ticket: Ticket, retention_days: float) -> int | None:
    """When the worker must look at this ticket again: its next SLA threshold, or for a closed
    ticket the end of its retention (then its state is dropped)."""
    due = ticket.next_due()
    if due is None and ticket.is_closed():
        last = ticket.last_event_at()
        if last is not None:
            return last + int(retention_days * DAY_US)
    return due


def encode(ticket: Ticket, partition: int, retention_days: float) -> bytes:
    due = deadline(ticket, retention_days)
    return _HEADER.pack(NO_DEADLINE if due is None else due, partition) + ticket.to_bytes()


def peek(value: bytes) -> tuple[int | None, int]:
    """The stored deadline and partition, without decoding the ticket."""
    due, partition = _HEADER.unpack_from(value)
    return (None if due == NO_DEADLINE else int(due)), int(partition)


def decode(value: bytes, policy: RuntimePolicy) -> Ticket:
    return Ticket.from_bytes(value[_HEADER.size :], policy)
