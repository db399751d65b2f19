"""The live open backlog (`sla_open_backlog`) is kept incrementally (issue 14: no work per
open ticket when it is read) and equals, at every horizon, the walk over every open interval
it replaced: intervals open at the horizon by age band."""

from __future__ import annotations

import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.history import from_model
from engine.kpis import KpiAggregate, contributions, decode_facts, encode_facts
from engine.kpis.facts import NO_DIMS, Fact
from engine.processor import Processor
from schemas.parse import parse_event

from .support import POLICY
from .test_properties import workload

DAY = 86_400 * 10**6
SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def walked(kpis: KpiAggregate) -> dict[str, int]:
    """The old way: every interval still held, filtered to those open at the horizon."""
    backlog, t = kpis.backlog, kpis.horizon
    out = dict.fromkeys(backlog.bands, 0)
    for f, times in backlog.intervals.items():
        if f.at <= t and (f.until is None or f.until > t):
            out[backlog.band(t - f.value)] += times
    return out


intervals = st.builds(
    lambda created, start, length: Fact(
        "open", created + start, NO_DIMS, created, None if length is None else created + length
    ),
    st.integers(0, 30).map(lambda d: d * DAY // 2),
    st.integers(0, 6 * DAY),
    st.one_of(st.none(), st.integers(6 * DAY + 1, 20 * DAY)),
)


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(["add", "retract", "advance"]), intervals), max_size=60))
def test_incremental_backlog_equals_the_walk(steps: list[tuple[str, Fact]]) -> None:
    kpis = KpiAggregate(POLICY)
    held: list[Fact] = []
    now = 0
    for op, f in steps:
        if op == "add":
            kpis.add([f])
            held.append(f)
        elif op == "retract" and held:
            kpis.retract([held.pop(f.at % len(held))])
        else:
            now += f.at % (3 * DAY)  # forward by up to three days
            kpis.advance(now)
        assert kpis.open_backlog() == walked(kpis)


def follow(events: list[dict[str, Any]]) -> int:
    """Events in this arrival order, each changed ticket's facts replaced as the worker does;
    the incremental backlog checked against the walk after every event. Returns the largest
    backlog seen."""
    proc = Processor(POLICY)
    kpis = KpiAggregate(POLICY, exact=False)
    kept: dict[str, Any] = {}
    most = 0
    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
        kpis.advance(proc.clock)
        for tid, ticket in proc.tickets.items():
            new = contributions(ticket)
            kpis.replace(decode_facts(kept[tid]) if tid in kept else (), new)
            kept[tid] = encode_facts(new)
        assert kpis.open_backlog() == walked(kpis)
        most = max(most, sum(kpis.open_backlog().values()))
    kpis.advance(proc.clock + 40 * DAY)  # every band limit passed
    assert kpis.open_backlog() == walked(kpis)
    return most


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.randoms(use_true_random=False))
def test_live_facts_in_any_order_keep_the_backlog_exact(seed: int, rnd: random.Random) -> None:
    events: list[dict[str, Any]] = workload(seed, 10)
    assert follow(events) > 0  # in file order, tickets are open while they are handled
    rnd.shuffle(events)
    follow(events)
