"""What a KPI fact is, and what every KPI family reads about a ticket (`Story`).

A fact is window-independent: a metric, the event-time instant it belongs to, the ticket's
dimension values at that instant, and an integer value. The aggregate
(`engine.kpis.aggregate`) puts each fact in every window containing its instant, for every
dimension. Facts are a pure function of the ticket's history, SLA state and ledger; when a
ticket changes, the caller retracts its previous facts and adds the new ones, so late events,
reopens, replaced surveys, exemptions and overturned appeals change exactly the windows they
belong to.

Dimension values are the ticket's at the fact's instant (after the events up to then): the
holder at that moment, so a hand-off sends later facts to the new team and agent; breach facts
name the holder and priority recorded with the decision. Unset values count under "unknown".

Each KPI family owns its facts, their aggregation and its snapshot fields, and documents its
definitions: `resolution` (accepted, resolved, FCR, reopens, time to first response and to
resolution), `attainment` (SLA attainment per clock, breaches, exemptions, appeals),
`complaints`, `records`, `surveys`, `backlog`. `engine.kpis.contributions` walks the history
once and hands each event to the families.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from engine.ticket import Ticket
from schemas.attributes import DIMENSIONS

# The dimensions a fact carries, in `Dims` order (the policy's `kpis.dimensions` picks from them).
DIMENSION_ATTRS: tuple[str, ...] = DIMENSIONS
Dims = tuple[str | None, str | None, str | None, str | None, str | None, str | None]
NO_DIMS: Dims = (None, None, None, None, None, None)
DIST_OFFSET = 1 << 60  # in a cell, distribution i's entries are the ints [i·2^60, (i+1)·2^60)


class Fact(NamedTuple):
    """One contribution of one ticket; its family's module defines the metric."""

    metric: str
    at: int  # event-time instant (µs)
    dims: Dims  # team, agent, priority, channel, category, product_line at `at`
    value: int = 1
    until: int | None = None  # `open` intervals only: end (None = still open)


def fact(metric: str, at: int, dims: Dims, value: int = 1, until: int | None = None) -> Fact:
    """`Fact(...)` without the NamedTuple's interpreted `__new__` (compiled, the generated
    constructor is still a Python call; see `engine.history.Ev`): a ticket's facts are made
    anew on every change, by the worker that sends them and the aggregator that decodes them."""
    return tuple.__new__(Fact, (metric, at, dims, value, until))


class Timeline:
    """The ticket's dimension values over its events (in history order)."""

    __slots__ = ("dims", "keys")

    def __init__(self) -> None:
        self.keys: list[tuple[int, str]] = []  # (occurred_at, event id) where the dims changed
        self.dims: list[Dims] = []

    def push(self, at: int, event_id: str, dims: Dims) -> None:
        """The dimension values after the event (at, event_id), the next in history order."""
        if not self.dims or self.dims[-1] != dims:
            self.keys.append((at, event_id))
            self.dims.append(dims)

    def at(self, t: int) -> Dims:
        """After every event at or before instant `t` (before the first event: the first)."""
        return self._index(bisect_left(self.keys, (t + 1,)) - 1)

    def after(self, key: tuple[int, str]) -> Dims:
        """Right after the event with this (occurred_at, event id)."""
        return self._index(bisect_right(self.keys, key) - 1)

    def _index(self, i: int) -> Dims:
        return self.dims[i] if i >= 0 else (self.dims[0] if self.dims else NO_DIMS)


@dataclass(slots=True)
class Story:
    """A ticket as the KPI families read it: what the walk over its history
    (`engine.kpis.contributions`) has established so far, and at its end the whole of it."""

    ticket: Ticket
    timeline: Timeline = field(default_factory=Timeline)
    attrs: dict[str, Any] = field(default_factory=dict)  # ATTRS values (status included)
    created: int | None = None  # the first `created` event
    first_response: int | None = None  # the first `responded` at or after `created`
    new_created: bool = False  # the event being walked is the first `created`
    new_response: bool = False  # the event being walked is the first response
