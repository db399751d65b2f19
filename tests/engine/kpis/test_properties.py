"""Order independence of the KPIs (hypothesis): the same events in any arrival order, each
ticket change applied live as retract-and-replace of its facts, give the same snapshots as a
replay computed from scratch; the bulk and the incremental store agree; facts round-trip
through their compact form."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.history import from_model
from engine.instant import to_us
from engine.kpis import (
    Fact,
    KpiAggregate,
    contributions,
    decode_facts,
    encode_facts,
    snapshot_key,
)
from engine.processor import Processor
from schemas.parse import parse_event
from workload import ticket_events

from .support import POLICY, cst

UNTIL = cst(12, 6)


ALL_FIVE = dict.fromkeys(
    (
        "overall",
        "responsiveness",
        "problem_solving",
        "professionalism",
        "patience",
        "proactive",
        "recommend",
    ),
    5,
)
EXTRAS: list[tuple[str, dict[str, Any]]] = [
    ("survey_submitted", {"survey": ALL_FIVE}),
    ("survey_submitted", {"survey": {"overall": 1, "invalid_reason": "malicious"}}),
    ("exemption_granted", {"clock": "first_response", "reason": "outage"}),
    ("exemption_granted", {"clock": "resolution", "reason": "supplier"}),
]


def workload(seed: int, tickets: int) -> list[dict[str, Any]]:
    """Seeded tickets from the workload generator (reopens, pauses, hand-offs, surveys, ...)
    plus KPI extras at the end of some: an all-5 survey replacing an earlier one, an invalid
    survey, exemptions; and a survey for an unknown ticket."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for i in range(tickets):
        tid = f"P{i}"
        start = cst(11, 23, 8) + (cst(11, 28) - cst(11, 23)) * rng.random()
        evs = ticket_events(rng, tid, start.replace(microsecond=0))
        pick = rng.randrange(len(EXTRAS) + 2)
        if pick < len(EXTRAS):
            kind, fields = EXTRAS[pick]
            evs.append(
                {
                    "event_id": f"{tid}-x",
                    "ticket_id": tid,
                    "type": kind,
                    "occurred_at": evs[-1]["occurred_at"],
                    **fields,
                }
            )
        events.extend(evs)
    ghost = {"overall": 4}
    events.append(
        {
            "event_id": "ghost-1",
            "ticket_id": "GHOST",
            "type": "survey_submitted",
            "occurred_at": cst(11, 25, 12).isoformat(),
            "survey": ghost,
        }
    )
    return events


def from_scratch(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = Processor(POLICY)
    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
    proc.advance(to_us(UNTIL))
    store = KpiAggregate(POLICY)
    store.advance(proc.clock)
    store.add(f for t in proc.tickets.values() for f in contributions(t))  # bulk
    return store.snapshots()


Published = dict[str, dict[str, Any]]


def live(
    events: list[dict[str, Any]], exact: bool = True, published: Published | None = None
) -> tuple[KpiAggregate, dict[str, Any]]:
    """Events in the given order; after each one every changed ticket's facts are replaced
    (kept in their compact form, as the worker keeps them), the store follows the clock, and
    the changed snapshots and tombstones are "published" into a compacted table."""
    proc = Processor(POLICY)
    store = KpiAggregate(POLICY, exact=exact)
    kept: dict[str, Any] = {}
    table: Published = {} if published is None else published

    def sync() -> None:
        store.advance(proc.clock)
        for tid, ticket in proc.tickets.items():
            new = contributions(ticket)
            old = decode_facts(kept[tid]) if tid in kept else ()
            if new != old:
                store.replace(old, new)
                kept[tid] = encode_facts(new)
        for snap in store.snapshots(changed_only=True):
            table[snapshot_key(snap)] = snap
        for key in store.take_removed():
            del table[key]

    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
        sync()
    proc.advance(to_us(UNTIL))
    sync()
    return store, kept


SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_replay_snapshots(seed: int, rnd: random.Random) -> None:
    events = workload(seed, 8)
    expected = from_scratch(events)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    shuffled += rnd.sample(events, 3)  # at-least-once delivery: repeats change nothing
    published: Published = {}
    store, _ = live(shuffled, published=published)
    assert store.snapshots() == expected
    assert store.snapshots(changed_only=True) == []
    # What a consumer of the compacted topic holds is the final state, key for key (`as_of`
    # aside: it is when each snapshot was taken).
    assert {k: {**s, "as_of": None} for k, s in published.items()} == {
        snapshot_key(s): {**s, "as_of": None} for s in expected
    }


def test_retracting_everything_leaves_an_empty_store() -> None:
    events = workload(3, 10)
    published: Published = {}
    store, kept = live(events, published=published)
    assert store.cells and published
    for data in kept.values():
        store.retract(decode_facts(data))
    assert store.cells == {} and store.by_window == {}
    assert store._pending == {} and store.backlog.intervals == {}
    assert store.snapshots() == []
    assert set(store.take_removed()) == set(published)  # a tombstone for each


def test_bulk_and_incremental_adds_agree() -> None:
    events = workload(11, 25)
    proc = Processor(POLICY)
    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
    proc.advance(to_us(UNTIL))
    facts = [f for t in proc.tickets.values() for f in contributions(t)]
    bulk, single = KpiAggregate(POLICY), KpiAggregate(POLICY)
    for store in (bulk, single):
        store.advance(proc.clock)
    bulk.add(facts)
    for f in facts:
        single.add([f])
    assert len(facts) > 200
    assert bulk.snapshots() == single.snapshots()


def test_sketch_store_agrees_except_percentiles() -> None:
    events = workload(5, 12)
    exact, _ = live(events)
    sketched, _ = live(events, exact=False)
    for a, b in zip(exact.snapshots(), sketched.snapshots(), strict=True):
        for name, value in a["metrics"].items():
            other = b["metrics"][name]
            if name.endswith("_p90_s") and value is not None:
                assert abs(other - value) <= 0.01 * value + 0.001, name
            else:
                assert other == value, name


def test_compact_form_round_trips() -> None:
    events = workload(2, 6)
    proc = Processor(POLICY)
    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
    for ticket in proc.tickets.values():
        facts = contributions(ticket)
        encoded = encode_facts(facts)
        assert decode_facts(orjson.loads(orjson.dumps(encoded))) == facts
        assert all(isinstance(f, Fact) for f in facts)
