"""Policy versions with `effective_from`: a cycle keeps the version it started under, new cycles
take the version in force; alerts carry the version that made them; a restart with a new
version appended never retracts or re-emits what was decided before it took effect."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from config.loader import DEFAULT_POLICY, compile_policy, load, parse
from engine.evaluate import evaluate
from engine.explain import explain
from engine.history import Ev, from_model
from engine.processor import Processor
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from schemas.parse import parse_event
from tests.config.test_policy_contract import VERSIONED, to_us_iso
from tests.engine import test_properties as properties
from tests.worked_week import WEEK

V1 = load()
VERSIONS = compile_policy(parse(VERSIONED))
V2 = VERSIONS.later[0][1]
EFFECTIVE = VERSIONS.later[0][0]  # 2026-11-26T00:00:00+08:00
FAR = to_us_iso("2026-12-31T00:00:00+08:00")
SECOND = 1_000_000


def created(eid: str, at: str, priority: str = "A", ticket: str = "T-1") -> Ev:
    raw = (
        f'{{"event_id":"{eid}","ticket_id":"{ticket}","type":"created","occurred_at":"{at}",'
        f'"priority":"{priority}","category":"simple"}}'
    )
    return from_model(parse_event(raw))


def test_a_cycle_started_before_keeps_its_version() -> None:
    # Created 30 s before the new version: v1's 60 s warning (at 00:00:30, after the change)
    # and v1's hash, though v2 says 30 s.
    at = EFFECTIVE - 30 * SECOND
    _, decisions = evaluate([created("e1", "2026-11-25T23:59:30+08:00")], VERSIONS, FAR)
    fr = [d for d in decisions if d.clock == "first_response"]
    assert (fr[0].kind, fr[0].due - at, fr[0].policy_version) == (
        "warning",
        60 * SECOND,
        V1.version,
    )
    # the resolution clock, which v2 dropped, keeps running under v1
    assert any(d.clock == "resolution" for d in decisions)


def test_a_cycle_started_after_takes_the_new_version() -> None:
    at = EFFECTIVE + 10 * SECOND
    _, decisions = evaluate([created("e1", "2026-11-26T00:00:10+08:00")], VERSIONS, FAR)
    assert [(d.clock, d.kind, d.due - at, d.policy_version) for d in decisions[:2]] == [
        ("first_response", "warning", 30 * SECOND, V2.version),
        ("first_response", "breach", 60 * SECOND, V2.version),
    ]
    assert all(d.clock == "first_response" for d in decisions)  # v2 has no other clock


def week() -> list[tuple[str, Ev]]:
    out = []
    for line in WEEK.read_bytes().splitlines():
        if line.strip():
            ev = parse_event(line)
            out.append((ev.ticket_id, from_model(ev)))
    return out


def replay(events: list[tuple[str, Ev]], policy: RuntimePolicy) -> list[dict[str, Any]]:
    proc = Processor(policy)
    out = [a for tid, ev in events for a in proc.ingest(tid, ev)]
    return out + proc.advance(FAR)


def test_alerts_before_the_change_are_those_of_the_old_policy() -> None:
    events = week()
    old = [a for a in replay(events, V1) if a["due_at"] < "2026-11-25T16:00:00"]
    new = [a for a in replay(events, VERSIONS) if a["due_at"] < "2026-11-25T16:00:00"]
    assert old and old == new  # same ids, same bytes, the same policy_version
    later = [a for a in replay(events, VERSIONS) if a["policy_version"] == V2.version]
    assert later  # the new version did decide something after it took effect


def restart(
    events: list[tuple[str, Ev]], cut: int, before: RuntimePolicy, after: RuntimePolicy
) -> list[dict[str, Any]]:
    """A worker on `before` for events[:cut], its tickets stored, restarted on `after`."""
    proc = Processor(before)
    out = [a for tid, ev in events[:cut] for a in proc.ingest(tid, ev)]
    stored = {tid: t.to_bytes() for tid, t in proc.tickets.items()}
    again = Processor(after, clock=proc.clock)
    for tid, raw in stored.items():
        ticket = again.tickets[tid] = Ticket.from_bytes(raw, after)
        due = ticket.next_due()
        if due is not None:
            again.timers.push(due, tid)
    out += [a for tid, ev in events[cut:] for a in again.ingest(tid, ev)]
    return out + again.advance(FAR)


def test_restart_with_a_new_version_retracts_nothing() -> None:
    events = week()
    # stream time at the cut is well before the new version's effective_from
    cut = next(i for i, (_, ev) in enumerate(events) if ev.at >= EFFECTIVE - 86_400 * SECOND)
    live = restart(events, cut, V1, VERSIONS)
    replayed = replay(events, VERSIONS)
    assert not [a for a in live if a["kind"] == "retraction"]
    assert {a["alert_id"] for a in live} == {a["alert_id"] for a in replayed}
    by_id = {a["alert_id"]: a for a in replayed}
    for a in live:  # identical content but detected_at (when the worker noticed)
        assert {**a, "detected_at": ""} == {**by_id[a["alert_id"]], "detected_at": ""}


def test_restart_with_an_edited_policy_rewrites_history() -> None:
    # The same change without `versions` (applied as if it had always held) retracts
    # decisions already announced: what the versions are for.
    text = DEFAULT_POLICY.read_text(encoding="utf-8").replace(
        "{when: {priority: A}, target: 60s, limit: 120s}",
        "{when: {priority: A}, target: 30s, limit: 60s}",
    )
    edited = compile_policy(parse(text))
    events = week()
    cut = next(i for i, (_, ev) in enumerate(events) if ev.at >= EFFECTIVE - 86_400 * SECOND)
    live = restart(events, cut, V1, edited)
    assert [a for a in live if a["kind"] == "retraction"]


def test_explain_names_the_version_in_force() -> None:
    proc = Processor(VERSIONS)
    out: list[dict[str, Any]] = []
    for ev in (
        created("e1", "2026-11-25T23:59:30+08:00", ticket="T-1"),
        created("e2", "2026-11-26T00:00:10+08:00", ticket="T-2"),
    ):
        out += proc.ingest("T-1" if ev.id == "e1" else "T-2", ev)
    out += proc.advance(FAR)
    for ticket, version, target in (("T-1", V1.version, 60.0), ("T-2", V2.version, 30.0)):
        mine = [a for a in out if a["ticket_id"] == ticket]
        warning = next(a for a in mine if a["clock"] == "first_response" and a["kind"] == "warning")
        assert warning["policy_version"] == version
        assert warning["target_seconds"] == target
        rule = explain(proc.tickets[ticket], mine, warning["alert_id"], proc.clock).to_dict()[
            "rule"
        ]
        assert rule["policy_version"] == version
        assert rule["rule"] == "clocks.first_response.targets[0]"
        assert rule["target_seconds"] == target


def run_under(policy: RuntimePolicy, events: list[dict[str, Any]], until: int) -> list[Any]:
    proc = Processor(policy)
    out: list[dict[str, Any]] = []
    for e in events:
        out.extend(proc.ingest(e["ticket_id"], properties.ev_of(e)))
    return out + proc.advance(until)


@properties.SETTINGS
@given(data=st.data(), workload=properties.workloads())
def test_any_arrival_order_under_versions(
    data: st.DataObject, workload: tuple[list[dict[str, Any]], int]
) -> None:
    # the tickets of the workload are created over three days around the new version
    events, until = workload
    in_order = run_under(VERSIONS, events, until)
    shuffled = run_under(VERSIONS, data.draw(properties.arrival(events)), until)
    assert properties.decision_set(shuffled) == properties.decision_set(in_order)
    assert properties.content(shuffled) == properties.content(in_order)
    versions = {a["alert_id"]: a["policy_version"] for a in in_order}
    assert {a["alert_id"]: a["policy_version"] for a in shuffled if a["alert_id"] in versions} == {
        k: v for k, v in versions.items() if k in {a["alert_id"] for a in shuffled}
    }
