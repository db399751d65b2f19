"""The replay pipeline: decoded events, in the order given, through the stream-time engine; the
alerts, as the worker would emit them for the same events.

`Replay` is the one replay loop of `sla-engine replay` (file and topic), `explain`,
`accountability`, `whatif`, `audit`, `bench core` and the tests. Pure: it takes decoded
`(ticket_id, Ev)` pairs and returns the alerts; the clock is stream time (`Processor`: the
largest `occurred_at` fed so far), and `finish(until)` moves it to the instant passed in.

What the callers differ in are options of this one pipeline, not copies of it:

- `parked`: a `MutableMapping[str, bytes]` where idle tickets wait as `Ticket.to_bytes` (the
  audit's and `replay --topic`'s spill file; `Processor` documents the rule);
- `arrived`: the publication instant of a topic record, remembered per ticket (`arrival`) so
  the audit knows when an alert could be known;
- `headless`: the tickets whose first event fed was not `created` (their history starts before
  what was read: `replay --topic` and the audit leave their alerts out);
- counts: `events` fed, `count()` tickets;
- the effective alert set (`engine.effective`) over what `run` returns.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from engine.history import Ev
from engine.processor import Processor
from engine.rules import RuntimePolicy
from engine.ticket import Ticket

Alert = dict[str, Any]


@dataclass(slots=True)
class Replay:
    """One replay's state: the processor (every ticket's history, SLA state and ledger), what
    was fed and, per ticket in memory, the publication instant of its last event fed."""

    processor: Processor
    events: int = 0
    headless: set[str] = field(default_factory=set)
    _arrivals: dict[str, int] = field(default_factory=dict)
    _leaving: str | None = None  # parked by the last `feed`: its arrival goes on the next one

    @classmethod
    def start(
        cls,
        policy: RuntimePolicy,
        parked: MutableMapping[str, bytes] | None = None,
        headless: set[str] | None = None,
    ) -> Replay:
        """A replay with no event fed yet (`headless`: a set to record into, e.g. a result's)."""
        run = cls(Processor(policy, parked=parked, gone=[] if parked is not None else None))
        if headless is not None:
            run.headless = headless
        return run

    def feed(self, ticket_id: str, ev: Ev, arrived: int | None = None) -> list[Alert]:
        """One event (`arrived`: its record's publication instant, µs, when from a topic): its
        ticket's alerts, then every other ticket's alerts due by the new stream time."""
        proc = self.processor
        arrivals = self._arrivals
        if self._leaving is not None:
            arrivals.pop(self._leaving, None)
            self._leaving = None
        if proc.gone:  # parked by the last `feed`: their next alert follows their next event
            for gone in proc.gone:
                arrivals.pop(gone, None)
            proc.gone.clear()
        self.events += 1
        if ev.type != "created" and ticket_id not in proc.tickets and not proc.knows(ticket_id):
            self.headless.add(ticket_id)
        if arrived is not None:
            arrivals[ticket_id] = arrived
        out = proc.ingest(ticket_id, ev)
        if proc.parked is not None and ticket_id not in proc.tickets:
            self._leaving = ticket_id  # parked: its next alert follows its next event
        return out

    def finish(self, until: int | None) -> list[Alert]:
        """The end of input: the clock moves to `until` (None: stays) and the timers due fire."""
        if self._leaving is not None:
            self._arrivals.pop(self._leaving, None)
            self._leaving = None
        return self.processor.advance(until) if until is not None else []

    def run(self, events: Iterable[tuple[str, Ev]], until: int | None) -> Iterator[Alert]:
        """Every alert of `events` fed in order, then of `finish(until)`."""
        for ticket_id, ev in events:
            yield from self.feed(ticket_id, ev)
        yield from self.finish(until)

    def arrival(self, ticket_id: str) -> int | None:
        """The publication instant of the ticket's last event fed (None: from a file, parked)."""
        return self._arrivals.get(ticket_id)

    @property
    def policy(self) -> RuntimePolicy:
        return self.processor.policy

    @property
    def clock(self) -> int:
        """The stream-time clock: the largest `occurred_at` fed, or `until` once finished."""
        return self.processor.clock

    @property
    def tickets(self) -> dict[str, Ticket]:
        """The tickets in memory (all of them unless parked), by id."""
        return self.processor.tickets

    def knows(self, ticket_id: str) -> bool:
        """Whether an event of this ticket was fed."""
        return self.processor.knows(ticket_id)

    def count(self) -> int:
        """Tickets fed (in memory and parked)."""
        return self.processor.count()


def replay(
    events: Iterable[tuple[str, Ev]], policy: RuntimePolicy, until: int | None
) -> tuple[Replay, list[Alert]]:
    """Replay `events` in memory: the final state and every alert in emission order."""
    run = Replay.start(policy)
    return run, list(run.run(events, until))
