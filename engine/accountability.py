"""Breach and escalation counts per person or team for a period (accountability rules).

`tally(tickets, period, by, now)` is pure. It reads every ticket's SLA decisions (not the alert
stream, so arrival order and re-issues do not matter): each breach (minor) and escalation
(moderate, severe) whose threshold instant `due` lies in the period and is due by `now` counts
for the holder at `due` (the alert's `responsible`), by level:

- `standing` — not withdrawn: the input to the minor / moderate / severe handling;
- `exempted` — withdrawn by an `exemption_granted` of its clock cycle;
- `overturned` — withdrawn by an overturning `appeal_decided` (that grade and those above it).

Exempted and overturned decisions are counted separately and never in `standing`. A decision a
late event made untrue (a `late_event` retraction) is no decision and is not counted.

`breach_seconds` is the cross-department rule: the clock time of each standing breach (minor)
split by who had the ticket while its clock ran (`Decision.attribution`), summed per key; a
team that held the ticket for part of a breached cycle gets its share even when another team
was responsible at the breach.

Periods are in the reporting time zone: `2026` (year), `2026-11` (month), `2026-W48` (ISO
week), `2026-11-23` (day); a decision belongs to [start, end).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.alerts import suppressed
from engine.instant import iso, seconds, to_us
from engine.ticket import Ticket
from schemas.attributes import HOLDER_ROLES

BY = HOLDER_ROLES
LEVELS = ("minor", "moderate", "severe")
UNKNOWN = "unknown"  # the key of decisions whose holder names no value for `by`
_PERIOD = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?|-W(\d{2}))?$")


@dataclass(frozen=True, slots=True)
class Period:
    """[start, end) in µs, with its label (e.g. 2026-11)."""

    label: str
    start: int
    end: int
    tz: str


def period(text: str, tz: str) -> Period:
    """Parse `2026`, `2026-11`, `2026-W48` or `2026-11-23` as local calendar periods in `tz`."""
    m = _PERIOD.match(text.strip())
    if m is None:
        raise ValueError(
            f"{text!r} is not a period: use 2026 (year), 2026-11 (month), 2026-W48 (ISO week) "
            "or 2026-11-23 (day)"
        )
    year, month, day, week = m.groups()
    y = int(year)
    try:
        if week is not None:
            first = date.fromisocalendar(y, int(week), 1)
            after = date.fromordinal(first.toordinal() + 7)
        elif day is not None:
            first = date(y, int(month), int(day))
            after = date.fromordinal(first.toordinal() + 1)
        elif month is not None:
            first = date(y, int(month), 1)
            after = date(y + first.month // 12, first.month % 12 + 1, 1)
        else:
            first, after = date(y, 1, 1), date(y + 1, 1, 1)
    except ValueError as e:
        raise ValueError(f"{text!r} is not a period: {e}") from None
    zone = ZoneInfo(tz)

    def midnight(d: date) -> int:
        return to_us(datetime(d.year, d.month, d.day, tzinfo=zone))

    return Period(text.strip(), midnight(first), midnight(after), tz)


def _levels() -> dict[str, int]:
    return dict.fromkeys(LEVELS, 0)


@dataclass(slots=True)
class Row:
    """The counts of one key (an agent, supervisor, team or department)."""

    key: str
    standing: dict[str, int] = field(default_factory=_levels)
    exempted: dict[str, int] = field(default_factory=_levels)
    overturned: dict[str, int] = field(default_factory=_levels)
    breach_us: int = 0  # clock µs of standing breaches attributed to the key
    alert_ids: list[str] = field(default_factory=list)  # the standing alerts counted

    @property
    def total(self) -> int:
        return sum(self.standing.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "standing": dict(self.standing),
            "total": self.total,
            "exempted": dict(self.exempted),
            "overturned": dict(self.overturned),
            "breach_seconds": seconds(self.breach_us),
            "alert_ids": sorted(self.alert_ids),
        }


@dataclass(slots=True)
class Report:
    """Rows ordered by severe, moderate, minor standing counts (descending), then key."""

    period: Period
    by: str
    now: int
    policy_version: str
    rows: list[Row]
    totals: Row

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "start": iso(self.period.start),
            "end": iso(self.period.end),
            "timezone": self.period.tz,
            "by": self.by,
            "as_of": iso(self.now),
            "policy_version": self.policy_version,
            "rows": [r.to_dict() for r in self.rows],
            "totals": self.totals.to_dict(),
        }


def tally(
    tickets: Iterable[Ticket], span: Period, by: str, now: int, policy_version: str = ""
) -> Report:
    """Counts by level per `by` key of the breaches and escalations due in `span` and by `now`
    (see the module docstring). `tickets` as a replay left them (state fired up to `now`)."""
    if by not in BY:
        raise ValueError(f"unknown key {by!r}; one of {', '.join(BY)}")
    index = BY.index(by)
    rows: dict[str, Row] = {}
    totals = Row("all")

    def row(key: str | None) -> Row:
        k = key if key else UNKNOWN
        r = rows.get(k)
        if r is None:
            r = rows[k] = Row(k)
        return r

    for ticket in tickets:
        state = ticket.state
        withdrawn: dict[Any, tuple[str, str]] | None = None
        for d in state.decisions:
            if d.kind not in ("breach", "escalation") or d.level not in LEVELS:
                continue
            if not (span.start <= d.due < span.end and d.due <= now):
                continue
            if withdrawn is None:
                withdrawn = suppressed(ticket.ticket_id, state, ticket.ledger)
            r = row(d.responsible[index])
            why = withdrawn.get(d.key)
            if why is None:
                r.standing[d.level] += 1
                totals.standing[d.level] += 1
                entry = ticket.ledger.entries.get(d.key)
                if entry is not None and entry.active:
                    r.alert_ids.append(entry.ids[-1])
                if d.kind == "breach":
                    for holder, us in d.attribution:
                        if us:
                            row(holder[index]).breach_us += us
                            totals.breach_us += us
            elif why[0] == "exempted":
                r.exempted[d.level] += 1
                totals.exempted[d.level] += 1
            else:
                r.overturned[d.level] += 1
                totals.overturned[d.level] += 1
    ordered = sorted(
        rows.values(),
        key=lambda r: (
            -r.standing["severe"],
            -r.standing["moderate"],
            -r.standing["minor"],
            r.key,
        ),
    )
    return Report(span, by, now, policy_version, ordered, totals)
