"""At-risk lists from the timer index: the open clocks whose next threshold falls within a
window, soonest first, and the "at risk next hour" gauge.

The index holds each open ticket once, at its soonest deadline, so every clock due by `until`
belongs to a ticket whose index key is <= `until`: the walk reads the index from its
watermark up to `until` and computes those tickets' statuses (`engine.status.upcoming`). It
stops as soon as `limit` entries are found and the next key is later than the last of them,
so its cost is O(tickets due in the window read), never O(open tickets).
"""

from __future__ import annotations

import asyncio
import heapq
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from engine.status import upcoming
from engine.ticket import Ticket
from topologies import metrics
from topologies.timers import TimerIndex

Loader = Callable[[str, int], Ticket | None]  # (ticket id, partition) -> the ticket
Entry = tuple[int, dict[str, object]]  # (due instant µs, at-risk entry)
HOUR_US = 3600 * 1_000_000
MAX_TEAMS = 30  # teams of the gauge by name; the others are summed as "other"


@dataclass(frozen=True, slots=True)
class Filters:
    """What an at-risk list is narrowed to (None: any)."""

    team: str | None = None
    priority: str | None = None
    clock: str | None = None

    def may_keep(self, ticket: Ticket) -> bool:
        """False when the ticket's team or priority rules it out (no status computed)."""
        attrs = ticket.state.attrs
        return (self.team is None or attrs.get("team") == self.team) and (
            self.priority is None or attrs.get("priority") == self.priority
        )

    def keep(self, entry: dict[str, object]) -> bool:
        return (
            (self.team is None or entry["team"] == self.team)
            and (self.priority is None or entry["priority"] == self.priority)
            and (self.clock is None or entry["clock"] == self.clock)
        )


def _order(e: Entry) -> tuple[int, str, str]:
    return (e[0], str(e[1]["ticket_id"]), str(e[1]["clock"]))


@dataclass(slots=True)
class Walk:
    """The result of a walk over the indexes: entries soonest first, and what it cost."""

    entries: list[Entry]
    truncated: bool = False  # stopped at `limit`: more may be due in the window
    tickets_read: int = 0


def _keys(idx: TimerIndex, partition: int, until: int) -> Iterator[tuple[int, str, int]]:
    for due, ticket_id in idx.until(until):
        yield due, ticket_id, partition


def at_risk(
    indexes: Mapping[int, TimerIndex],
    load: Loader,
    now: Callable[[int], int],
    within: int,
    f: Filters,
    limit: int,
) -> Walk:
    """The local at-risk list over the partitions in `indexes` (`now(partition)`: that
    partition's clock; the window is `within` µs from it), soonest first, at most `limit`:
    the indexes are read merged in deadline order, so the walk stops after about `limit`
    tickets when nothing is filtered out."""
    clocks = {p: now(p) for p in indexes}
    keys = heapq.merge(*(_keys(idx, p, clocks[p] + within) for p, idx in indexes.items()))
    found: list[Entry] = []
    walk = Walk(found)
    bound: int | None = None  # due of the limit-th entry once `found` holds `limit`
    for key_due, ticket_id, partition in keys:
        if bound is not None and key_due > bound:
            walk.truncated = True
            break
        ticket = load(ticket_id, partition)
        walk.tickets_read += 1
        if ticket is None or not f.may_keep(ticket):
            continue
        t = clocks[partition]
        found.extend(e for e in upcoming(ticket, t, t + within) if f.keep(e[1]))
        if len(found) >= 2 * limit:
            found.sort(key=_order)
            del found[limit:]
            walk.truncated = True
        if len(found) >= limit:
            found.sort(key=_order)
            bound = found[limit - 1][0]
    found.sort(key=_order)
    if len(found) > limit:
        del found[limit:]
        walk.truncated = True
    return walk


def _tickets(
    indexes: Mapping[int, TimerIndex], now: Callable[[int], int], within: int
) -> Iterator[tuple[int, int, str]]:
    for partition, idx in list(indexes.items()):
        t = now(partition)
        ids = [ticket_id for _due, ticket_id in idx.until(t + within)]
        for ticket_id in ids:
            yield partition, t, ticket_id


async def refresh_gauge(
    indexes: Mapping[int, TimerIndex],
    load: Loader,
    now: Callable[[int], int],
    clocks: tuple[str, ...],
    chunk: int = 500,
) -> None:
    """`sla_at_risk_next_hour{team, clock, kind}`: running clocks whose next threshold is due
    within the hour, from the index; yields to the event loop every `chunk` tickets."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for n, (partition, t, ticket_id) in enumerate(_tickets(indexes, now, HOUR_US)):
        if n and n % chunk == 0:
            await asyncio.sleep(0)
        ticket = load(ticket_id, partition)
        if ticket is None:
            continue
        for _due, e in upcoming(ticket, t, t + HOUR_US):
            counts[(str(e["team"] or "none"), str(e["clock"]), str(e["kind"]))] += 1
    teams: Counter[str] = Counter()
    for (team, _clock, _kind), n in counts.items():
        teams[team] += n
    named = {team for team, _ in teams.most_common(MAX_TEAMS)}
    bounded: Counter[tuple[str, str, str]] = Counter()
    for (team, clock, kind), n in counts.items():
        bounded[(team if team in named else "other", clock, kind)] += n
    metrics.AT_RISK_NEXT_HOUR.clear()
    for clock in clocks:  # a zero per clock, so the panel and rate queries have a series
        metrics.AT_RISK_NEXT_HOUR.labels("none", clock, "breach").set(0)
    for labels, n in bounded.items():
        metrics.AT_RISK_NEXT_HOUR.labels(*labels).set(n)
