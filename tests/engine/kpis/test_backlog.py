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


HOUR = DAY // 24
hours = st.integers(1, 25 * 24).map(lambda h: h * HOUR + 7)  # 7 µs: off the window ends too
ends = st.one_of(st.none(), hours)


@SETTINGS
@given(
    st.integers(0, 5 * 24).map(lambda h: h * HOUR),
    st.integers(0, 3 * 24).map(lambda h: h * HOUR),
    ends,
    ends,
    st.integers(0, 60).map(lambda d: d * DAY // 2),
    st.sampled_from([("team-1", "a-1"), ("team-2", "a-7")]),
)
def test_an_interval_whose_end_moved_changes_only_the_ends_between(
    created: int, wait: int, old: int | None, new: int | None, horizon: int, who: tuple[str, str]
) -> None:
    """`replace` of an open interval by the same one with another end (a resolution, a
    reopening undone) gives the cells of retracting the one and adding the other, and marks
    changed none of the cells of the window ends before both ends."""
    at = created + wait
    dims = (*who, "A", "phone", "simple", "router")

    def interval(end: int | None) -> Fact:
        return Fact("open", at, dims, created, None if end is None else at + end)

    before, after = interval(old), interval(new)
    moved, rebuilt = KpiAggregate(POLICY, exact=False), KpiAggregate(POLICY, exact=False)
    for kpis in (moved, rebuilt):
        kpis.advance(horizon)
        kpis.add([before, Fact("open", at, (*who, "B", "mail", "simple", "switch"), created)])
        kpis.snapshots(changed_only=True)
    moved.replace([before], [after])
    rebuilt.retract([before])
    rebuilt.add([after])
    assert moved.snapshots() == rebuilt.snapshots()
    assert moved.backlog.intervals == rebuilt.backlog.intervals
    assert moved.open_backlog() == rebuilt.open_backlog()
    first = min(x if x is not None else horizon - at for x in (old, new))  # counted by both
    for unit, start, _dim, _key in moved.changed:
        end = moved.windows.end(unit, start)
        assert end > at + first, (unit, start)  # only the window ends between the two moved
    assert moved.changed <= rebuilt.changed
