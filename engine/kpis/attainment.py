"""KPI family *SLA attainment*: met and missed clock cycles, breaches, exemptions, appeals.

Read from the engine's own results, never refolded: the cycles the clock state machine
finished (`TicketEval.finished`, `engine.clocks.CycleEnd`) and the decisions it crossed, with
the ledger's exemptions and overturned appeals (`engine.alerts.suppressed`). So a cycle counts
as missed exactly when the engine announced its breach.

Facts (each counted in the window of the instant named):

- `sla.<clock>` — one per decided clock cycle: value 1 (met) when the clock stopped the cycle
  without a breach and with a target (at the stop; cycles with no target are not counted),
  value 0 (missed) when it breached (at the breach instant, even if still running). A running
  cycle that has not breached is undecided and absent; a stopped one that resumes (a reopen)
  is undecided again. A breached cycle whose breach was **exempted** or **overturned** on
  appeal leaves attainment (neither met nor due) and is counted as `sla.<clock>.exempted` /
  `sla.<clock>.overturned` at the breach instant instead.
- `breach.<clock>.<level>` — every standing breach (minor) and escalation (moderate, severe)
  at its threshold instant; exempted and overturned ones are left out (an appeal against an
  escalation withdraws that grade and those above it; the breach below stands, and so does
  the cycle's "missed").
- `exemptions`, `appeals_overturned` — each `exemption_granted` / overturning
  `appeal_decided` event that withdrew at least one breach or escalation, at its own instant.

Snapshot fields: `sla.<clock>.{due,met,attainment,exempted,overturned}` for each clock with
data in the cell, `sla.all.{due,met,attainment,exempted,overturned}` (always); `exemptions`,
`appeals_overturned`; `breaches.<clock>.<level>` (non-zero only) and
`breaches.{minor,moderate,severe}` (always).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.alerts import suppressed
from engine.kpis.cells import Cell, Metrics, ratio
from engine.kpis.facts import Dims, Fact, Story, fact

LEVELS = ("minor", "moderate", "severe")
_SLA_PARTS = ("due", "met", "exempted", "overturned", "attainment")


def facts(story: Story, add: Callable[[Fact], None]) -> None:
    """The ticket's attainment, breach, exemption and appeal facts (after the walk)."""
    ticket, timeline = story.ticket, story.timeline
    state = ticket.state
    withdrawn = suppressed(ticket.ticket_id, state, ticket.ledger)
    if withdrawn:
        effective: dict[str, str] = {}  # exemption / appeal event id -> reason
        for why_withdrawn, event_id in withdrawn.values():
            effective[event_id] = why_withdrawn
        instants = {ev.id: ev.at for ev in ticket.history if ev.id in effective}
        for event_id, why_withdrawn in sorted(effective.items()):
            at = instants.get(event_id)
            if at is not None:
                name = "exemptions" if why_withdrawn == "exempted" else "appeals_overturned"
                add(fact(name, at, timeline.at(at)))
    breached: dict[tuple[str, int], tuple[int, Dims, str | None]] = {}
    for d in state.decisions:
        if d.kind not in ("breach", "escalation"):
            continue
        base = timeline.at(d.due)
        agent, _sup, team, _dept = d.responsible
        dims = (team, agent, d.priority, base[3], base[4], base[5])
        why = withdrawn.get(d.key)
        if d.kind == "breach":
            breached[(d.clock, d.cycle)] = (d.due, dims, why[0] if why else None)
        if why is None:
            add(fact(f"breach.{d.clock}.{d.level}", d.due, dims))
    met = {(e.clock, e.cycle): e for e in state.finished if e.met}
    for run in state.runs:
        clock = run.rule.name
        for cycle in range(1, run.cycle + 1):
            hit = breached.get((clock, cycle))
            if hit is not None:
                due, dims, reason = hit
                if reason is None:
                    add(fact(f"sla.{clock}", due, dims, 0))
                elif reason == "exempted":
                    add(fact(f"sla.{clock}.exempted", due, dims))
                else:
                    add(fact(f"sla.{clock}.overturned", due, dims))
                continue
            end = met.get((clock, cycle))
            if end is not None:
                add(fact(f"sla.{clock}", end.at, timeline.after((end.at, end.event_id)), 1))


def counters(metric: str, value: int) -> tuple[tuple[str, int], ...] | None:
    """The counters an `sla.<clock>` fact adds to (None: not one)."""
    if not metric.startswith("sla.") or metric.count(".") != 1:
        return None
    return ((f"{metric}.due", 1), (f"{metric}.met", 1)) if value else ((f"{metric}.due", 1),)


class Fields:
    """The family's snapshot fields of one cell, for the policy's clocks."""

    def __init__(self, clocks: tuple[str, ...]) -> None:
        self.sla = [tuple(f"sla.{n}.{part}" for part in _SLA_PARTS) for n in clocks]
        self.breaches = [
            (f"breach.{n}.{level}", f"breaches.{n}.{level}", i)
            for n in clocks
            for i, level in enumerate(LEVELS)
        ]

    def put(self, m: Metrics, cell: Cell) -> None:
        c = cell.counts.get
        due = met = exempted = overturned = 0
        for due_n, met_n, exempted_n, overturned_n, attainment_n in self.sla:
            d, k, e, o = c(due_n, 0), c(met_n, 0), c(exempted_n, 0), c(overturned_n, 0)
            if d or e or o:
                m[due_n], m[met_n], m[attainment_n] = d, k, ratio(k, d)
                m[exempted_n], m[overturned_n] = e, o
                due, met, exempted, overturned = due + d, met + k, exempted + e, overturned + o
        m["sla.all.due"], m["sla.all.met"] = due, met
        m["sla.all.attainment"] = ratio(met, due)
        m["sla.all.exempted"], m["sla.all.overturned"] = exempted, overturned
        m["exemptions"], m["appeals_overturned"] = c("exemptions", 0), c("appeals_overturned", 0)
        grades = [0, 0, 0]
        for counter, published, level in self.breaches:
            n = c(counter, 0)
            if n:
                m[published] = n
                grades[level] += n
        m["breaches.minor"], m["breaches.moderate"], m["breaches.severe"] = grades
