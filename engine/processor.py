"""Stream-time evaluation of many tickets: the core of the replay pipeline (`engine.replay`).

The clock is stream time: after each event it is the largest `occurred_at` seen so far, and every
threshold due by then fires, for every ticket (a timer queue of next deadlines finds them,
`engine.timer_queue`). At the end
of input the clock advances to the `until` instant so pending timers fire.

With `parked`, the tickets with no timer left (closed, or open with every threshold passed)
beyond the `idle` most recently touched leave memory for that mapping (as `Ticket.to_bytes`, the
worker's stored form) until their next event, if any: a long replay then holds the tickets with
a pending threshold and a bounded number of idle ones, not every ticket it ever saw (the caller
may back the mapping by disk).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from engine.history import Ev
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from engine.timer_queue import TimerQueue


@dataclass(slots=True)
class Processor:
    policy: RuntimePolicy
    tickets: dict[str, Ticket] = field(default_factory=dict)
    timers: TimerQueue = field(default_factory=TimerQueue)
    clock: int = -(2**62)
    parked: MutableMapping[str, bytes] | None = None  # tickets with no timer, as bytes
    idle: int = 2_000  # tickets with no timer kept in memory (least recently touched parked)
    _idle: OrderedDict[str, None] = field(default_factory=OrderedDict)
    gone: list[str] | None = None  # when a list: the ids parked, in order (the caller clears it)
    most: int = 0  # the most tickets in memory at once (what sizes a long replay's memory)

    def knows(self, ticket_id: str) -> bool:
        """Whether an event of this ticket was ingested (its state in memory or parked)."""
        return ticket_id in self.tickets or (self.parked is not None and ticket_id in self.parked)

    def count(self) -> int:
        """Tickets ingested."""
        return len(self.tickets) + (len(self.parked) if self.parked is not None else 0)

    def ingest(self, ticket_id: str, ev: Ev) -> list[dict[str, Any]]:
        """One event: its ticket's alerts, then every other ticket's timers due by stream time."""
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raw = self.parked.pop(ticket_id, None) if self.parked is not None else None
            ticket = self.tickets[ticket_id] = (
                Ticket.new(ticket_id, self.policy)
                if raw is None
                else Ticket.from_bytes(raw, self.policy)
            )
            if len(self.tickets) > self.most:  # only a ticket coming in can raise it
                self.most = len(self.tickets)
        if ev.at > self.clock:
            self.clock = ev.at
        now = self.clock
        before = ticket.state.soonest  # `next_due()`, read directly: this runs per event
        out = ticket.step(ev, now, now)
        after = ticket.state.soonest
        if after is not None and after != before:
            self.timers.push(after, ticket_id)
        if self.parked is not None:
            self._park(ticket)
        if self.timers.due(now):  # `advance(now)` without its list when none is due
            out.extend(self._fire(now))
        return out

    def _park(self, ticket: Ticket) -> None:
        """Note whether the ticket is idle (no timer); park the least recently touched idle
        tickets beyond `idle`."""
        if self.parked is None:
            return
        self._idle.pop(ticket.ticket_id, None)
        if ticket.next_due() is None:
            self._idle[ticket.ticket_id] = None
        while len(self._idle) > self.idle:
            ticket_id, _ = self._idle.popitem(last=False)
            self.parked[ticket_id] = self.tickets.pop(ticket_id).to_bytes()
            if self.gone is not None:
                self.gone.append(ticket_id)

    def advance(self, now: int) -> list[dict[str, Any]]:
        """Move the clock to `now` and fire every timer due by then."""
        self.clock = max(self.clock, now)
        if not self.timers.due(self.clock):
            return []  # nothing due: the common case after an event
        return list(self._fire(self.clock))

    def _fire(self, now: int) -> Iterator[dict[str, Any]]:
        timers = self.timers
        while timers.due(now):
            due, ticket_id = timers.pop()
            ticket = self.tickets.get(ticket_id)
            if ticket is None or ticket.state.soonest != due:
                continue  # stale entry: the deadline moved (or the ticket is parked)
            yield from ticket.tick(now, now)
            state = ticket.state  # a fresh read: `soonest` changed in `tick` (no stale narrowing)
            nxt = state.soonest
            if nxt is not None:
                timers.push(nxt, ticket_id)
            elif self.parked is not None:
                self._park(ticket)
