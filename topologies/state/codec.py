"""How a ticket is stored in the RocksDB table: its next deadline first, so the timer index can be
rebuilt from the table without decoding every ticket."""

from __future__ import annotations

import struct

from engine.retention import deadline
from engine.rules import RuntimePolicy
from engine.ticket import Ticket

_HEADER = struct.Struct(">qH")  # next deadline (µs, -1 = none), source partition
NO_DEADLINE = -1


def encode(ticket: Ticket, partition: int, retention_days: float) -> bytes:
    return frame(deadline(ticket, retention_days), partition, ticket.to_bytes())


def frame(due: int | None, partition: int, state: bytes) -> bytes:
    """A stored value: the deadline and partition header, then the ticket's `to_bytes`."""
    return _HEADER.pack(NO_DEADLINE if due is None else due, partition) + state


def peek(value: bytes) -> tuple[int | None, int]:
    """The stored deadline and partition, without decoding the ticket."""
    due, partition = _HEADER.unpack_from(value)
    return (None if due == NO_DEADLINE else int(due)), int(partition)


def decode(value: bytes, policy: RuntimePolicy) -> Ticket:
    return Ticket.from_bytes(value[_HEADER.size :], policy)


def state_of(value: bytes) -> bytes:
    """The ticket's `to_bytes` in a stored value (without the header)."""
    return value[_HEADER.size :]
