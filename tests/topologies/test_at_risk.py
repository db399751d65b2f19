"""`topologies.at_risk`: the at-risk walk over real timer indexes equals a scan of every
ticket, reads only the start of the index for a small limit, and the hourly gauge keeps its
team label bounded."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load
from engine.history import Ev
from engine.instant import to_us
from engine.retention import deadline
from engine.status import upcoming
from engine.ticket import Ticket
from topologies import metrics
from topologies.at_risk import MAX_TEAMS, Filters, at_risk, refresh_gauge
from topologies.timers import TimerIndex

CST = timezone(timedelta(hours=8))
NOW = to_us(datetime(2026, 11, 24, 15, 0, tzinfo=CST))
MIN = 60_000_000
POLICY = load(None)


def _tickets(n: int, teams: int = 3, seed: int = 1) -> dict[str, Ticket]:
    rng = random.Random(seed)
    out = {}
    for i in range(n):
        ticket_id = f"T{i:04d}"
        at = NOW - rng.randrange(3 * 3600 * 1_000_000)
        data = {
            "priority": rng.choice("ABC"),
            "category": rng.choice(("simple", "complex", "complaint")),
            "team": f"team-{rng.randrange(teams)}",
        }
        t = Ticket.new(ticket_id, POLICY)
        t.step(Ev(at, f"{ticket_id}-1", "created", data), at, at)
        if rng.random() < 0.4:
            t.step(Ev(at + MIN, f"{ticket_id}-2", "responded", {}), at + MIN, at + MIN)
        t.tick(NOW, NOW)  # as the worker's timers have: nothing overdue in the index
        out[ticket_id] = t
    return out


@pytest.fixture
def indexed(tmp_path: Path) -> tuple[dict[str, Ticket], dict[int, TimerIndex]]:
    tickets = _tickets(400)
    indexes = {p: TimerIndex(tmp_path / f"p{p}", durable=False) for p in range(2)}
    for i, (ticket_id, t) in enumerate(tickets.items()):
        indexes[i % 2].set(ticket_id, deadline(t, 35.0))
    yield tickets, indexes
    for idx in indexes.values():
        idx.close()


def _scan(
    tickets: dict[str, Ticket], within: int, f: Filters, limit: int
) -> list[tuple[int, str, str]]:
    found = [
        (due, str(e["ticket_id"]), str(e["clock"]))
        for t in tickets.values()
        for due, e in upcoming(t, NOW, NOW + within)
        if f.keep(e)
    ]
    return sorted(found)[:limit]


@pytest.mark.parametrize(
    ("within", "f", "limit"),
    [
        (15 * MIN, Filters(), 1000),
        (15 * MIN, Filters(), 7),
        (60 * MIN, Filters(team="team-1"), 25),
        (60 * MIN, Filters(priority="A", clock="first_response"), 1000),
        (0, Filters(), 1000),
        (9 * 24 * 60 * MIN, Filters(clock="resolution"), 50),
    ],
)
def test_the_walk_equals_a_scan_of_every_ticket(
    indexed: tuple[dict[str, Ticket], dict[int, TimerIndex]], within: int, f: Filters, limit: int
) -> None:
    tickets, indexes = indexed
    walk = at_risk(indexes, lambda t, p: tickets.get(t), lambda p: NOW, within, f, limit)
    got = [(due, str(e["ticket_id"]), str(e["clock"])) for due, e in walk.entries]
    expected = _scan(tickets, within, f, limit)
    assert got == expected
    everything = _scan(tickets, within, f, 10**9)
    assert walk.truncated or got == everything  # not truncated: the whole list
    assert walk.truncated or len(everything) <= limit


def test_a_small_limit_reads_only_the_head_of_the_index(
    indexed: tuple[dict[str, Ticket], dict[int, TimerIndex]],
) -> None:
    tickets, indexes = indexed
    read: list[str] = []

    def load_(ticket_id: str, partition: int) -> Ticket | None:
        read.append(ticket_id)
        return tickets.get(ticket_id)

    walk = at_risk(indexes, load_, lambda p: NOW, 24 * 60 * MIN, Filters(), 5)
    assert len(walk.entries) == 5 and walk.truncated
    in_window = sum(1 for idx in indexes.values() for _ in idx.until(NOW + 24 * 60 * MIN))
    assert walk.tickets_read == len(read) <= 2 * 10 < in_window


def test_timer_index_until_is_read_only_and_bounded(tmp_path: Path) -> None:
    with TimerIndex(tmp_path / "i", durable=False) as idx:
        idx.set_many([("a", 30), ("b", 10), ("c", 20), ("d", 40)])
        assert list(idx.until(30)) == [(10, "b"), (20, "c"), (30, "a")]
        assert list(idx.until(5)) == []
        assert len(idx) == 4


def test_the_hourly_gauge_counts_per_team_clock_kind_with_bounded_teams(tmp_path: Path) -> None:
    tickets = _tickets(1500, teams=MAX_TEAMS + 10, seed=3)
    with TimerIndex(tmp_path / "g", durable=False) as idx:
        idx.set_many((t, deadline(x, 35.0)) for t, x in tickets.items())
        clocks = tuple(r.name for r in POLICY.clocks)
        asyncio.run(refresh_gauge({0: idx}, lambda t, p: tickets.get(t), lambda p: NOW, clocks))
    samples = {
        tuple(s.labels[k] for k in ("team", "clock", "kind")): s.value
        for s in next(iter(metrics.AT_RISK_NEXT_HOUR.collect())).samples
    }
    teams = {team for team, _, _ in samples}
    assert "other" in teams and len(teams - {"other", "none"}) == MAX_TEAMS
    expected = sum(len(upcoming(t, NOW, NOW + 60 * MIN)) for t in tickets.values())
    assert sum(samples.values()) == expected > 0


@pytest.fixture(scope="module")
def shared(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[str, Ticket], dict[int, TimerIndex]]]:
    tickets = _tickets(300, seed=5)
    root = tmp_path_factory.mktemp("walk")
    indexes = {p: TimerIndex(root / f"p{p}", durable=False) for p in range(3)}
    for i, (ticket_id, t) in enumerate(tickets.items()):
        indexes[i % 3].set(ticket_id, deadline(t, 35.0))
    yield tickets, indexes
    for idx in indexes.values():
        idx.close()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.integers(min_value=0, max_value=48 * 60),
    st.sampled_from([None, "team-0", "team-2"]),
    st.sampled_from([None, "A", "C"]),
    st.sampled_from([None, "first_response", "resolution", "complaint_response"]),
    st.integers(min_value=1, max_value=60),
)
def test_the_walk_equals_the_scan_for_any_window_filter_and_limit(
    shared: tuple[dict[str, Ticket], dict[int, TimerIndex]],
    minutes: int,
    team: str | None,
    priority: str | None,
    clock: str | None,
    limit: int,
) -> None:
    tickets, indexes = shared
    f = Filters(team, priority, clock)
    walk = at_risk(indexes, lambda t, p: tickets.get(t), lambda p: NOW, minutes * MIN, f, limit)
    got = [(due, str(e["ticket_id"]), str(e["clock"])) for due, e in walk.entries]
    everything = _scan(tickets, minutes * MIN, f, 10**9)
    assert got == everything[:limit]
    assert walk.truncated or got == everything
