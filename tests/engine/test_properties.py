"""Order independence, idempotence and determinism of the stream-time engine (hypothesis).

A few tickets with random event sequences (pauses, priority changes, reopens, exemptions, ...)
go through the replay pipeline in file order and in random arrival orders with repeats. The
effective alert set (alerts minus the retracted ones) must be the same every time, and equal to
the decisions `engine.evaluate.evaluate` finds on each ticket's full history.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load
from engine.evaluate import evaluate
from engine.history import Ev, from_model
from engine.instant import to_us
from engine.replay import replay
from engine.ticket import Ticket
from schemas.outputs import Alert
from schemas.parse import parse_event

POLICY = load()
CST = timezone(timedelta(hours=8))
BASE = datetime(2026, 11, 23, 8, 0, tzinfo=CST)  # Monday
CLOCKS = [c.name for c in POLICY.clocks]

SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Follow-up event kinds and their extra fields (some drawn per event).
KINDS = [
    "responded",
    "assigned",
    "onsite_requested",
    "onsite_arrived",
    "updated",
    "pending",
    "in_progress",
    "priority_changed",
    "resolved",
    "reopened",
    "survey_sent",
    "closed",
    "exemption_granted",
]


@st.composite
def ticket_events(draw: st.DrawFn, ticket_id: str) -> list[dict[str, Any]]:
    """One ticket: `created` then a random valid sequence of follow-ups, in time order.
    Gaps are whole minutes (0 allowed: ties are broken by event id) up to a few days."""
    t = BASE + timedelta(minutes=draw(st.integers(0, 3 * 24 * 60)))
    out: list[dict[str, Any]] = []

    def add(kind: str, **fields: Any) -> None:
        out.append(
            {
                "event_id": f"{ticket_id}-{len(out):02d}",
                "ticket_id": ticket_id,
                "type": kind,
                "occurred_at": t.isoformat(),
                **fields,
            }
        )

    add(
        "created",
        priority=draw(st.sampled_from("ABC")),
        category=draw(st.sampled_from(["simple", "complex", "urgent", "complaint"])),
        channel="phone",
        team="team-1",
        agent="a-1",
        supervisor="s-1",
        department="after-sales",
        customer={"id": "c-1", "name": "Zhang Wei", "phone": "+86 138 0013 8000"},
    )
    for _ in range(draw(st.integers(0, 8))):
        gap = draw(
            st.one_of(
                st.integers(0, 10),  # minutes: around the first-response thresholds
                st.integers(0, 8 * 60),  # hours: business-hour thresholds
                st.integers(0, 3 * 24 * 60),  # days: across nights and the weekend
            )
        )
        t = t + timedelta(minutes=gap)
        kind = draw(st.sampled_from(KINDS))
        if kind == "pending":
            add("status_changed", status="pending_customer")
        elif kind == "in_progress":
            add("status_changed", status="in_progress")
        elif kind == "priority_changed":
            add(kind, priority=draw(st.sampled_from("ABC")))
        elif kind == "assigned":
            add(kind, agent=draw(st.sampled_from(["a-2", "a-3"])), team="team-2")
        elif kind == "exemption_granted":
            add(
                kind,
                clock=draw(st.sampled_from(CLOCKS)),
                cycle=draw(st.integers(1, 2)),
                reason="system fault",
            )
        else:
            add(kind)
    return out


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[dict[str, Any]], int]:
    """Events of 1-3 tickets merged in time order (the file order), and the `until` instant."""
    n = draw(st.integers(1, 3))
    events = [e for i in range(n) for e in draw(ticket_events(f"T{i}"))]
    events.sort(key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["event_id"]))
    last = max(datetime.fromisoformat(e["occurred_at"]) for e in events)
    until = last + timedelta(hours=draw(st.integers(0, 14 * 24)))
    return events, to_us(until)


@st.composite
def arrival(draw: st.DrawFn, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A random arrival order (late and out-of-order events) with repeats after the originals."""
    order: list[dict[str, Any]] = list(draw(st.permutations(events)))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(order) - 1))
        j = draw(st.integers(i + 1, len(order)))
        order.insert(j, dict(order[i]))
    return order


def ev_of(e: dict[str, Any]) -> Ev:
    return from_model(parse_event(orjson.dumps(e)))


def run(events: list[dict[str, Any]], until: int) -> list[dict[str, Any]]:
    return replay(((e["ticket_id"], ev_of(e)) for e in events), POLICY, until)[1]


def as_bytes(alerts: list[dict[str, Any]]) -> bytes:
    return b"".join(orjson.dumps(a) + b"\n" for a in alerts)


Key = tuple[str, str, int, str, str | None, int]


def key_of(a: dict[str, Any]) -> Key:
    due = to_us(datetime.fromisoformat(a["due_at"]))
    return (a["ticket_id"], a["clock"], a["cycle"], a["kind"], a["level"], due)


def effective(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """alert_id -> alert for the alerts no later retraction withdraws. Checks the stream's
    bookkeeping on the way: ids are never emitted twice and only live alerts are retracted."""
    live: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for a in alerts:
        assert a["alert_id"] not in seen, f"id emitted twice: {a}"
        seen.add(a["alert_id"])
        if a["kind"] == "retraction":
            assert a["retracts"] in live, f"retraction of an alert that is not live: {a}"
            del live[a["retracts"]]
        else:
            live[a["alert_id"]] = a
    return live


def decision_set(alerts: list[dict[str, Any]]) -> set[Key]:
    live = effective(alerts)
    keys = [key_of(a) for a in live.values()]
    assert len(keys) == len(set(keys)), "two live ids for one decision"
    return set(keys)


def content(alerts: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    """What a consumer acts on, besides the decision key: priority, holder, notify."""
    return {
        (*key_of(a), a["priority"], orjson.dumps(a["responsible"]), tuple(a["notify"]))
        for a in effective(alerts).values()
    }


def expected(
    events: list[dict[str, Any]], until: int, overturned: tuple[str, str, int] | None = None
) -> set[Key]:
    """evaluate() on each ticket's full history at `until`, minus the breaches and escalations
    of the cycles an exemption names (the issue: those are retracted, none fire), and of the
    (ticket, clock, cycle) whose breach an appeal overturned."""
    out: set[Key] = set()
    for tid in sorted({e["ticket_id"] for e in events}):
        mine = [e for e in events if e["ticket_id"] == tid]
        withdrawn = {(e["clock"], e["cycle"]) for e in mine if e["type"] == "exemption_granted"}
        if overturned is not None and overturned[0] == tid:
            withdrawn.add(overturned[1:])
        _, decisions = evaluate([ev_of(e) for e in mine], POLICY, until)
        for d in decisions:
            if d.kind in ("breach", "escalation") and (d.clock, d.cycle) in withdrawn:
                continue
            out.add((tid, d.clock, d.cycle, d.kind, d.level, d.due))
    return out


@SETTINGS
@given(data=st.data(), workload=workloads())
def test_any_arrival_order_gives_the_same_effective_alerts(
    data: st.DataObject, workload: tuple[list[dict[str, Any]], int]
) -> None:
    events, until = workload
    in_file_order = run(events, until)
    shuffled = run(data.draw(arrival(events)), until)
    want = expected(events, until)
    assert decision_set(in_file_order) == want
    assert decision_set(shuffled) == want
    assert content(shuffled) == content(in_file_order)
    for a in shuffled:
        Alert.model_validate(a)


@SETTINGS
@given(data=st.data(), workload=workloads())
def test_overturned_appeal_in_any_arrival_order(
    data: st.DataObject, workload: tuple[list[dict[str, Any]], int]
) -> None:
    events, until = workload
    breaches = [a for a in effective(run(events, until)).values() if a["kind"] == "breach"]
    if not breaches:
        return
    target = data.draw(st.sampled_from(sorted(breaches, key=lambda a: a["alert_id"])))
    decided = datetime.fromisoformat(target["due_at"]) + timedelta(
        minutes=data.draw(st.integers(0, 3 * 24 * 60))
    )
    appeal = {
        "event_id": "appeal-1",
        "ticket_id": target["ticket_id"],
        "type": "appeal_decided",
        "occurred_at": decided.isoformat(),
        "alert_id": target["alert_id"],
        "outcome": "overturned",
        "reason": "independent review",
    }
    with_appeal = [*events, appeal]
    until = max(until, to_us(decided))
    want = expected(with_appeal, until, (target["ticket_id"], target["clock"], target["cycle"]))
    assert decision_set(run(with_appeal, until)) == want
    assert decision_set(run(data.draw(arrival(with_appeal)), until)) == want


@SETTINGS
@given(data=st.data(), workload=workloads())
def test_repeats_change_nothing_and_runs_are_byte_identical(
    data: st.DataObject, workload: tuple[list[dict[str, Any]], int]
) -> None:
    events, until = workload
    order = list(data.draw(st.permutations(events)))
    once = as_bytes(run(order, until))
    assert as_bytes(run(order, until)) == once  # two runs, same bytes
    with_repeats = list(order)
    for _ in range(data.draw(st.integers(1, 5))):
        i = data.draw(st.integers(0, len(with_repeats) - 1))
        j = data.draw(st.integers(i + 1, len(with_repeats)))
        with_repeats.insert(j, dict(with_repeats[i]))
    assert as_bytes(run(with_repeats, until)) == once


@st.composite
def ticket_ops(draw: st.DrawFn) -> tuple[list[tuple[str, Any]], int]:
    """One ticket's events in a random arrival order, interleaved with timer ticks (the stream
    clock moving because of other tickets); and a split point for a save/restore."""
    events = draw(ticket_events("T0"))
    order = list(draw(st.permutations(events)))
    last = max(to_us(datetime.fromisoformat(e["occurred_at"])) for e in events)
    first = min(to_us(datetime.fromisoformat(e["occurred_at"])) for e in events)
    ops: list[tuple[str, Any]] = [("event", e) for e in order]
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(first, last + 3 * 86_400 * 1_000_000))
        ops.insert(draw(st.integers(0, len(ops))), ("tick", at))
    ops.append(("tick", last + 10 * 86_400 * 1_000_000))
    return ops, draw(st.integers(0, len(ops) - 1))


def drive(ops: list[tuple[str, Any]], split: int | None) -> tuple[list[Any], list[bytes]]:
    """Apply ops to one Ticket with the stream clock (max instant seen); with `split`, save and
    restore it before op `split`. Returns per-op (alerts, next_due) and the state bytes."""
    ticket = Ticket.new("T0", POLICY)
    now = -(2**62)
    trace: list[Any] = []
    states: list[bytes] = []
    for i, (kind, arg) in enumerate(ops):
        if i == split:
            raw = ticket.to_bytes()
            restored = Ticket.from_bytes(raw, POLICY)
            assert restored.next_due() == ticket.next_due()
            assert restored.to_bytes() == raw
            ticket = restored
        if kind == "event":
            ev = ev_of(arg)
            now = max(now, ev.at)
            out = ticket.step(ev, now, now)
        else:
            now = max(now, arg)
            out = ticket.tick(now, now)
        trace.append((out, ticket.next_due()))
        states.append(ticket.to_bytes())
    return trace, states


@SETTINGS
@given(ops_split=ticket_ops())
def test_save_and_restore_changes_nothing(ops_split: tuple[list[tuple[str, Any]], int]) -> None:
    ops, split = ops_split
    plain, plain_states = drive(ops, None)
    restored, restored_states = drive(ops, split)
    assert restored == plain
    assert restored_states == plain_states


@SETTINGS
@given(workload=workloads())
def test_replay_emits_no_personal_data(workload: tuple[list[dict[str, Any]], int]) -> None:
    events, until = workload
    raw = as_bytes(run(events, until))
    assert b"Zhang Wei" not in raw
    assert b"138 0013" not in raw
