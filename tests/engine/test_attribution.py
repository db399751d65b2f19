"""Time attribution by holder (the cross-department rule): `Alert.attribution`.

Every expected number is worked out by hand from the default policy: `business-cn` counts
Monday-Friday 09:00-12:00 and 13:00-18:00 Asia/Shanghai; 2026-11-23 is a Monday and no holiday
falls in that week. resolution (simple): warning 4 bh, breach 8 bh, moderate 12 bh, severe 16 bh.
"""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.evaluate import evaluate
from engine.instant import to_us
from schemas.outputs import Alert
from tests.engine.test_evaluate import POLICY, Story, day, effective, replay, tick
from tests.engine.test_properties import arrival, key_of, run, workloads

HOURS = 3600.0
A1 = {"agent": "a-1", "supervisor": "s-1", "team": "team-1", "department": "after-sales"}
A2 = {"agent": "a-2", "supervisor": "s-2", "team": "team-9", "department": "field"}
A3 = {"agent": "a-3", "supervisor": "s-3", "team": "team-3", "department": "after-sales"}


def share(holder: dict[str, str], seconds: float) -> dict[str, Any]:
    return {**holder, "seconds": seconds}


def by_grade(alerts: list[dict[str, Any]], clock: str) -> dict[tuple[str, str | None], Any]:
    return {(a["kind"], a["level"]): a for a in effective(alerts).values() if a["clock"] == clock}


def test_hand_off_between_departments_splits_the_clock_time() -> None:
    # Simple ticket created Monday 10:00 by a-1 (after-sales). Handed to a-2 of the field
    # department Monday 16:30, handed back to a-1 Tuesday 09:30. Resolution (business-cn):
    #   a-1 Mon 10:00-12:00  2 h   (7200 s)
    #   a-1 Mon 13:00-16:30  3.5 h (12600 s)  -> 4 bh reached Mon 15:00: warning, all a-1
    #   a-2 Mon 16:30-18:00  1.5 h (5400 s)
    #   a-2 Tue 09:00-09:30  0.5 h (1800 s)   -> a-2 holds 2 h = 7200 s in all
    #   a-1 Tue 09:30-10:00  0.5 h (1800 s)   -> 8 bh at Tue 10:00: breach, a-1 21600 s
    #   a-1 Tue 10:00-12:00, 13:00-15:00 4 h  -> 12 bh at Tue 15:00: moderate, a-1 36000 s
    #   a-1 Tue 15:00-18:00, Wed 09:00-10:00  -> 16 bh at Wed 10:00: severe, a-1 50400 s
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 1))
    s.add("assigned", day(0, 16, 30), **A2)
    s.add("assigned", day(1, 9, 30), **A1)
    got = by_grade(replay(s.events, day(3)), "resolution")
    assert {k: (a["due_at"], a["attribution"]) for k, a in got.items()} == {
        ("warning", None): (_utc(day(0, 15)), [share(A1, 4 * HOURS)]),
        ("breach", "minor"): (_utc(day(1, 10)), [share(A1, 21600.0), share(A2, 7200.0)]),
        ("escalation", "moderate"): (
            _utc(day(1, 15)),
            [share(A1, 36000.0), share(A2, 7200.0)],
        ),
        ("escalation", "severe"): (_utc(day(2, 10)), [share(A1, 50400.0), share(A2, 7200.0)]),
    }
    for a in got.values():
        assert a["responsible"] == A1
        assert sum(x["seconds"] for x in a["attribution"]) == a["elapsed_seconds"]
        Alert.model_validate(a)


def test_time_paused_or_outside_working_hours_is_nobodys() -> None:
    # Created Mon 10:00 (a-1); pending_customer at 11:00 (a-1 counted 1 h); a-9 takes it at
    # 12:30 and a-2 at 14:00, both while paused (nothing counts for a-9); resumed 17:00, so
    # a-2 counts 17:00-18:00 (1 h); a-3 takes it at 18:30, after hours (a-2 still 1 h).
    # a-3 counts from Tue 09:00: the 4 bh warning needs 2 h more -> Tue 11:00;
    # the 8 bh breach needs 6 h -> 09-12 and 13-16 -> Tue 16:00, a-3 21600 s.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 1))
    s.add("status_changed", day(0, 11), status="pending_customer")
    s.add("assigned", day(0, 12, 30), agent="a-9", supervisor="s-9", team="t-9", department="x")
    s.add("assigned", day(0, 14), **A2)
    s.add("status_changed", day(0, 17), status="in_progress")
    s.add("assigned", day(0, 18, 30), **A3)
    got = by_grade(replay(s.events, day(1, 17)), "resolution")
    warning, breach = got[("warning", None)], got[("breach", "minor")]
    assert warning["due_at"] == _utc(day(1, 11))
    assert warning["attribution"] == [share(A1, 3600.0), share(A2, 3600.0), share(A3, 7200.0)]
    assert breach["due_at"] == _utc(day(1, 16))
    assert breach["attribution"] == [share(A1, 3600.0), share(A2, 3600.0), share(A3, 21600.0)]
    assert breach["responsible"] == A3


def test_reopen_keeps_the_earlier_holders_time() -> None:
    # a-1 counts Mon 10:00-12:00 (2 h) before the resolution; the reopen on Tue 09:00 hands the
    # ticket to a-2 in the same event; 2 h more reach the 4 bh warning at Tue 11:00.
    s = Story()
    s.created(day(0, 10))
    s.add("responded", day(0, 10, 1))
    s.add("resolved", day(0, 12))
    s.add("reopened", day(1, 9), **A2)
    got = by_grade(replay(s.events, day(1, 12)), "resolution")
    assert got[("warning", None)]["due_at"] == _utc(day(1, 11))
    assert got[("warning", None)]["attribution"] == [share(A1, 7200.0), share(A2, 7200.0)]


def test_holder_at_a_retroactive_threshold_is_listed_with_zero() -> None:
    # C ticket, created 10:00 by a-1; at 10:04 one event makes it A and hands it to a-2. A's
    # thresholds (60, 120, 180, 240 s) are all exceeded by the 240 s counted: everything fires
    # at 10:04, responsible a-2, who held it for 0 s; a-1 counted all 240 s.
    s = Story()
    s.created(day(0, 10), priority="C")
    s.add("priority_changed", day(0, 10, 4), priority="A", **A2)
    fr = [a for a in replay(s.events, day(1)) if a["clock"] == "first_response"]
    assert sorted((a["kind"], a["level"] or "") for a in fr) == [
        ("breach", "minor"),
        ("escalation", "moderate"),
        ("escalation", "severe"),
        ("warning", ""),
    ]
    for a in fr:
        assert a["due_at"] == _utc(day(0, 10, 4))
        assert a["responsible"] == A2
        assert a["elapsed_seconds"] == 240
        assert a["attribution"] == [share(A1, 240.0), share(A2, 0.0)]


def _bounce() -> Story:
    # A ticket created 10:00 by a-1; a-2 holds it 10:00:30-10:00:50, then a-1 again.
    # Warning 10:01:00: a-1 30 + 10 = 40 s, a-2 20 s. Breach 10:02:00: a-1 100 s, a-2 20 s.
    s = Story()
    s.created(day(0, 10), priority="A")
    s.add("assigned", day(0, 10, 0, 30), **A2)
    s.add("assigned", day(0, 10, 0, 50), **A1)
    return s


def test_late_hand_offs_restate_the_attribution_even_for_the_same_holder() -> None:
    # The hand-offs arrive after stream time passed the breach, the hand-back first (a no-op
    # then: a-1 already holds it), then the hand-off to a-2 stamped before it. The holder at
    # the thresholds is a-1 all along, only the split changes: the warning and breach
    # announced as all a-1's are retracted and re-issued with it, and the final alerts equal
    # those of the in-order replay.
    s = _bounce()
    created, away, back = s.events
    late = [created, tick("T-2", day(0, 10, 2, 30), 1), back, away]
    out = [a for a in replay(late, day(0, 10, 2, 30)) if a["ticket_id"] == "T-1"]
    assert [(a["kind"], a["responsible"]["agent"]) for a in out] == [
        ("warning", "a-1"),
        ("breach", "a-1"),
        ("retraction", "a-1"),
        ("retraction", "a-1"),
        ("warning", "a-1"),
        ("breach", "a-1"),
    ]
    first = out[:2]
    assert [a["attribution"] for a in first] == [[share(A1, 60.0)], [share(A1, 120.0)]]
    assert {a["retracts"] for a in out[2:4]} == {a["alert_id"] for a in first}
    assert {a["reason"] for a in out[2:4]} == {"late_event"}
    final = by_grade(out, "first_response")
    assert final[("warning", None)]["attribution"] == [share(A1, 40.0), share(A2, 20.0)]
    assert final[("breach", "minor")]["attribution"] == [share(A1, 100.0), share(A2, 20.0)]
    in_order = by_grade(replay(s.events, day(0, 10, 2, 30)), "first_response")
    assert {k: a["attribution"] for k, a in final.items()} == {
        k: a["attribution"] for k, a in in_order.items()
    }


def test_attribution_is_not_part_of_the_alert_id() -> None:
    plain = Story()
    plain.created(day(0, 10), priority="A")
    ids = {(a["kind"], a["level"]): a["alert_id"] for a in replay(plain.events, day(0, 10, 3))}
    bounced = {
        (a["kind"], a["level"]): a["alert_id"] for a in replay(_bounce().events, day(0, 10, 3))
    }
    assert len(ids) == 3
    assert bounced == ids


def test_single_holder_fingerprint_is_unchanged() -> None:
    # Ledgers stored before attribution existed hold crc32(repr((priority, responsible))):
    # for a ticket that never changed hands the fingerprint must stay that, or every stored
    # alert would be retracted and re-issued on the next refold.
    from engine.alerts import _said

    s = Story()
    s.created(day(0, 10), priority="A")
    _, decisions = evaluate(s.history(), POLICY, to_us(day(1)))
    for d in decisions:
        assert len(d.attribution) == 1
        assert _said(d) == zlib.crc32(repr((d.priority, d.responsible)).encode())
    _, moved = evaluate(_bounce().history(), POLICY, to_us(day(1)))
    breach = next(d for d in moved if d.kind == "breach")
    old = zlib.crc32(repr((breach.priority, breach.responsible)).encode())
    assert _said(breach) != old


def content(alerts: list[dict[str, Any]]) -> set[tuple[Any, ...]]:
    return {
        (*key_of(a), orjson.dumps(a["responsible"]), orjson.dumps(a["attribution"]))
        for a in effective(alerts).values()
    }


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), workload=workloads())
def test_attribution_sums_and_does_not_depend_on_arrival_order(
    data: st.DataObject, workload: tuple[list[dict[str, Any]], int]
) -> None:
    events, until = workload
    in_order = run(events, until)
    shuffled = run(data.draw(arrival(events)), until)
    assert content(shuffled) == content(in_order)
    for a in in_order:
        if a["kind"] == "retraction":
            assert a.get("attribution", []) == []
            continue
        shares = a["attribution"]
        assert shares, a
        assert round(sum(x["seconds"] for x in shares) * 1e6) == round(a["elapsed_seconds"] * 1e6)
        holders = [orjson.dumps({k: v for k, v in x.items() if k != "seconds"}) for x in shares]
        assert len(set(holders)) == len(holders), "one entry a holder"
        assert orjson.dumps(a["responsible"]) in holders


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()
