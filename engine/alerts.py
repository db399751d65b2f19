"""From decisions to alerts: deterministic ids, the effective set, and retractions.

The ledger remembers every decision ever announced for a ticket and under which ids, so that
re-evaluation emits only what changed: new decisions as alerts, withdrawn ones as retractions.
An id is never emitted twice and never reused: a decision that becomes true again after a
retraction gets a new id derived from its previous one.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from engine.clocks import Decision, Share
from engine.evaluate import TicketEval
from engine.instant import iso, seconds

DecisionKey = tuple[str, int, str, str | None, int]  # clock, cycle, kind, level, due


# The instant an alert was detected is the stream clock: every alert of a timer sweep or of
# one event has the same, so its ISO text is made once (2 ISO formats were ~9 % of replay).
_detected = lru_cache(maxsize=256)(iso)


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def base_id(ticket_id: str, key: DecisionKey) -> str:
    """The id a decision is first announced under."""
    clock, cycle, kind, level, due = key
    return _h(f"{ticket_id}|{clock}|{cycle}|{kind}|{level or '-'}|{due}")


def reissued_id(previous: str, generation: int) -> str:
    """The id of a decision announced again after a retraction."""
    return _h(f"{previous}|reissue|{generation}")


def retraction_id(alert_id: str) -> str:
    return _h(f"{alert_id}|retraction")


@dataclass(slots=True, init=False)
class Entry:
    """A decision's announcements: its ids in order, whether the last one still stands, and a
    fingerprint of what it said besides the key (priority and holder at the threshold): a late
    event that changes them means a retraction and a re-issue, so the final alerts do not
    depend on arrival order. One per alert: `__init__` is written out for mypyc to compile
    (the one `dataclass` generates runs interpreted)."""

    ids: list[str]
    active: bool
    target_us: int
    elapsed_us: int
    said: int | None  # None: not recorded (a ledger stored before this field)

    def __init__(
        self, ids: list[str], active: bool, target_us: int, elapsed_us: int, said: int | None
    ) -> None:
        self.ids, self.active, self.said = ids, active, said
        self.target_us, self.elapsed_us = target_us, elapsed_us


@dataclass(slots=True, init=False)
class Ledger:
    entries: dict[DecisionKey, Entry]

    def __init__(self, entries: dict[DecisionKey, Entry] | None = None) -> None:
        self.entries = {} if entries is None else entries

    def to_rows(self) -> list[list[Any]]:
        return [
            [*k, e.ids, e.active, e.target_us, e.elapsed_us, e.said]
            for k, e in self.entries.items()
        ]

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Any]]) -> Ledger:
        entries = {}
        for r in rows:
            key = (str(r[0]), int(r[1]), str(r[2]), r[3], int(r[4]))
            said = int(r[9]) if len(r) > 9 and r[9] is not None else None
            entries[key] = Entry(list(r[5]), bool(r[6]), int(r[7]), int(r[8]), said)
        return cls(entries)


_GRADES = ("minor", "moderate", "severe")


def _grade(level: str | None) -> int:
    return _GRADES.index(level) if level in _GRADES else 0


def suppressed(
    ticket_id: str, state: TicketEval, ledger: Ledger
) -> dict[DecisionKey, tuple[str, str]]:
    """Decisions withdrawn by an exemption or an overturned appeal: key → (reason, event id)."""
    out: dict[DecisionKey, tuple[str, str]] = {}
    if not state.exempt and not state.overturned:
        return out
    # (clock, cycle) -> (lowest overturned grade, appeal event id): the alert an appeal names
    # and every grade above it in that cycle are withdrawn; grades below it stand.
    overturned_from: dict[tuple[str, int], tuple[int, str]] = {}
    if state.overturned:
        for d in state.decisions:
            if d.kind not in ("breach", "escalation"):
                continue
            ids = {base_id(ticket_id, d.key)}
            entry = ledger.entries.get(d.key)
            if entry is not None:
                ids.update(entry.ids)
            for alert_id, event_id in state.overturned.items():
                if alert_id in ids:
                    cyc, grade = (d.clock, d.cycle), _grade(d.level)
                    if cyc not in overturned_from or grade < overturned_from[cyc][0]:
                        overturned_from[cyc] = (grade, event_id)
    for d in state.decisions:
        if d.kind in ("breach", "escalation"):
            cyc = (d.clock, d.cycle)
            if cyc in state.exempt:
                out[d.key] = ("exempted", state.exempt[cyc])
            elif cyc in overturned_from and _grade(d.level) >= overturned_from[cyc][0]:
                out[d.key] = ("appeal_overturned", overturned_from[cyc][1])
    return out


def reconcile(
    ticket_id: str,
    state: TicketEval,
    ledger: Ledger,
    now: int,
    detected_at: int,
    cause: str | None = None,
    settled: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Alerts and retractions that bring what was announced in line with the decisions due by
    `now`. Mutates `ledger`. Output order: retractions, then new alerts, each by (due, clock, kind).

    `settled` says how many leading `state.decisions` are known to be announced and standing
    (nothing was refolded or withdrawn since); only the rest are looked at then. Returns the
    alerts and the new settled count (0 when a full comparison will be needed next time)."""
    decisions = state.decisions
    if not decisions and not ledger.entries:
        return [], 0
    if settled and not state.exempt and not state.overturned:
        count = len(decisions)
        if settled == count:
            return [], settled
        if settled == count - 1:  # one new decision: a timer firing, most often
            d = decisions[-1]
            if d.due <= now:
                alert = _announce(ticket_id, d, ledger, state, detected_at)
                return ([alert] if alert is not None else []), count
            return _full(ticket_id, state, ledger, now, detected_at, cause)
        fresh = decisions[settled:]
        if all(d.due <= now for d in fresh):
            out = []
            for d in sorted(fresh, key=lambda d: _key_order(d.key)):
                alert = _announce(ticket_id, d, ledger, state, detected_at)
                if alert is not None:
                    out.append(alert)
            return out, len(decisions)
    elif not ledger.entries and len(decisions) == 1 and not state.exempt and not state.overturned:
        d = decisions[0]  # a ticket's first decision: nothing announced to compare it with
        if d.due <= now:
            alert = _announce(ticket_id, d, ledger, state, detected_at)
            return ([alert] if alert is not None else []), 1
    return _full(ticket_id, state, ledger, now, detected_at, cause)


def _announce(
    ticket_id: str, d: Decision, ledger: Ledger, state: TicketEval, detected_at: int
) -> dict[str, Any] | None:
    key = d.key
    entry = ledger.entries.get(key)
    if entry is None:
        alert_id = base_id(ticket_id, key)
        ledger.entries[key] = Entry([alert_id], True, d.target_us, d.elapsed_us, _said(d))
    elif entry.active:
        return None
    else:
        alert_id = reissued_id(entry.ids[-1], len(entry.ids))
        entry.ids.append(alert_id)
        entry.active = True
        entry.target_us, entry.elapsed_us, entry.said = d.target_us, d.elapsed_us, _said(d)
    return _alert(ticket_id, alert_id, d, state, detected_at)


def _said(d: Decision) -> int:
    """Fingerprint of the priority, holder and (when the ticket changed hands during the cycle)
    time attribution an alert for `d` names (deterministic). A single holder's attribution is
    implied by the holder and the elapsed time, so it leaves the fingerprint as it was before
    attribution existed: ledgers stored then still compare equal."""
    if len(d.attribution) > 1:
        return zlib.crc32(repr((d.priority, d.responsible, d.attribution)).encode())
    said = (d.priority, d.responsible)
    crc = _SAID.get(said)
    if crc is None:
        if len(_SAID) >= 4_096:
            _SAID.clear()
        crc = _SAID[said] = zlib.crc32(repr(said).encode())
    return crc


# `_said` of a single holder, by (priority, holder): a few hundred pairs make most alerts.
_SAID: dict[tuple[str | None, tuple[str | None, ...]], int] = {}


def _restated(entry: Entry, d: Decision) -> bool:
    """True when the standing announcement named another priority or holder than `d` does."""
    return entry.said is not None and entry.said != _said(d)


def _full(
    ticket_id: str, state: TicketEval, ledger: Ledger, now: int, detected_at: int, cause: str | None
) -> tuple[list[dict[str, Any]], int]:
    withdrawn = suppressed(ticket_id, state, ledger)
    due = {d.key: d for d in state.decisions if d.due <= now and d.key not in withdrawn}
    out: list[dict[str, Any]] = []
    for key, entry in sorted(ledger.entries.items(), key=_order):
        if entry.active and (key not in due or _restated(entry, due[key])):
            entry.active = False
            reason, by = withdrawn.get(key, ("late_event", cause or ""))
            out.append(_retraction(ticket_id, key, entry, state, reason, by, detected_at))
    for key in sorted(due, key=_key_order):
        alert = _announce(ticket_id, due[key], ledger, state, detected_at)
        if alert is not None:
            out.append(alert)
    settled = len(state.decisions)
    if withdrawn or len(due) != settled:
        settled = 0
    return out, settled


def _key_order(key: DecisionKey) -> tuple[int, str, int, str, str]:
    clock, cycle, kind, level, due = key
    return (due, clock, cycle, kind, level or "")


def _order(item: tuple[DecisionKey, Entry]) -> tuple[int, str, int, str, str]:
    return _key_order(item[0])


def _responsible(r: tuple[str | None, ...]) -> dict[str, str | None]:
    return {"agent": r[0], "supervisor": r[1], "team": r[2], "department": r[3]}


def attribution(shares: tuple[Share, ...]) -> list[dict[str, str | float | None]]:
    """The `attribution` field: clock seconds per holder (see `Decision.attribution`)."""
    return [
        {
            "agent": h[0],
            "supervisor": h[1],
            "team": h[2],
            "department": h[3],
            "seconds": seconds(us),
        }
        for h, us in shares
    ]


def _alert(
    ticket_id: str, alert_id: str, d: Decision, state: TicketEval, detected_at: int
) -> dict[str, Any]:
    policy = state.policy
    if policy.later:
        policy = policy.by_version(d.policy_version)
    return {
        "alert_id": alert_id,
        "ticket_id": ticket_id,
        "clock": d.clock,
        "cycle": d.cycle,
        "kind": d.kind,
        "level": d.level,
        "priority": d.priority,
        "category": state.attrs.get("category"),
        "channel": state.attrs.get("channel"),
        "due_at": iso(d.due),
        "target_seconds": seconds(d.target_us),
        "elapsed_seconds": seconds(d.elapsed_us),
        "calendar": d.calendar or policy.clock(d.clock).calendar.name,
        "responsible": _responsible(d.responsible),
        "attribution": attribution(d.attribution),
        "notify": list(policy.notify.get(d.level or "warning", ())),
        "policy_version": policy.version,
        "caused_by": list(d.caused_by),
        "detected_at": _detected(detected_at),
    }


def _retraction(
    ticket_id: str,
    key: DecisionKey,
    entry: Entry,
    state: TicketEval,
    reason: str,
    caused_by: str,
    detected_at: int,
) -> dict[str, Any]:
    clock, cycle, kind, level, due = key
    policy = state.policy
    run = next((r for r in state.runs if r.rule.name == clock), None)
    calendar = run.cal.name if run is not None else policy.clock(clock).calendar.name
    if policy.later and run is not None:
        policy = policy.by_version(run.rule.version)
    a = state.attrs
    return {
        "alert_id": retraction_id(entry.ids[-1]),
        "ticket_id": ticket_id,
        "clock": clock,
        "cycle": cycle,
        "kind": "retraction",
        "level": level,
        "priority": a.get("priority"),
        "category": a.get("category"),
        "channel": a.get("channel"),
        "due_at": iso(due),
        "target_seconds": seconds(entry.target_us),
        "elapsed_seconds": seconds(entry.elapsed_us),
        "calendar": calendar,
        "responsible": _responsible(
            (a.get("agent"), a.get("supervisor"), a.get("team"), a.get("department"))
        ),
        "notify": list(policy.notify.get(level or "warning", ())),
        "policy_version": policy.version,
        "caused_by": [caused_by] if caused_by else [],
        "detected_at": _detected(detected_at),
        "retracts": entry.ids[-1],
        "retracted_kind": kind,
        "reason": reason,
    }
