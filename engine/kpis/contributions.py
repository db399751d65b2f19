"""`contributions(ticket) -> tuple[Fact, ...]`: every KPI fact of one ticket, from one walk.

The walk over the ticket's history keeps what several families read (the ticket attributes
and the dimension values after each event, creation, first response: `engine.kpis.facts.Story`)
and hands each event to the families that collect during it (backlog, resolution, records,
surveys); then every family adds the facts it owes the ticket as a whole. SLA attainment reads
the clock state machine's own results (`engine.kpis.attainment`), not the history.
"""

from __future__ import annotations

import engine.kpis.attainment as attainment
import engine.kpis.complaints as complaints
from engine.evaluate import ATTRS
from engine.kpis.backlog import BacklogFacts
from engine.kpis.facts import NO_DIMS, Dims, Fact, Story
from engine.kpis.records import RecordFacts
from engine.kpis.resolution import ResolutionFacts
from engine.kpis.surveys import SurveyFacts
from engine.ticket import Ticket

_ATTR_SET = frozenset(ATTRS)


def contributions(ticket: Ticket) -> tuple[Fact, ...]:
    """Every KPI fact of one ticket as of its current state (history, SLA state and ledger;
    the rules are `ticket.state.policy.kpis`). Deterministic order; pure."""
    out: list[Fact] = []
    add = out.append
    story = Story(ticket)
    policy = ticket.state.policy
    versioned = bool(policy.later)
    backlog, resolution = BacklogFacts(), ResolutionFacts()
    records, surveys = RecordFacts(), SurveyFacts()
    attrs, timeline = story.attrs, story.timeline
    g = attrs.get
    dims: Dims = NO_DIMS
    for ev in ticket.history:
        data, etype, t = ev.data, ev.type, ev.at
        touched = False
        for name, value in data.items():
            if name in _ATTR_SET:
                attrs[name] = value
                touched = True
        current = policy.at(t) if versioned else policy
        status_now = current.status_on.get(etype)
        if status_now is not None and etype != "status_changed":
            attrs["status"] = status_now
        if touched:
            dims = (g("team"), g("agent"), g("priority"), g("channel"), g("category"),
                    g("product_line"))  # fmt: skip
        timeline.push(t, ev.id, dims)
        story.new_created = etype == "created" and story.created is None
        if story.new_created:
            story.created = t
        created = story.created
        story.new_response = (
            etype == "responded"
            and story.first_response is None
            and created is not None
            and t >= created
        )
        if story.new_response:
            story.first_response = t
        backlog.event(ev, dims, story, add)
        resolution.event(ev, dims, story, add)
        records.event(ev, dims, story, add)
        surveys.event(ev, dims, story, add)
    backlog.finish(story, add)
    resolution.finish(story, add)
    attainment.facts(story, add)
    complaints.facts(story, add)
    records.finish(story, add)
    surveys.finish(story, add)
    return tuple(out)
