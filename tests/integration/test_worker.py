"""The live worker against a real broker, real RocksDB and real HTTP scrapes (issue 4's tests)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import workload
from bench.figures import by_label
from config.loader import load
from engine.history import from_model
from engine.instant import to_us
from engine.processor import Processor
from offline.file import replay
from schemas.parse import parse_event
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import (
    Topics,
    WorkerProcess,
    alerts_of,
    consume,
    effective_keys,
    keyed,
    produce,
    wait_until,
)
from topologies.state.codec import decode


def iso(t: datetime) -> str:
    return t.isoformat()


def created(ticket: str, at: datetime, priority: str = "A", **extra: Any) -> dict[str, Any]:
    return {
        "event_id": f"{ticket}-1",
        "ticket_id": ticket,
        "type": "created",
        "occurred_at": iso(at),
        "priority": priority,
        "category": "simple",
        "channel": "phone",
        "team": "team-1",
        "agent": "a-1",
        "supervisor": "s-1",
        "department": "after-sales",
        "product_line": "router",
        **extra,
    }


def replay_keys(lines: list[bytes], until_us: int) -> set[tuple[Any, ...]]:
    out = io.BytesIO()
    replay(io.BytesIO(b"".join(lines)), load(None), until_us, out, None)
    return effective_keys([orjson.loads(x) for x in out.getvalue().splitlines()])


def due_by(keys: set[tuple[Any, ...]], until_us: int) -> set[tuple[Any, ...]]:
    return {k for k in keys if to_us(datetime.fromisoformat(k[5])) <= until_us}


@pytest.fixture(scope="module")
def live(
    broker: BrokerHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[WorkerProcess, Topics]]:
    topics = Topics.unique(broker.bootstrap)
    d = tmp_path_factory.mktemp("live")
    w = WorkerProcess(broker.bootstrap, topics, d / "data", d / "worker.log").start()
    w.wait_recovered()  # the tests stamp their events with the wall clock: read at once
    yield w, topics
    w.stop()


def test_unanswered_ticket_breaches_on_time_without_another_event(
    live: Any, broker: BrokerHandle
) -> None:
    _worker, topics = live
    now = datetime.now(UTC)
    # Priority A: warning at 60 s (already past: fires on arrival), breach at 120 s, i.e. ~8 s
    # from now, with no further event for this ticket.
    produce(
        broker.bootstrap, topics.events, keyed([created("T-LATE", now - timedelta(seconds=112))])
    )

    def breached(msgs: list[Any]) -> bool:
        return any(a["ticket_id"] == "T-LATE" and a["kind"] == "breach" for a in alerts_of(msgs))

    alerts = alerts_of(consume(broker.bootstrap, topics.alerts, until=breached, timeout=60, idle=0))
    breach = next(a for a in alerts if a["ticket_id"] == "T-LATE" and a["kind"] == "breach")
    due = datetime.fromisoformat(breach["due_at"])
    detected = datetime.fromisoformat(breach["detected_at"])
    assert (
        due
        == (now - timedelta(seconds=112) + timedelta(seconds=120)).replace(
            microsecond=due.microsecond
        )
        or abs((due - now).total_seconds() - 8) < 1
    )
    lag = (detected - due).total_seconds()
    assert 0 <= lag < 2, f"breach detected {lag:.3f} s after its due_at"
    assert breach["level"] == "minor" and breach["notify"] == ["agent"]


def test_invalid_input_goes_to_the_dead_letter_topic_and_the_worker_goes_on(
    live: Any, broker: BrokerHandle
) -> None:
    worker, topics = live
    now = datetime.now(UTC)
    naive = orjson.dumps({**created("T-NAIVE", now), "occurred_at": "2026-11-23T09:00:00"})
    unknown = orjson.dumps({**created("T-UNK", now), "type": "teleported"})
    garbage = b"\xff\x00not json at all"
    produce(
        broker.bootstrap, topics.events, [(b"T-NAIVE", naive), (b"T-UNK", unknown), (None, garbage)]
    )
    produce(
        broker.bootstrap, topics.events, keyed([created("T-AFTER", now - timedelta(seconds=70))])
    )
    dead = consume(broker.bootstrap, topics.dlq, until=lambda m: len(m) >= 3, timeout=60, idle=1)
    records = [orjson.loads(m.value()) for m in dead]
    by_raw = {r["raw"]: r for r in records}
    assert "timezone" in by_raw[naive.decode()]["reason"]
    assert "unknown event type 'teleported'" in by_raw[unknown.decode()]["reason"]
    import base64

    garbage_rec = next(r for r in records if r["raw_encoding"] == "base64")
    assert base64.b64decode(garbage_rec["raw"]) == garbage
    assert garbage_rec["reason"].startswith("not JSON")
    assert all(r["topic"] == topics.events and r["offset"] >= 0 for r in records)

    def warned(msgs: list[Any]) -> bool:
        return any(a["ticket_id"] == "T-AFTER" for a in alerts_of(msgs))

    alerts = alerts_of(consume(broker.bootstrap, topics.alerts, until=warned, timeout=30, idle=0))
    assert any(a["ticket_id"] == "T-AFTER" and a["kind"] == "warning" for a in alerts)
    assert worker.proc is not None and worker.proc.poll() is None


def test_no_customer_name_or_phone_leaves_the_engine(live: Any, broker: BrokerHandle) -> None:
    worker, topics = live
    now = datetime.now(UTC)
    ev = created(
        "T-PRIV",
        now - timedelta(seconds=300),
        customer={
            "id": "c-1",
            "name": "Wang Fang",
            "phone": "+86 139 1234 5678",
            "email": "wang.fang@example.cn",
        },
    )
    produce(broker.bootstrap, topics.events, keyed([ev]))
    msgs = consume(
        broker.bootstrap,
        topics.alerts,
        until=lambda m: any(a["ticket_id"] == "T-PRIV" for a in alerts_of(m)),
        timeout=30,
        idle=1,
    )
    blob = b"".join(m.value() for m in msgs) + worker.metrics().encode()
    assert any(a["ticket_id"] == "T-PRIV" for a in alerts_of(msgs))
    for secret in (b"Wang Fang", b"139 1234 5678", b"wang.fang@example.cn"):
        assert secret not in blob


def test_dead_letters_carry_no_customer_name_or_contact(live: Any, broker: BrokerHandle) -> None:
    _, topics = live
    now = datetime.now(UTC)
    customer = {"id": "c-2", "name": "Zhao Min", "phone": "+86 137 5555 0000", "email": "zm@x.cn"}
    bad = orjson.dumps({**created("T-DLQPRIV", now), "priority": "urgent", "customer": customer})
    truncated = orjson.dumps({**created("T-DLQCUT", now), "customer": customer})[:-12]
    produce(broker.bootstrap, topics.events, [(b"T-DLQPRIV", bad), (b"T-DLQCUT", truncated)])

    def both(msgs: list[Any]) -> bool:
        raws = [orjson.loads(m.value())["raw"] for m in msgs]
        return sum("T-DLQPRIV" in r or "T-DLQCUT" in r for r in raws) >= 2

    dead = consume(broker.bootstrap, topics.dlq, until=both, timeout=60, idle=1)
    mine = [
        r
        for r in (orjson.loads(m.value()) for m in dead)
        if "T-DLQPRIV" in r["raw"] or "T-DLQCUT" in r["raw"]
    ]
    assert len(mine) == 2
    blob = b"".join(m.value() for m in dead)
    for secret in (b"Zhao Min", b"137 5555 0000", b"zm@x.cn"):
        assert secret not in blob
    parsed = next(r for r in mine if "T-DLQPRIV" in r["raw"])
    assert "priority" in parsed["reason"]
    assert orjson.loads(parsed["raw"])["customer"] == {
        "id": "c-2",
        "name": "[redacted]",
        "phone": "[redacted]",
        "email": "[redacted]",
    }
    assert next(r for r in mine if "T-DLQCUT" in r["raw"])["reason"].startswith("not JSON")


def test_metrics_scraped_over_http_move(live: Any, broker: BrokerHandle) -> None:
    worker, topics = live
    before = worker.sample("sla_events_consumed_total")
    alerts_before = worker.sample("sla_alerts_total")
    work_before = by_label(worker.metrics(), "sla_work_seconds_total", "work")
    now = datetime.now(UTC)
    produce(
        broker.bootstrap,
        topics.events,
        keyed([created(f"T-M{i}", now - timedelta(seconds=200)) for i in range(5)]),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        worker.sample("sla_events_consumed_total") < before + 5
        or worker.sample("sla_alerts_total") < alerts_before + 10
    ):
        time.sleep(0.2)
    assert worker.sample("sla_events_consumed_total") >= before + 5
    assert worker.sample("sla_alerts_total") >= alerts_before + 10  # 5 × (warning + breach)
    text = worker.metrics()
    assert (
        'sla_alerts_total{clock="first_response",kind="breach",level="minor",priority="A",'
        'team="team-1"}' in text
    )
    assert "sla_timer_lag_seconds_bucket" in text and "sla_open_tickets" in text
    work = by_label(text, "sla_work_seconds_total", "work")  # the worker's own time, by kind
    assert set(work) == {"events", "ticks", "timer_scan", "commit", "kpi_facts", "kpi_publish"}
    assert work["events"] > work_before["events"]  # the batches that read the five were timed


def test_live_equals_replay_for_generated_history(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    # within the retention horizon (35 days): older events are rejected (issue 11, 7)
    start = datetime.now(UTC) - timedelta(days=20)
    lines = workload.lines(300, seed=11, start=start, span=timedelta(days=2))
    worker = WorkerProcess(broker.bootstrap, topics, tmp_path / "data", tmp_path / "w.log").start()
    try:
        produce(
            broker.bootstrap,
            topics.events,
            [(orjson.loads(x)["ticket_id"].encode(), x.rstrip(b"\n")) for x in lines],
        )
        until = to_us(datetime.now(UTC))
        want = replay_keys(lines, until)
        got_msgs = consume(
            broker.bootstrap,
            topics.alerts,
            until=lambda m: len(m) >= len(want),
            timeout=120,
            idle=4,
        )
        got = effective_keys(alerts_of(got_msgs))
    finally:
        worker.stop()
    assert len(want) > 300
    assert got == want


N_KILL = 120  # tickets; each burst goes out in batched changelog writes


def test_sigkill_and_recovery_into_an_empty_data_dir(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    now = datetime.now(UTC)
    # N_KILL tickets, most answered at once; produced in one burst, so the worker's changelog
    # writes are batched (a stale recovery would then miss some `responded` and page wrongly).
    events: list[dict[str, Any]] = []
    for i in range(N_KILL):
        t = f"K{i:03d}"
        events.append(created(t, now - timedelta(seconds=100 + i % 40), priority="ABC"[i % 3]))
        if i % 5:
            events.append(
                {"event_id": f"{t}-2", "ticket_id": t, "type": "responded",
                 "occurred_at": iso(now - timedelta(seconds=95))}
            )  # fmt: skip
    # After the kill: one more event per ticket, which the new worker folds onto what it recovered.
    later = [
        {"event_id": f"K{i:03d}-3", "ticket_id": f"K{i:03d}", "type": "assigned", "agent": "a-9",
         "occurred_at": iso(now - timedelta(seconds=1))}
        for i in range(N_KILL)
    ]  # fmt: skip
    everything = events + later
    proc = Processor(load(None))
    for e in everything:
        ev = parse_event(orjson.dumps(e))
        proc.ingest(ev.ticket_id, from_model(ev))
    final = {tid: [e.id for e in t.history] for tid, t in proc.tickets.items()}
    before = {tid: ids[:-1] for tid, ids in final.items()}  # without the `-3` event
    changelog = f"{topics.group}-tickets-changelog"
    w1 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d1", tmp_path / "w1.log").start()
    produce(broker.bootstrap, topics.events, keyed(events))
    # Killed once its changelog holds every ticket as of its last event: the new worker then
    # recovers them from the changelog, not by reprocessing.
    assert stored_histories(broker.bootstrap, changelog, before) == before, w1.log_tail()
    w1.kill()
    produce(broker.bootstrap, topics.events, keyed(later))
    # The first-response breaches of unanswered tickets (created 100-139 s ago, due at 120 s) all
    # fall due within 25 s; what replay decides up to then is what the alerts topic must hold.
    until = to_us(now + timedelta(seconds=25))
    lines = [orjson.dumps(e) + b"\n" for e in everything]
    want = due_by(replay_keys(lines, until), until)
    assert any(k[3] == "breach" for k in want)
    w2 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d2", tmp_path / "w2.log").start()
    try:
        # What the new worker holds (its changelog) equals replay's state of every ticket.
        got_state = stored_histories(broker.bootstrap, changelog, final, timeout=90)
        wrong = {t: (got_state.get(t), ids) for t, ids in final.items() if got_state.get(t) != ids}
        consumed = w2.sample("sla_events_consumed_total")
        assert not wrong, (
            f"{len(wrong)} tickets differ: {sorted(wrong.items())[:3]}; the new worker processed "
            f"{consumed:g} events:\n{w2.log_tail(60)}"
        )

        def all_due(msgs: list[Any]) -> bool:
            return due_by(effective_keys(alerts_of(msgs)), until) >= want

        got_all = alerts_of(consume(broker.bootstrap, topics.alerts, until=all_due, timeout=90))
        assert due_by(effective_keys(got_all), until) == want
    finally:
        w2.stop()


def stored_histories(
    bootstrap: str, changelog: str, want: dict[str, list[str]], timeout: float = 60
) -> dict[str, list[str]]:
    """Each ticket's event ids in its latest changelog record, read until they are `want`."""
    policy = load(None)
    got: dict[str, list[str]] = {}

    def done(msgs: list[Any]) -> bool:
        got.clear()
        for m in msgs:
            if m.value() is not None:
                got[m.key().decode()] = [e.id for e in decode(m.value(), policy).history]
        return got == want

    consume(bootstrap, changelog, until=done, timeout=timeout, idle=0)
    return dict(got)


def test_two_workers_then_one_stops(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    now = datetime.now(UTC)
    events = [
        created(f"R{i:03d}", now - timedelta(seconds=95 - i % 20), priority="A") for i in range(40)
    ]
    w1 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d1", tmp_path / "w1.log").start()
    w2 = WorkerProcess(broker.bootstrap, topics, tmp_path / "d2", tmp_path / "w2.log").start()
    try:
        wait_until(  # both in the group: each has been assigned events partitions
            lambda: all("sla_consumer_lag{" in w.metrics() for w in (w1, w2)),
            60,
            "both workers own partitions",
        )
        produce(broker.bootstrap, topics.events, keyed(events))
        consume(broker.bootstrap, topics.alerts, until=lambda m: len(m) >= 40, timeout=60, idle=0)
        w2.stop()
        # every breach (120 s after creation, the last ~44 s from now) falls due by `until`
        until = to_us(now) + 46_000_000
        lines = [orjson.dumps(e) + b"\n" for e in events]
        want = due_by(replay_keys(lines, until), until)
        assert any(k[3] == "breach" for k in want)

        def all_due(msgs: list[Any]) -> bool:
            return due_by(effective_keys(alerts_of(msgs)), until) == want

        msgs = consume(broker.bootstrap, topics.alerts, until=all_due, timeout=120, idle=0)
        assert due_by(effective_keys(alerts_of(msgs)), until) == want
    finally:
        w1.stop()
        w2.stop()


def test_closed_tickets_leave_the_table_after_retention(
    broker: BrokerHandle, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap)
    retention_s = 15.0  # events older than that are rejected: these are 1-3 s old
    worker = WorkerProcess(
        broker.bootstrap,
        topics,
        tmp_path / "d",
        tmp_path / "w.log",
        extra=["--retention-days", str(retention_s / 86400)],
    )
    worker.start()
    try:
        worker.wait_recovered()  # the events are read at once: stamped now, not before a slow start
        now = datetime.now(UTC)
        events = [
            created("X-1", now - timedelta(seconds=3)),
            {
                "event_id": "X-1-2",
                "ticket_id": "X-1",
                "type": "responded",
                "occurred_at": iso(now - timedelta(seconds=2)),
            },
            {
                "event_id": "X-1-3",
                "ticket_id": "X-1",
                "type": "closed",
                "occurred_at": iso(now - timedelta(seconds=1)),
            },
            created("X-2", now - timedelta(seconds=1), priority="C"),
        ]
        produce(broker.bootstrap, topics.events, keyed(events))
        changelog = f"{topics.group}-tickets-changelog"

        def dropped(msgs: list[Any]) -> bool:
            return any(m.key() == b"X-1" and not m.value() for m in msgs)

        msgs = consume(broker.bootstrap, changelog, until=dropped, timeout=60, idle=0)
        assert dropped(msgs), "closed ticket X-1 was not deleted after its retention"
        assert not any(m.key() == b"X-2" and not m.value() for m in msgs)
        assert worker.sample("sla_open_tickets") >= 1  # X-2 still has a running clock
        # Re-delivered after the drop, X-1's `created` is older than the retention horizon: it
        # is dead-lettered, not a new ticket that would announce X-1's alert ids again.
        produce(broker.bootstrap, topics.events, keyed(events[:1]))
        dead = consume(
            broker.bootstrap,
            topics.dlq,
            until=lambda m: any(b"retention horizon" in x.value() for x in m),
            timeout=30,
            idle=0,
        )
        record = orjson.loads(dead[-1].value())
        assert "older than the retention horizon" in record["reason"]
        assert record["key"] == "X-1" and orjson.loads(record["raw"]) == events[0]
        after = consume(broker.bootstrap, changelog, timeout=30, idle=2)
        last = [m for m in after if m.key() == b"X-1"][-1]
        assert not last.value(), "X-1 was reopened by a re-delivered event"
    finally:
        worker.stop()


def _label_values(text: str, family: str, label: str, **match: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    return {
        sample.labels[label]
        for fam in text_string_to_metric_families(text)
        if fam.name == family
        for sample in fam.samples
        if label in sample.labels and all(sample.labels.get(k) == v for k, v in match.items())
    }


def test_200_team_names_give_a_bounded_number_of_series(live: Any, broker: BrokerHandle) -> None:
    from topologies.labels import TEAM_CAP

    worker, topics = live
    now = datetime.now(UTC)
    crowd = [
        created(f"CROWD-{i:03d}", now - timedelta(seconds=70), team=f"crowd-{i:03d}")
        for i in range(200)
    ]
    produce(broker.bootstrap, topics.events, keyed(crowd))

    def all_warned(msgs: list[Any]) -> bool:
        return len({a["ticket_id"] for a in alerts_of(msgs) if "CROWD-" in a["ticket_id"]}) >= 200

    consume(broker.bootstrap, topics.alerts, until=all_warned, timeout=90, idle=0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # the KPI gauges refresh every kpi_interval
        text = worker.metrics()
        if any(k.startswith("crowd-") for k in _label_values(text, "sla_kpi", "key")):
            break
        time.sleep(0.5)
    alert_teams = _label_values(text, "sla_alerts", "team")
    kpi_teams = _label_values(text, "sla_kpi", "key", dimension="team")
    flagged = _label_values(text, "sla_team_csat_flagged", "team")
    assert "other" in alert_teams
    assert len(alert_teams - {"", "other"}) <= TEAM_CAP
    assert any(k.startswith("crowd-") for k in kpi_teams)
    assert len(kpi_teams) <= TEAM_CAP and len(flagged) <= TEAM_CAP
    assert worker.sample("sla_label_overflow_total") >= 200 - TEAM_CAP


def _documented_metrics() -> set[str]:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text()
    exposed = doc.split("## Planned")[0]
    return {line.split("`")[1] for line in exposed.splitlines() if line.startswith("| `sla_")}


def test_exposed_metrics_equal_the_documented_catalog(live: Any) -> None:
    worker, _topics = live
    text = worker.metrics()
    exposed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE sla_")}
    assert exposed == _documented_metrics()
    labels = [line for line in text.splitlines() if line.startswith("sla_") and "{" in line]
    for line in labels:  # bounded labels: no ticket or event ids
        assert "T-" not in line and "ticket" not in line.split("{")[1]
