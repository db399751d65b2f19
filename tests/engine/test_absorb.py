"""`Ticket.absorb` + `settle`: a batch's events of a ticket are folded before thresholds are
crossed (issue 11, 6), so a late ticket arriving with its own answer neither pages nor retracts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from config.loader import load
from engine.history import Ev
from engine.instant import to_us
from engine.ticket import Ticket

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
CREATED = to_us(NOW - timedelta(days=21))


def late_pair() -> list[Ev]:
    attrs = {"priority": "A", "category": "simple", "channel": "phone", "team": "t-1"}
    return [
        Ev(CREATED, "L-1", "created", attrs),
        Ev(CREATED + 30_000_000, "L-2", "responded", {}),
    ]


def test_absorbing_the_batch_first_neither_pages_nor_retracts_first_response() -> None:
    policy = load(None)
    ticket = Ticket.new("L", policy)
    assert all(ticket.absorb(ev) for ev in late_pair())
    alerts = ticket.settle(to_us(NOW), to_us(NOW), "L-2")
    assert not [a for a in alerts if a["kind"] == "retraction"]
    assert not [a for a in alerts if a["clock"] == "first_response"]
    # what did breach (three weeks without resolution) is what event-by-event replay says
    replayed = Ticket.new("L", policy)
    expected = []
    for ev in late_pair():
        expected += replayed.step(ev, ev.at, ev.at)
    expected += replayed.tick(to_us(NOW), to_us(NOW))
    key = ("clock", "kind", "level", "due_at")
    assert sorted(tuple(a[k] for k in key) for a in alerts) == sorted(
        tuple(a[k] for k in key) for a in expected if a["kind"] != "retraction"
    )


def test_stepping_each_event_at_wall_time_pages_and_retracts() -> None:
    """The behaviour the batch avoids: each event settled on its own at wall-clock time."""
    ticket = Ticket.new("L", load(None))
    out = []
    for ev in late_pair():
        out += ticket.step(ev, to_us(NOW), to_us(NOW))
    assert any(a["kind"] == "retraction" for a in out)


def test_a_repeat_is_not_absorbed() -> None:
    ticket = Ticket.new("L", load(None))
    first = late_pair()[0]
    assert ticket.absorb(first) and not ticket.absorb(first)
