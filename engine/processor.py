"""Stream-time evaluation of many tickets: the replay tool's engine.

The clock is stream time: after each event it is the largest `occurred_at` seen so far, and every
threshold due by then fires, for every ticket (a heap of next deadlines finds them). At the end
of input the clock advances to the `until` instant so pending timers fire.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from engine.history import Ev
from engine.rules import RuntimePolicy
from engine.ticket import Ticket


@dataclass(slots=True)
class Processor:
    policy: RuntimePolicy
    tickets: dict[str, Ticket] = field(default_factory=dict)
    timers: list[tuple[int, str]] = field(default_factory=list)
    clock: int = -(2**62)

    def ingest(self, ticket_id: str, ev: Ev) -> list[dict[str, Any]]:
        """One event: its ticket's alerts, then every other ticket's timers due by stream time."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            ticket = self.tickets[ticket_id] = Ticket.new(ticket_id, self.policy)
        self.clock = max(self.clock, ev.at)
        before = ticket.next_due()
        out = ticket.step(ev, self.clock, self.clock)
        after = ticket.next_due()
        if after is not None and after != before:
            heapq.heappush(self.timers, (after, ticket_id))
        out.extend(self.advance(self.clock))
        return out

    def advance(self, now: int) -> list[dict[str, Any]]:
        """Move the clock to `now` and fire every timer due by then."""
        self.clock = max(self.clock, now)
        return list(self._fire(self.clock))

    def _fire(self, now: int) -> Iterator[dict[str, Any]]:
        timers = self.timers
        while timers and timers[0][0] <= now:
            due, ticket_id = heapq.heappop(timers)
            ticket = self.tickets[ticket_id]
            if ticket.next_due() != due:
                continue  # stale entry: the deadline moved
            yield from ticket.tick(now, now)
            nxt = ticket.next_due()
            if nxt is not None:
                heapq.heappush(timers, (nxt, ticket_id))
