"""Helpers for the KPI tests: tickets told as event stories, replayed, and their snapshots.

Times are Asia/Shanghai wall times (the default policy's reporting zone). 2026-11-23 is a
Monday; business-cn hours are Monday-Friday 09:00-12:00 and 13:00-18:00, no holiday late in
November 2026.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from config.loader import load
from engine.history import from_model
from engine.instant import to_us
from engine.kpis import KpiAggregate, contributions
from engine.processor import Processor
from engine.rules import RuntimePolicy
from schemas.parse import parse_event

POLICY = load()
CST = timezone(timedelta(hours=8))
MIN, HOUR, DAY = 60, 3600, 86400


def cst(
    month: int,
    day: int,
    hour: int = 0,
    minute: int = 0,
    sec: int = 0,
    year: int = 2026,
    us: int = 0,
) -> datetime:
    return datetime(year, month, day, hour, minute, sec, us, tzinfo=CST)


@dataclass
class Tickets:
    """Event stories of several tickets; ids number in creation order per ticket."""

    events: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, ticket: str, type_: str, when: datetime, **fields: Any) -> str:
        n = self.counts[ticket] = self.counts.get(ticket, 0) + 1
        eid = f"{ticket}-e{n:02d}"
        self.events.append(
            {
                "event_id": eid,
                "ticket_id": ticket,
                "type": type_,
                "occurred_at": when.isoformat(),
                **fields,
            }
        )
        return eid

    def created(
        self,
        ticket: str,
        when: datetime,
        priority: str = "C",
        category: str = "simple",
        team: str = "team-1",
        agent: str = "a-1",
        **fields: Any,
    ) -> str:
        base: dict[str, Any] = {
            "priority": priority,
            "category": category,
            "channel": "phone",
            "team": team,
            "agent": agent,
            "supervisor": "s-1",
            "department": "after-sales",
            "product_line": "router",
            "customer": {"id": f"c-{ticket}"},
        }
        base.update(fields)
        return self.add(ticket, "created", when, **base)

    def survey(
        self, ticket: str, when: datetime, overall: int | None, rest: int = 3, **extra: Any
    ) -> str:
        scores: dict[str, Any] = {
            k: rest
            for k in (
                "responsiveness",
                "problem_solving",
                "professionalism",
                "patience",
                "proactive",
                "recommend",
            )
        }
        if overall is not None:
            scores["overall"] = overall
        scores.update(extra)
        return self.add(ticket, "survey_submitted", when, survey=scores)


def processor(
    events: Iterable[dict[str, Any]], until: datetime | None, policy: RuntimePolicy = POLICY
) -> Processor:
    proc = Processor(policy)
    for e in events:
        proc.ingest(e["ticket_id"], from_model(parse_event(orjson.dumps(e))))
    if until is not None:
        proc.advance(to_us(until))
    return proc


Key = tuple[str, str, str, str]  # unit, label, dimension, key


def snapshots(
    events: Iterable[dict[str, Any]],
    until: datetime | None,
    policy: RuntimePolicy = POLICY,
    exact: bool = True,
) -> dict[Key, dict[str, Any]]:
    """Replay the events, then every ticket's facts into a fresh store at the final clock."""
    proc = processor(events, until, policy)
    store = KpiAggregate(policy, exact=exact)
    store.advance(proc.clock)
    for ticket in proc.tickets.values():
        store.replace((), contributions(ticket))
    return by_key(store.snapshots())


def by_key(snaps: Iterable[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    return {(s["window"]["unit"], s["window"]["label"], s["dimension"], s["key"]): s for s in snaps}


def metrics(
    snaps: dict[Key, dict[str, Any]],
    unit: str,
    label: str,
    dimension: str = "overall",
    key: str = "all",
) -> dict[str, Any]:
    m: dict[str, Any] = snaps[(unit, label, dimension, key)]["metrics"]
    return m
