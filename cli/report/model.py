"""What `sla-engine report` shows, as data: the KPI rows against targets and last year, the teams
with the CSAT flag rule, the trend points, missing record fields, breaches by clock."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cli.report.source import ReportData
from schemas.outputs import KpiSnapshot

Kind = Literal["rate", "seconds", "business_seconds", "count"]
LEVELS = ("minor", "moderate", "severe")
FLAG = "csat_below_team_mean"


@dataclass(frozen=True)
class FlagRule:
    """The policy's team CSAT flag (`kpis.team_csat_flag`): to explain it and draw its line.
    Which teams are flagged is the snapshots' own `csat_below_team_mean`, never recomputed."""

    below: float = 0.15
    mode: str = "relative"
    policy_version: str | None = None
    min_surveys: int = 5  # kpis.team_csat_flag.min_surveys: fewer and a team is not rated

    def threshold(self, mean: float) -> float:
        """The CSAT at or below which a team is flagged."""
        return mean * (1 - self.below) if self.mode == "relative" else mean - self.below

    def describe(self) -> str:
        unit = "%" if self.mode == "relative" else "points"
        return (
            f"{self.below * 100:.0f} {unit} or more below the teams' mean; teams with at least "
            f"{self.min_surveys} surveys"
        )

    def rated(self, surveys: float | None) -> bool:
        """Whether a team has enough counted surveys to be compared (and flagged)."""
        return surveys is not None and surveys >= self.min_surveys


# --------------------------------------------------------------------------------------------
# the rows of the table


@dataclass(frozen=True)
class Row:
    """One KPI line: values as published (rates 0-1, seconds, counts); None = no data."""

    section: str
    label: str
    metric: str
    kind: Kind
    value: float | None
    last_year: float | None
    target: float | None
    gap: float | None

    @property
    def status(self) -> str:
        """Against the target (targets are "at least" shares, as in the engine)."""
        if self.target is None:
            return ""
        if self.value is None:
            return "no data"
        return "below target" if self.value < self.target - 1e-9 else "met"

    @property
    def change(self) -> float | None:
        """Versus last year: percentage points for rates, a relative change otherwise."""
        if self.value is None or self.last_year is None:
            return None
        if self.kind == "rate":
            return self.value - self.last_year
        if self.last_year == 0:
            return None
        return self.value / self.last_year - 1


_QUALITY: tuple[tuple[str, str, Kind], ...] = (
    ("Resolution rate", "resolution_rate", "rate"),
    ("CSAT (overall 4-5)", "csat", "rate"),
    ("Complaints answered within 24 h", "complaint_24h_rate", "rate"),
    ("First-contact resolution", "fcr_rate", "rate"),
    ("Reopen rate", "reopen_rate", "rate"),
    ("Record completeness", "records.completeness", "rate"),
    ("Survey participation", "surveys.participation", "rate"),
)
_TIMES: tuple[tuple[str, str, Kind], ...] = (
    ("First response, mean", "ttfr_wall_mean_s", "seconds"),
    ("First response, p90", "ttfr_wall_p90_s", "seconds"),
    ("Resolution, mean (business hours)", "ttr_business_mean_s", "business_seconds"),
    ("Resolution, p90 (business hours)", "ttr_business_p90_s", "business_seconds"),
    ("Resolution, mean (wall time)", "ttr_wall_mean_s", "seconds"),
    ("Resolution, p90 (wall time)", "ttr_wall_p90_s", "seconds"),
)
_BREACHES: tuple[tuple[str, str, Kind], ...] = (
    ("Minor (at the limit)", "breaches.minor", "count"),
    ("Moderate (150 %)", "breaches.moderate", "count"),
    ("Severe (200 %)", "breaches.severe", "count"),
    ("Exemptions granted", "exemptions", "count"),
    ("Appeals overturned", "appeals_overturned", "count"),
)
_VOLUME: tuple[tuple[str, str, Kind], ...] = (
    ("Accepted", "accepted", "count"),
    ("Resolved", "resolved", "count"),
    ("Complaints", "complaints", "count"),
    ("Surveys counted", "surveys.counted", "count"),
    ("Backlog at period end", "backlog", "count"),
)


def clock_title(clock: str) -> str:
    """`first_response` -> `First response`."""
    return clock.replace("_", " ").capitalize()


def clocks_of(metrics: Iterable[str], order: Sequence[str]) -> list[str]:
    """Clocks named in `sla.<clock>.*` or `breaches.<clock>.*` metrics, policy order first."""
    found = {
        name.split(".")[1]
        for name in metrics
        if name.count(".") == 2 and name.split(".")[0] in ("sla", "breaches")
    }
    found.discard("all")
    return [c for c in order if c in found] + sorted(found - set(order))


def _number(metrics: dict[str, float | int | None], name: str) -> float | None:
    v = metrics.get(name)
    return None if v is None else float(v)


def last_year_value(data: ReportData, metric: str) -> float | None:
    """The same period last year: the snapshot's own `last_year` comparison (computed with it),
    else the last-year window's snapshot in the file (it has every metric)."""
    comparison = data.overall.last_year
    if comparison is not None and metric in comparison.metrics:
        return _number(comparison.metrics, metric)
    if data.last_year is not None:
        return _number(data.last_year.metrics, metric)
    return None


def last_year_label(data: ReportData) -> str:
    comparison = data.overall.last_year
    return comparison.label if comparison is not None else data.period.last_year_label


def kpi_rows(data: ReportData, clock_order: Sequence[str] = ()) -> list[Row]:
    """The regulation's KPIs of the overall snapshot, in sections; any other metric with a
    target in the snapshot is added at the end so no target goes unreported."""
    snap = data.overall
    spec: list[tuple[str, str, str, Kind]] = [("Quality", *r) for r in _QUALITY]
    spec.append(("SLA attainment (met / due)", "All clocks", "sla.all.attainment", "rate"))
    spec += [
        ("SLA attainment (met / due)", clock_title(c), f"sla.{c}.attainment", "rate")
        for c in clocks_of(snap.metrics, clock_order)
        if f"sla.{c}.attainment" in snap.metrics
    ]
    spec += [("Response and resolution time", *r) for r in _TIMES]
    spec += [("Breaches and escalations", *r) for r in _BREACHES]
    spec += [("Volume", *r) for r in _VOLUME]
    listed = {metric for _, _, metric, _ in spec}
    spec += [("Other targets", m, m, "rate") for m in sorted(snap.targets) if m not in listed]
    rows = []
    for section, label, metric, kind in spec:
        value = _number(snap.metrics, metric)
        target = snap.targets.get(metric)
        gap = snap.gaps.get(metric) if metric in snap.gaps else None
        if gap is None and target is not None and value is not None:
            gap = round(value - target, 6)
        rows.append(
            Row(section, label, metric, kind, value, last_year_value(data, metric), target, gap)
        )
    return rows


@dataclass(frozen=True)
class TeamRow:
    """A team's line: CSAT against the teams' mean and the engine's 15 % flag."""

    team: str
    accepted: float | None
    resolution_rate: float | None
    attainment: float | None
    surveys: float | None
    csat: float | None
    teams_mean: float | None
    flagged: bool

    @property
    def vs_mean(self) -> float | None:
        """CSAT relative to the teams' mean (-0.2: 20 % below it)."""
        if self.csat is None or not self.teams_mean:
            return None
        return self.csat / self.teams_mean - 1


def team_rows(data: ReportData) -> list[TeamRow]:
    """One row per team snapshot of the period, by team name; the flag is the snapshot's."""
    out = []
    for s in sorted(data.teams, key=lambda s: s.key):
        m = s.metrics
        out.append(
            TeamRow(
                team=s.key,
                accepted=_number(m, "accepted"),
                resolution_rate=_number(m, "resolution_rate"),
                attainment=_number(m, "sla.all.attainment"),
                surveys=_number(m, "surveys.counted"),
                csat=_number(m, "csat"),
                teams_mean=_number(m, "csat_teams_mean"),
                flagged=FLAG in s.flags,
            )
        )
    return out


TREND_METRICS: tuple[tuple[str, str], ...] = (
    ("resolution_rate", "Resolution rate"),
    ("csat", "CSAT"),
    ("sla.all.attainment", "SLA attainment"),
)


@dataclass(frozen=True)
class TrendPoint:
    """One sub-window (a week of the month, a day of the week) of the trend."""

    label: str
    start: datetime
    end: datetime
    partial: bool  # it reaches outside the period
    accepted: float | None
    values: dict[str, float | None]

    @property
    def empty(self) -> bool:
        """No ticket accepted in it: its rates come from a few older tickets (not plotted)."""
        return not self.accepted


EMPTY_MARK = "†"
EMPTY_NOTE = f"{EMPTY_MARK} no ticket accepted in it: rates from older tickets, not plotted"


def trend_points(data: ReportData) -> list[TrendPoint]:
    start, end = data.overall.window.start, data.overall.window.end
    return [
        TrendPoint(
            label=s.window.label,
            start=s.window.start,
            end=s.window.end,
            partial=s.window.start < start or s.window.end > end,
            accepted=_number(s.metrics, "accepted"),
            values={m: _number(s.metrics, m) for m, _ in TREND_METRICS},
        )
        for s in data.trend
    ]


def missing_fields(snap: KpiSnapshot) -> tuple[int, list[tuple[str, int]]]:
    """Closed tickets of the window, and how many of them miss each record field (most first)."""
    closed = int(_number(snap.metrics, "records.closed") or 0)
    missing = [
        (name.removeprefix("records.missing."), int(value))
        for name, value in snap.metrics.items()
        if name.startswith("records.missing.") and isinstance(value, int | float) and value
    ]
    return closed, sorted(missing, key=lambda m: (-m[1], m[0]))


def breaches_by_clock(
    snap: KpiSnapshot, clock_order: Sequence[str] = ()
) -> list[tuple[str, dict[str, int]]]:
    """(clock, {level: count}) for every clock with at least one breach or escalation."""
    out = []
    for clock in clocks_of(snap.metrics, clock_order):
        counts = {lv: int(snap.metrics.get(f"breaches.{clock}.{lv}") or 0) for lv in LEVELS}
        if any(counts.values()):
            out.append((clock, counts))
    return out
