"""`bench audit`'s live alerts (bench/audit_live.py): split over shard processes they are exactly
the alerts of one replay of the same events, and the withheld ones are every `drop_every`-th
standing decision. Offline: the events go to the shards as `prepare` feeds them."""

from __future__ import annotations

from datetime import timedelta

import orjson

import workload
from bench.audit import START
from bench.audit_live import DELAY_US, GRACE_US, LiveAlerts
from config.loader import load
from engine.audit import us
from engine.history import from_model
from engine.replay import Replay
from kafka_io.producer import partition_for
from schemas.parse import parse_event

SPAN = timedelta(days=1)
SINCE, UNTIL = us(START.isoformat()), us((START + SPAN).isoformat())


def _events() -> list[tuple[int, int, bytes]]:
    """(occurred_at µs, partition, bytes) of a small centre, in the audit's order."""
    out = []
    for e in workload.stream(400, 5, START, SPAN):
        raw = orjson.dumps(e)
        out.append((us(e["occurred_at"]), partition_for(e["ticket_id"].encode(), 4), raw))
    return sorted(out, key=lambda r: (r[0] // 1000, r[1]))  # stable: offsets in order


def _live(events: list[tuple[int, int, bytes]], workers: int, drop_every: int) -> list[bytes]:
    with LiveAlerts(SINCE, UNTIL, drop_every, workers) as live:
        for at_us, part, raw in events:
            live.feed(at_us, part, raw)
        return [body for _, body, _, _ in live.records()]


def _one_replay(events: list[tuple[int, int, bytes]]) -> list[dict[str, object]]:
    """The alerts of one in-memory replay, stamped as the live engine publishes them."""
    run = Replay.start(load(None))
    out = []
    for at_us, _, raw in events:
        event = parse_event(raw)
        for a in run.feed(event.ticket_id, from_model(event), at_us // 1000 * 1000):
            out.append((a, run.arrival(a["ticket_id"])))
    out += [(a, run.arrival(a["ticket_id"])) for a in run.finish(UNTIL + GRACE_US)]
    alerts = []
    for a, arrived in out:
        due = us(str(a["due_at"]))
        if SINCE <= due < UNTIL:
            detected = max(due, arrived or due) + DELAY_US
            alerts.append(a | {"detected_at": detected})
    return alerts


def test_sharded_live_alerts_are_one_replays_alerts() -> None:
    events = _events()
    one = _one_replay(events)
    assert len(one) > 300
    local = _live(events, 0, 10**9)
    sharded = _live(events, 2, 10**9)
    assert sharded == local  # the same records in the same publication order
    got = sorted((orjson.loads(b) for b in sharded), key=lambda a: (a["alert_id"], a["kind"]))
    want = sorted(one, key=lambda a: (a["alert_id"], a["kind"]))
    assert [{**a, "detected_at": us(a["detected_at"])} for a in got] == want


def test_every_nth_standing_decision_is_withheld() -> None:
    events = _events()
    every = _live(events, 0, 10**9)
    kept = _live(events, 2, 7)
    alerts = [orjson.loads(b) for b in every]
    retracted = {a.get("retracts") for a in alerts}
    standing = [a for a in alerts if a["kind"] != "retraction" and a["alert_id"] not in retracted]
    withheld = {a["alert_id"] for a in standing[6::7]}
    assert len(withheld) > 10
    assert [orjson.loads(b) for b in kept] == [a for a in alerts if a["alert_id"] not in withheld]
