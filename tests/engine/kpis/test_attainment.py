"""SLA attainment is what the engine decided (issue 13): the KPI reads the clock state
machine's finished cycles and decisions, so for any history, in any arrival order, a clock
cycle counts as missed exactly when the engine's alerts carry a standing breach for it, and as
met exactly when the engine stopped it with a target and did not breach it.

The figure that changed: the old second fold in `engine/kpis/facts.py` ignored source-system
attributes (`attributes.tier`), so a cycle whose target only an attribute selects (a VIP
ticket of an otherwise untracked priority) was never counted met; its breach was counted (the
breach came from the engine's decisions), so attainment of such tickets read low.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import compile_policy, parse
from engine.history import from_model
from engine.instant import to_us
from engine.kpis import contributions
from engine.processor import Processor
from engine.rules import RuntimePolicy
from schemas.parse import parse_event
from tests.config.test_policy_contract import FEATURES
from tests.engine.test_properties import BASE, KINDS, arrival, effective

from .support import POLICY, Tickets, cst, metrics, snapshots

REGIONAL = compile_policy(parse(FEATURES))  # targets chosen by `attributes.tier`, untracked C
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def ticket_events(draw: st.DrawFn, ticket_id: str, clocks: list[str]) -> list[dict[str, Any]]:
    """One ticket: `created` (sometimes VIP) then random follow-ups in time order: pauses,
    priority and tier changes (retargets), hand-offs, reopens, exemptions, closes."""
    t = BASE + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        eid = f"{ticket_id}-{len(out):02d}"
        out.append(
            {"event_id": eid, "ticket_id": ticket_id, "type": kind, "occurred_at": t.isoformat()}
            | fields
        )

    tier = draw(st.sampled_from([None, "vip", "vip", "standard"]))
    add(
        "created",
        priority=draw(st.sampled_from("ABC")),
        category=draw(st.sampled_from(["simple", "complex", "urgent", "complaint"])),
        channel="phone",
        team=draw(st.sampled_from(["team-1", "berlin-desk"])),
        agent="a-1",
        supervisor="s-1",
        department="after-sales",
        **({"attributes": {"tier": tier}} if tier else {}),
    )
    for i in range(draw(st.integers(0, 8))):
        gap = draw(st.one_of(st.integers(0, 10), st.integers(0, 8 * 60), st.integers(0, 4320)))
        t = t + timedelta(minutes=gap)
        kind = draw(st.sampled_from([*KINDS, "tier"] if i else ["responded", *KINDS]))
        if kind == "pending":
            add("status_changed", status="pending_customer")
        elif kind == "in_progress":
            add("status_changed", status="in_progress")
        elif kind == "priority_changed":
            add(kind, priority=draw(st.sampled_from("ABC")))
        elif kind == "tier":
            add("updated", attributes={"tier": draw(st.sampled_from(["vip", "standard"]))})
        elif kind == "assigned":
            add(kind, agent=draw(st.sampled_from(["a-2", "a-3"])), team="team-2")
        elif kind == "exemption_granted":
            add(
                kind, clock=draw(st.sampled_from(clocks)), cycle=draw(st.integers(1, 2)), reason="x"
            )
        else:
            add(kind)
    return out


@st.composite
def histories(draw: st.DrawFn) -> tuple[RuntimePolicy, list[dict[str, Any]], int]:
    """A policy, the events of 1-3 tickets in a random arrival order, and the final clock."""
    policy = draw(st.sampled_from([POLICY, REGIONAL]))
    clocks = list(policy.clock_names())
    n = draw(st.integers(1, 3))
    events = [e for i in range(n) for e in draw(ticket_events(f"T{i}", clocks))]
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    until = to_us(last + timedelta(hours=draw(st.integers(0, 10 * 24))))
    return policy, draw(arrival(events)), until


def due_of(a: dict[str, Any]) -> int:
    return to_us(datetime.fromisoformat(a["due_at"]))


@SETTINGS
@given(histories())
def test_attainment_is_what_the_alerts_say(case: tuple[RuntimePolicy, list[Any], int]) -> None:
    policy, events, until = case
    proc = Processor(policy)
    alerts: list[dict[str, Any]] = []
    for e in events:
        alerts.extend(proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e)))))
    alerts.extend(proc.advance(until))
    standing = [a for a in effective(alerts).values() if a["kind"] == "breach"]
    for tid, ticket in proc.tickets.items():
        missed: Counter[tuple[str, int]] = Counter()
        met: Counter[tuple[str, int]] = Counter()
        for f in contributions(ticket):
            if f.metric.startswith("sla.") and f.metric.count(".") == 1:
                (met if f.value else missed)[(f.metric[4:], f.at)] += 1
        mine = [a for a in standing if a["ticket_id"] == tid]
        # A standing breach alert for a cycle <=> that cycle counted missed, at its instant.
        assert missed == Counter((a["clock"], due_of(a)) for a in mine)
        # Met: every cycle the clock state machine stopped with a target and did not breach,
        # at its stop; none of them has a standing breach alert.
        breached = {(d.clock, d.cycle) for d in ticket.state.decisions if d.kind == "breach"}
        ends = [e for e in ticket.state.finished if e.target_us is not None]
        assert all(e.met == ((e.clock, e.cycle) not in breached) for e in ends)
        assert met == Counter((e.clock, e.at) for e in ends if e.met)
        alerted = {(a["clock"], a["cycle"]) for a in mine}
        assert not [e for e in ends if e.met and (e.clock, e.cycle) in alerted]


def vip_tickets() -> Tickets:
    """Monday 2026-11-23 on the regional policy: priority C is untracked for first response,
    except for VIP tickets (`attributes.tier: vip`, 30 min warning, 1 h breach, cn hours)."""
    t = Tickets()
    t.created("V1", cst(11, 23, 10), team="cn", attributes={"tier": "vip"})
    t.add("V1", "responded", cst(11, 23, 10, 20))  # 20 min: met
    t.created("V2", cst(11, 23, 10), team="cn", attributes={"tier": "vip"})
    t.add("V2", "responded", cst(11, 23, 11, 30))  # 90 min: breach at 11:00
    t.created("S1", cst(11, 23, 10), team="cn")  # standard C: untracked
    t.add("S1", "responded", cst(11, 23, 10, 5))
    return t


def test_a_vip_ticket_met_by_its_attribute_target_counts() -> None:
    # V1 met (20 min of 1 h), V2 missed (breach 11:00), S1 not tracked. The old fold saw V1 as
    # untracked (it ignored `attributes.tier`) and published due 1, met 0, attainment 0.0.
    snaps = snapshots(vip_tickets().events, cst(11, 24), REGIONAL)
    day = metrics(snaps, "day", "2026-11-23")
    assert (day["sla.first_response.due"], day["sla.first_response.met"]) == (2, 1)
    assert day["sla.first_response.attainment"] == 0.5
    assert metrics(snaps, "hour", "2026-11-23T10")["sla.first_response.met"] == 1  # at 10:20
    assert metrics(snaps, "hour", "2026-11-23T11")["sla.first_response.due"] == 1  # the breach


def test_a_reopen_takes_the_cycle_back_out_of_the_finished_ones() -> None:
    t = Tickets()
    t.created("R1", cst(11, 24, 10), category="simple")
    t.add("R1", "responded", cst(11, 24, 10, 1))
    t.add("R1", "resolved", cst(11, 24, 11))
    proc = Processor(POLICY)
    for e in t.events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
    state = proc.tickets["R1"].state
    assert {(e.clock, e.cycle, e.met) for e in state.finished} >= {
        ("first_response", 1, True),
        ("resolution", 1, True),
    }
    resolution = next(e for e in state.finished if e.clock == "resolution")
    assert resolution.at == to_us(cst(11, 24, 11)) and resolution.elapsed_us == 3600 * 10**6
    t.add("R1", "reopened", cst(11, 24, 12))
    reopened = t.events[-1]
    proc.ingest("R1", from_model(parse_event(orjson.dumps(reopened))))
    state = proc.tickets["R1"].state
    assert "resolution" not in {e.clock for e in state.finished}  # undecided again
    assert not [f for f in contributions(proc.tickets["R1"]) if f.metric == "sla.resolution"]
