"""The live KPI aggregator: what it publishes, what it no longer publishes, and its gauges."""

from __future__ import annotations

import orjson
from prometheus_client import generate_latest

from engine.instant import to_us
from engine.kpis import contributions, encode_facts
from tests.engine.kpis.support import POLICY, Tickets, cst, processor
from topologies import metrics
from topologies.kpis import KpiAggregator

DAY_US = 86_400 * 1_000_000


def facts_of(story: Tickets, ticket: str) -> bytes:
    proc = processor(story.events, None)
    return orjson.dumps(encode_facts(contributions(proc.tickets[ticket])))


def story() -> Tickets:
    t = Tickets()
    t.created("K1", cst(11, 24, 10), priority="A", team="team-7")
    t.add("K1", "responded", cst(11, 24, 10, 1))
    t.add("K1", "resolved", cst(11, 24, 11))
    return t


def test_snapshots_once_per_change_keyed_for_compaction() -> None:
    agg = KpiAggregator(POLICY, retention_days=35)
    agg.rebuild([])
    agg.update(None, facts_of(story(), "K1"))
    first = dict(agg.publishable(to_us(cst(11, 24, 12))))
    key = b"day|2026-11-24T00:00:00+08:00|team|team-7"
    assert key in first
    snap = orjson.loads(first[key] or b"null")
    assert snap["metrics"]["accepted"] == 1 and snap["metrics"]["resolved"] == 1
    assert agg.publishable(to_us(cst(11, 24, 12, 5))) == []  # nothing changed: nothing sent
    same = facts_of(story(), "K1")
    agg.update(same, same)
    assert agg.publishable(to_us(cst(11, 24, 12, 10))) == []


def test_forgetting_a_ticket_tombstones_recent_windows_only() -> None:
    recent = KpiAggregator(POLICY, retention_days=35)
    recent.rebuild([])
    raw = facts_of(story(), "K1")
    recent.update(None, raw)
    recent.publishable(to_us(cst(11, 24, 12)))
    recent.update(raw, None)
    tombstones = dict(recent.publishable(to_us(cst(11, 25, 12))))
    assert tombstones[b"month|2026-11-01T00:00:00+08:00|overall|all"] is None
    assert tombstones[b"hour|2026-11-24T10:00:00+08:00|priority|A"] is None

    old = KpiAggregator(POLICY, retention_days=35)
    old.rebuild([raw])
    old.publishable(to_us(cst(11, 24, 12)))
    old.update(raw, None)
    # 40 days on, every window of K1 started before the retention: its last snapshot stands
    assert old.publishable(to_us(cst(11, 24, 12)) + 40 * DAY_US) == []


def test_rebuild_from_stored_facts_equals_incremental_updates() -> None:
    t = story()
    t.created("K2", cst(11, 24, 15), priority="B", team="team-8")
    raws = [facts_of(t, "K1"), facts_of(t, "K2")]
    bulk = KpiAggregator(POLICY, retention_days=35)
    bulk.rebuild(raws)
    step = KpiAggregator(POLICY, retention_days=35)
    step.rebuild([])
    for raw in raws:
        step.update(None, raw)
    now = to_us(cst(11, 24, 16))
    assert bulk.publishable(now) == step.publishable(now)


def _kpi_series() -> list[str]:
    text = generate_latest(metrics.REGISTRY).decode()
    return [line for line in text.splitlines() if line.startswith("sla_kpi{")]


def test_gauges_follow_the_current_windows() -> None:
    agg = KpiAggregator(POLICY, retention_days=35)
    agg.rebuild([facts_of(story(), "K1")])
    agg.publishable(to_us(cst(11, 24, 12)))
    agg.refresh_gauges()
    series = _kpi_series()
    want = 'sla_kpi{dimension="team",key="team-7",metric="resolution_rate",unit="month"} 1.0'
    assert want in series
    assert not any('unit="hour"' in s for s in series)
    assert not any('dimension="agent"' in s for s in series)
    flags = generate_latest(metrics.REGISTRY).decode()
    assert 'sla_team_csat_flagged{team="team-7",unit="day"} 0.0' in flags

    agg.publishable(to_us(cst(12, 2, 12)))  # a new day, week and month: nothing in them yet
    agg.refresh_gauges()
    assert not any('key="team-7"' in s for s in _kpi_series())
    agg.clear_gauges()
    assert _kpi_series() == []


def test_open_backlog_by_age_band_now() -> None:
    t = story()
    t.created("K3", cst(11, 24, 10), priority="C")  # never resolved
    t.created("K4", cst(11, 26, 9), priority="C")  # never resolved
    agg = KpiAggregator(POLICY, retention_days=35)
    agg.rebuild([facts_of(t, k) for k in ("K1", "K3", "K4")])
    agg.publishable(to_us(cst(11, 26, 12)))  # K3 is 2 d 2 h old, K4 3 h, K1 resolved
    assert agg.store.open_backlog() == {
        "lt_1d": 1,
        "1d_3d": 1,
        "3d_5d": 0,
        "5d_10d": 0,
        "ge_10d": 0,
    }
    agg.refresh_gauges()
    text = generate_latest(metrics.REGISTRY).decode()
    assert 'sla_open_backlog{band="1d_3d"} 1.0' in text
    agg.clear_gauges()


def test_the_facts_message_from_dumped_facts_is_the_same_bytes() -> None:
    """The worker splices the facts it already dumped (`facts_message_raw`); a consumer must
    read exactly what `facts_message` writes."""

    from topologies.kpis import facts_message, facts_message_raw

    for encoded in ([], [["x", 1, None, 2.5, {"k": "v"}]], [[-(2**60), "ü", True]]):
        raw = orjson.dumps(encoded)
        assert facts_message_raw(1_790_000_000_000_000, raw) == facts_message(
            1_790_000_000_000_000, encoded
        )
