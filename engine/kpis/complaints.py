"""KPI family *complaints*: complaints answered within the policy's limit (24 h by default).

Facts: `complaint` — a ticket whose category is the policy's complaint category: value 1 when
the first `responded` came within `complaint_within` (wall time) of creation, at the response;
value 0 when not, at creation + `complaint_within` (the instant it was missed; the aggregate
holds facts later than its horizon until the horizon reaches them).

Snapshot fields: `complaints`, `complaints_in_time`, `complaint_24h_rate` (target, gap).
"""

from __future__ import annotations

from collections.abc import Callable

from engine.kpis.cells import Cell, Metrics, ratio
from engine.kpis.facts import Fact, Story, fact


def facts(story: Story, add: Callable[[Fact], None]) -> None:
    """The ticket's `complaint` fact, if it is a complaint (after the walk)."""
    rules = story.ticket.state.policy.kpis
    created, first = story.created, story.first_response
    if created is None or story.attrs.get("category") != rules.complaint_category:
        return
    deadline = created + rules.complaint_within_us
    timeline = story.timeline
    if first is not None and first <= deadline:
        add(fact("complaint", first, timeline.at(first), 1))
    else:
        add(fact("complaint", deadline, timeline.at(deadline), 0))


def counters(metric: str, value: int) -> tuple[tuple[str, int], ...] | None:
    """The counters a `complaint` fact adds to (None: not this family's metric)."""
    if metric != "complaint":
        return None
    return (("complaints", 1), ("complaints_in_time", 1)) if value else (("complaints", 1),)


def put(m: Metrics, cell: Cell) -> None:
    """The family's snapshot fields of one cell."""
    c = cell.counts.get
    complaints, in_time = c("complaints", 0), c("complaints_in_time", 0)
    m["complaints"], m["complaints_in_time"] = complaints, in_time
    m["complaint_24h_rate"] = ratio(in_time, complaints)
