"""The exemption and appeal trail of an alert's clock cycle for `explain`: request → decision
→ the retractions it caused, each request linked to the decision that answered it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.clock_intervals import EXEMPTION_EVENTS, Walk
from engine.evidence import TrailEntry
from engine.history import Ev

APPEAL_EVENTS = ("appeal_filed", "appeal_decided")


def trail_of(
    walk: Walk,
    emitted: Sequence[Mapping[str, Any]],
    clock: str,
    cycle: int,
    chain: set[str],
) -> list[TrailEntry]:
    """Exemption events of (clock, cycle) and appeals naming an alert of that cycle, in event
    order, each request linked to the decision that answered it."""
    cycle_ids = {
        a["alert_id"]
        for a in emitted
        if a["kind"] != "retraction" and a["clock"] == clock and a["cycle"] == cycle
    }
    caused: dict[str, list[Mapping[str, Any]]] = {}
    for a in emitted:
        if a["kind"] == "retraction" and a.get("reason") in ("exempted", "appeal_overturned"):
            for by in a["caused_by"]:
                caused.setdefault(by, []).append(a)
    picked: list[Ev] = []
    for ev in walk.events:
        d = ev.data
        if ev.type in EXEMPTION_EVENTS:
            if d.get("clock") == clock and walk.exemption_cycle.get(ev.id) == cycle:
                picked.append(ev)
        elif ev.type in APPEAL_EVENTS and d.get("alert_id") in cycle_ids:
            picked.append(ev)
    answers: dict[str, str] = {}
    answered_by: dict[str, str] = {}
    pending: list[Ev] = []
    for ev in picked:
        if ev.type in ("exemption_requested", "appeal_filed"):
            pending.append(ev)
            continue
        for req in pending:
            same = (ev.type in EXEMPTION_EVENTS and req.type == "exemption_requested") or (
                ev.type == "appeal_decided"
                and req.type == "appeal_filed"
                and req.data.get("alert_id") == ev.data.get("alert_id")
            )
            if same:
                answers[ev.id], answered_by[req.id] = req.id, ev.id
                pending.remove(req)
                break
    out = []
    for ev in picked:
        d = ev.data
        retractions = tuple(caused.get(ev.id, ()))
        is_exemption = ev.type in EXEMPTION_EVENTS
        out.append(
            TrailEntry(
                event_id=ev.id,
                type=ev.type,
                at=ev.at,
                clock=d.get("clock", clock) if is_exemption else clock,
                cycle=walk.exemption_cycle.get(ev.id) if is_exemption else cycle,
                alert_id=d.get("alert_id"),
                outcome=d.get("outcome"),
                reviewer=d.get("reviewer"),
                reason=d.get("reason"),
                answers=answers.get(ev.id),
                answered_by=answered_by.get(ev.id),
                retractions=retractions,
                concerns_alert=d.get("alert_id") in chain
                or any(r.get("retracts") in chain for r in retractions),
            )
        )
    return out
