"""Ticks held back while a partition reads a backlog (`HeldTicks`): a due ticket's tick waits
until the partition has processed the events that were in its log at the scan, or for at most
`HOLD_S`, and is sent only if the ticket is still due then.

While a partition is behind, the timer scan runs on its stream time, and the events after the
scan mostly include the due tickets' own next events, which cross the thresholds themselves:
sent at once, 13,587 of 16,000 ticks (100,000 bench events) found nothing due when they were
read back, each after a message produced, delivered through Faust and looked up. Held, a tick
that its ticket's event answered is not sent at all. A caught-up partition ticks at once. In
memory only: a rebalance drops them, and the timer index rebuilt from the store finds those
tickets due again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

LastOffset = Callable[[int], "int | None"]  # partition -> last offset in its log, if known
HOLD_S = 1.0  # the longest a due ticket's tick waits for the backlog (monotonic seconds)


def unknown_offset(partition: int) -> int | None:
    """No log end known (tests): nothing is ever held."""
    return None


@dataclass(slots=True)
class Held:
    """Due tickets of one scan of one partition: until `gate` is processed or `until` passes."""

    gate: int
    until: float
    ticket_ids: list[str] = field(default_factory=list)


class HeldTicks:
    """Per partition: the last event offset processed, and the ticks held until their gate."""

    def __init__(self, last_offset: LastOffset = unknown_offset, hold_s: float = HOLD_S) -> None:
        self.last_offset = last_offset
        self.hold_s = hold_s
        self.processed: dict[int, int] = {}
        self.held: dict[int, list[Held]] = {}

    def seen(self, partition: int, offset: int) -> None:
        """An event of the partition was processed (or dead-lettered)."""
        if offset > self.processed.get(partition, -1):
            self.processed[partition] = offset

    def hold(self, partition: int, behind: bool, mono: float, ticket_ids: list[str]) -> list[str]:
        """Hold a scan's due tickets while the partition is behind with events not processed
        yet; the ones to tick now (all of them otherwise)."""
        if not behind or not ticket_ids:
            return ticket_ids
        gate = self.last_offset(partition)
        if gate is None or gate <= self.processed.get(partition, -1):
            return ticket_ids
        self.held.setdefault(partition, []).append(Held(gate, mono + self.hold_s, ticket_ids))
        return []

    def ready(self, partition: int, mono: float) -> list[str]:
        """The held tickets of the partition whose gate is processed or whose hold is over."""
        groups = self.held.get(partition)
        if not groups:
            return []
        done = self.processed.get(partition, -1)
        out: list[str] = []
        while groups and (groups[0].gate <= done or groups[0].until <= mono):
            out.extend(groups.pop(0).ticket_ids)
        return out

    def partitions(self) -> list[int]:
        """Partitions with held ticks."""
        return [p for p, groups in self.held.items() if groups]

    def __len__(self) -> int:
        return sum(len(g.ticket_ids) for groups in self.held.values() for g in groups)

    def clear(self) -> None:
        """A rebalance: forget everything (the rebuilt timer index finds those tickets again)."""
        self.held.clear()
        self.processed.clear()
