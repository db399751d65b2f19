"""The replay pipeline (`engine.replay`) and the effective alert set (`engine.effective`): the
options the commands differ in (parking, record timestamps, headless tickets, counts) change
nothing but what they say they change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import workload
from config.loader import load
from engine.effective import EffectiveSet, effective
from engine.history import Ev, from_model
from engine.replay import Replay, replay
from schemas.parse import parse_event

POLICY = load()


def decoded(n: int = 120, seed: int = 5) -> list[tuple[str, Ev]]:
    events = workload.generate(n, seed=seed, span=timedelta(days=3))
    return [(e["ticket_id"], from_model(parse_event(orjson.dumps(e)))) for e in events]


def test_parking_and_arrivals_change_no_alert_and_counts_are_kept() -> None:
    events = decoded()
    until = max(ev.at for _, ev in events) + 30 * 86_400_000_000
    kept, alerts = replay(events, POLICY, until)
    parked: dict[str, bytes] = {}
    run = Replay.start(POLICY, parked)
    run.processor.idle = 0
    moved: list[dict[str, Any]] = []
    for i, (ticket_id, ev) in enumerate(events):
        moved += run.feed(ticket_id, ev, arrived=i)
    moved += run.finish(until)
    assert moved == alerts
    assert parked  # idle tickets left memory
    assert (run.events, run.count()) == (kept.events, kept.count()) == (len(events), 120)
    assert run.clock == kept.clock == until


def test_the_arrival_of_a_parked_ticket_is_known_to_its_alerts_then_forgotten() -> None:
    events = decoded(40, seed=9)
    run = Replay.start(POLICY, {})
    run.processor.idle = 0
    seen_parked = False
    for i, (ticket_id, ev) in enumerate(events):
        for alert in run.feed(ticket_id, ev, arrived=1_000 + i):
            if alert["ticket_id"] == ticket_id:
                assert run.arrival(ticket_id) == 1_000 + i  # the event that caused it
        if ticket_id not in run.tickets:
            seen_parked = True
            assert run.arrival(ticket_id) == 1_000 + i  # still, until the next event
            run.finish(None)
            assert run.arrival(ticket_id) is None  # parked: no arrival kept for it
    assert seen_parked


def test_arrivals_are_kept_only_for_tickets_in_memory() -> None:
    """A ticket parked as the least recently touched idle one (while another ticket's event is
    fed) loses its arrival too: an audit of a month kept one per ticket it ever saw."""
    events = decoded(120, seed=4)
    run = Replay.start(POLICY, {})
    run.processor.idle = 3
    for i, (ticket_id, ev) in enumerate(events):
        run.feed(ticket_id, ev, arrived=i)
        stale = set(run._arrivals) - set(run.tickets)
        last = set(getattr(run.processor, "gone", None) or ()) | {ticket_id}
        assert stale <= last, stale  # only those parked by the last feed
    assert len(run.tickets) < 120  # tickets were parked


def test_a_ticket_whose_first_event_is_not_created_is_headless() -> None:
    events = decoded(10, seed=2)
    later = [(t, ev) for t, ev in events if ev.type != "created"]
    run = Replay.start(POLICY)
    list(run.run(later, None))
    assert run.headless == {t for t, _ in later}
    whole = Replay.start(POLICY)
    list(whole.run(events, None))
    assert whole.headless == set()


def _alert(i: int) -> dict[str, Any]:
    return {"alert_id": f"a{i}", "kind": "breach"}


def _retraction(i: int) -> dict[str, Any]:
    return {"alert_id": f"r{i}", "kind": "retraction", "retracts": f"a{i}"}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5), max_size=12), st.sets(st.integers(0, 5)), st.randoms())
def test_the_effective_set_does_not_depend_on_the_order_read(
    announced: list[int], retracted: set[int], rnd: Any
) -> None:
    alerts = [_alert(i) for i in announced] + [_retraction(i) for i in retracted]
    want = {f"a{i}" for i in announced} - {f"a{i}" for i in retracted}
    rnd.shuffle(alerts)
    got = effective(alerts)
    assert set(got) == want  # repeats dropped, retractions applied before or after
    assert list(got) == list(dict.fromkeys(a["alert_id"] for a in alerts if a["alert_id"] in want))


def test_the_set_keeps_the_first_announcement_of_a_repeated_id() -> None:
    first, again = {**_alert(1), "detected_at": "1"}, {**_alert(1), "detected_at": "2"}
    s = EffectiveSet()
    s.update([first, again, _alert(2), _retraction(2)])
    assert s.current == {"a1": first} and s.retracted == {"a2"}


def test_most_is_the_largest_number_of_tickets_in_memory_at_once() -> None:
    """`Processor.most` sizes a long replay's memory: the high-water mark of the tickets held,
    not the tickets seen (the others are parked)."""
    events = decoded(120, seed=4)
    run = Replay.start(POLICY, {})
    run.processor.idle = 3
    seen = 0
    for ticket_id, ev in events:
        run.feed(ticket_id, ev)
        seen = max(seen, len(run.tickets))
    assert run.processor.most == seen
    assert seen < run.count()  # some were parked: the mark is below the tickets seen
    whole = Replay.start(POLICY)
    list(whole.run(events, None))
    assert whole.processor.most == whole.count() == 120
