"""Open and at-risk clocks by (clock, priority) over the decoded-ticket cache, kept as tickets
enter, change and leave it (`ClockCounts`), so the gauges cost nothing per open ticket.

A clock is at risk from the instant its counted time reaches `RISK_SHARE` of its breach
threshold (`TicketEval.open_clocks`); for a running clock that instant is known when its state
is written (`engine.calendar.add_us`), so it waits in a heap until the gauges' clock passes it."""

from __future__ import annotations

import heapq
import math
from collections import Counter

from engine.calendar import add_us
from engine.clocks import PAUSED, RUNNING
from engine.ticket import Ticket

RISK_SHARE = 0.8  # `TicketEval.open_clocks`' default, what the walk counted
ALWAYS = -(2**63)  # at risk whatever the instant
Key = tuple[str, str]  # (clock, priority)
Entry = tuple[Key, "int | None"]  # an open clock and the instant it is at risk from (None: never)


def risk_entries(ticket: Ticket, share: float = RISK_SHARE) -> list[Entry]:
    """Each running or paused clock of the ticket with the instant it is at risk from, as
    `TicketEval.open_clocks(now)` decides it for every `now`."""
    priority = ticket.state.attrs.get("priority") or ""
    out: list[Entry] = []
    for run in ticket.state.runs:
        if run.phase not in (RUNNING, PAUSED):
            continue
        at: int | None = None
        target = run.target
        if target is not None:
            breach = next((t for t in target.thresholds if t.kind == "breach"), None)
            crossed = any(t.kind == "breach" for t in target.thresholds[: run.crossed])
            if breach is not None and not crossed:
                need = math.ceil(breach.at_us * share) - run.elapsed  # counted is whole µs
                if need <= 0:
                    at = ALWAYS
                elif run.phase == RUNNING:
                    at = add_us(run.cal, run.since, need)
        out.append(((run.rule.name, priority), at))
    return out


class ClockCounts:
    """The open and at-risk counts of the tickets `add`ed and not `remove`d, at `at(now)`."""

    def __init__(self) -> None:
        self.open: Counter[Key] = Counter()
        self.risk: Counter[Key] = Counter()
        self.held: dict[str, tuple[int, list[Entry]]] = {}  # ticket id -> (version, entries)
        self.waiting: list[tuple[int, str, int, Key]] = []  # heap: (at, ticket, version, key)
        self.now = ALWAYS  # the latest instant of `at`
        self.version = 0

    def add(self, ticket: Ticket) -> None:
        """The ticket's state as written now replaces what was counted for it."""
        ticket_id = ticket.ticket_id
        self.remove(ticket_id)
        entries = risk_entries(ticket)
        if not entries:
            return
        self.version += 1
        for key, at in entries:
            self.open[key] += 1
            if at is not None:
                if at <= self.now:
                    self.risk[key] += 1
                else:
                    heapq.heappush(self.waiting, (at, ticket_id, self.version, key))
        self.held[ticket_id] = (self.version, entries)
        if len(self.waiting) > 4 * len(self.held) + 1_000:
            self._compact()

    def remove(self, ticket_id: str) -> None:
        """The ticket is no longer counted (left the cache); its waiting entries go stale."""
        held = self.held.pop(ticket_id, None)
        if held is None:
            return
        for key, at in held[1]:
            self.open[key] -= 1
            if at is not None and at <= self.now:
                self.risk[key] -= 1

    def at(self, now: int) -> tuple[Counter[Key], Counter[Key]]:
        """(open, at risk) counts at `now` (never earlier than a previous call's)."""
        self.now = max(self.now, now)
        waiting = self.waiting
        while waiting and waiting[0][0] <= self.now:
            _at, ticket_id, version, key = heapq.heappop(waiting)
            held = self.held.get(ticket_id)
            if held is not None and held[0] == version:
                self.risk[key] += 1
        return self.open, self.risk

    def clear(self) -> None:
        """Nothing is counted (the cache was emptied on a rebalance)."""
        self.open.clear()
        self.risk.clear()
        self.held.clear()
        self.waiting.clear()

    def _compact(self) -> None:
        """Drop the stale waiting entries of tickets changed or gone since they were pushed."""
        self.waiting = [
            (at, ticket_id, version, key)
            for ticket_id, (version, entries) in self.held.items()
            for key, at in entries
            if at is not None and at > self.now
        ]
        heapq.heapify(self.waiting)
