"""A ticket as the worker and the replay tool keep it: its history, its SLA state and what has
been announced. `step` and `tick` are the only two ways it changes; both are pure given their
inputs (the caller supplies the clock)."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any

import orjson

from engine.alerts import Ledger, reconcile
from engine.evaluate import TicketEval, fold
from engine.history import Ev, from_row, to_row
from engine.rules import RuntimePolicy
from engine.snapshot import restore, take

# 2: the computed state is stored beside the history (`engine.snapshot`), so loading does not
# refold it; 1 (history and ledger only) is still read, and written as 2 at the next store.
FORMAT = 2
READABLE = (1, 2)


@dataclass(slots=True, init=False)
class Ticket:
    """`__init__` written out for mypyc to compile (see `TicketEval`): one per ticket."""

    ticket_id: str
    history: list[Ev]  # sorted by Ev.key, no repeated ids
    state: TicketEval
    ledger: Ledger
    ids: set[str]
    settled: int  # leading decisions already announced (see alerts.reconcile)

    def __init__(
        self,
        ticket_id: str,
        history: list[Ev],
        state: TicketEval,
        ledger: Ledger | None = None,
        ids: set[str] | None = None,
    ) -> None:
        self.ticket_id, self.history, self.state = ticket_id, history, state
        self.ledger = Ledger() if ledger is None else ledger
        self.ids = set() if ids is None else ids
        self.settled = 0

    @classmethod
    def new(cls, ticket_id: str, policy: RuntimePolicy) -> Ticket:
        return cls(ticket_id, [], TicketEval(policy))

    def step(self, ev: Ev, now: int, detected_at: int) -> list[dict[str, Any]]:
        """Take one event (any arrival order; a repeat changes nothing) and return the alerts and
        retractions it causes, with every threshold due by `now` crossed."""
        if not self.absorb(ev):
            return []
        return self.settle(now, detected_at, ev.id)

    def absorb(self, ev: Ev) -> bool:
        """Fold one event into the history and state without crossing the thresholds due by
        now (False: a repeat, nothing changed). Several events then one `settle`: the alerts
        reflect all of them (a late ticket that arrives with its answer does not page)."""
        if ev.id in self.ids:
            return False
        self.ids.add(ev.id)
        history = self.history
        if not history or (ev.at, ev.id) > (history[-1].at, history[-1].id):  # Ev.key
            history.append(ev)
        else:
            bisect.insort(self.history, ev, key=lambda e: e.key)
        state = self.state
        if (ev.at, ev.id) > state.last and ev.at >= state.horizon:  # `accepts_in_order`
            state.apply(ev)
        else:
            self.state = fold(self.history, self.state.policy)
            self.settled = 0
        return True

    def settle(self, now: int, detected_at: int, cause: str | None) -> list[dict[str, Any]]:
        """Cross every threshold due by `now` and return what must be announced or retracted
        (`cause`: the id of the last event absorbed)."""
        self.state.fire(now)
        out, self.settled = reconcile(
            self.ticket_id, self.state, self.ledger, now, detected_at, cause, self.settled
        )
        return out

    def tick(self, now: int, detected_at: int) -> list[dict[str, Any]]:
        """Cross the thresholds due by `now` (a timer firing; no event arrived)."""
        due = self.state.next_due()
        if due is None or due > now:
            return []
        self.state.fire(now)
        out, self.settled = reconcile(
            self.ticket_id, self.state, self.ledger, now, detected_at, None, self.settled
        )
        return out

    def next_due(self) -> int | None:
        return self.state.next_due()

    def last_event_at(self) -> int | None:
        return self.history[-1].at if self.history else None

    def is_closed(self) -> bool:
        return self.state.attrs.get("status") == "closed"

    def to_bytes(self) -> bytes:
        """Compact, deterministic serialisation: history, ledger and a snapshot of the SLA
        state (`engine.snapshot`; without one, or under another policy, it is refolded)."""
        doc: dict[str, Any] = {
            "v": FORMAT,
            "t": self.ticket_id,
            "h": [to_row(e) for e in self.history],
            "l": self.ledger.to_rows(),
            "z": self.state.horizon,
        }
        snap = take(self.state, self.history)
        if snap is not None:
            doc["s"] = snap
        return orjson.dumps(doc)

    @classmethod
    def from_bytes(cls, raw: bytes, policy: RuntimePolicy) -> Ticket:
        """A ticket as `to_bytes` stored it (this format or the one before)."""
        d = orjson.loads(raw)
        if d.get("v") not in READABLE:
            raise ValueError(f"unknown ticket state format {d.get('v')!r}")
        history = [from_row(r) for r in d["h"]]
        state = restore(d["s"], history, policy) if "s" in d else None
        if state is None:  # format 1, or taken under another policy: refold
            state = fold(history, policy)
            state.fire(int(d["z"]))
        return cls(str(d["t"]), history, state, Ledger.from_rows(d["l"]), {e.id for e in history})
