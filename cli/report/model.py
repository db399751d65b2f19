"""`sla-engine report`: the monitoring regulation's periodic KPI table from a replay's snapshots.

Reads the JSONL written by `sla-engine replay --kpis` and prints, for one month (or ISO week),
each KPI's current value, the same period last year, the target, the gap and a status; then
the teams (CSAT and the 15 % flag), the weekly trend and breaches by clock. `--html` writes
the same as one self-contained HTML file with charts (`cli.report_html`).

Exit codes: 0 report written; 1 the file has no overall snapshot of that period; 2 the input
cannot be read or is not KPI snapshots, or the HTML file cannot be written.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import ValidationError

from config.loader import load
from schemas.outputs import KpiSnapshot

Kind = Literal["rate", "seconds", "business_seconds", "count"]
LEVELS = ("minor", "moderate", "severe")
FLAG = "csat_below_team_mean"

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_WEEK = re.compile(r"(\d{4})-W(\d{2})")


class ReportError(Exception):
    """A report that cannot be made; `code` is the process exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------------------------
# the period


@dataclass(frozen=True)
class Period:
    """The reported window (the engine's window label) and where its comparisons live."""

    unit: Literal["month", "week"]
    label: str
    last_year_label: str

    @property
    def sub_unit(self) -> Literal["week", "day"]:
        """The windows of the trend chart: weeks of a month, days of a week."""
        return "week" if self.unit == "month" else "day"

    @property
    def noun(self) -> str:
        return "month" if self.unit == "month" else "ISO week"


def parse_period(text: str) -> Period:
    """`2026-11` (a month) or `2026-W48` (an ISO week); argparse type."""
    if m := _MONTH.fullmatch(text):
        year, month = int(m[1]), m[2]
        return Period("month", text, f"{year - 1:04d}-{month}")
    if m := _WEEK.fullmatch(text):
        year, week = int(m[1]), int(m[2])
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: {year} has no ISO week {week}") from None
        return Period("week", text, f"{year - 1:04d}-W{week:02d}")
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a period; use a month (2026-11) or an ISO week (2026-W48)"
    )


# --------------------------------------------------------------------------------------------
# reading the snapshots


@dataclass
class ReportData:
    """The snapshots one report needs, validated."""

    period: Period
    source: str
    overall: KpiSnapshot
    teams: list[KpiSnapshot]
    last_year: KpiSnapshot | None  # the overall snapshot of last year's window, if in the file
    trend: list[KpiSnapshot]  # overall snapshots of the sub-windows overlapping the period
    snapshots_read: int = 0


_REQUIRED = (("window", dict), ("dimension", str), ("key", str), ("metrics", dict))


def _shape_problem(obj: Any) -> str | None:
    """Why a decoded line is not a KPI snapshot (cheap check run on every line), or None."""
    if not isinstance(obj, dict):
        return f"a JSON {type(obj).__name__}, not an object"
    missing = [name for name, kind in _REQUIRED if not isinstance(obj.get(name), kind)]
    if missing:
        hint = " (an alerts file?)" if "alert_id" in obj else ""
        return f"no {', '.join(missing)}{hint}"
    window = obj["window"]
    if not isinstance(window.get("unit"), str) or not isinstance(window.get("label"), str):
        return "window has no unit or label"
    return None


def _validate(obj: dict[str, Any], where: str) -> KpiSnapshot:
    try:
        return KpiSnapshot.model_validate(obj)
    except ValidationError as e:
        first = e.errors()[0]
        loc = ".".join(str(p) for p in first["loc"]) or "(line)"
        raise ReportError(f"{where}: not a valid KPI snapshot: {loc}: {first['msg']}") from None


def _as_of(obj: dict[str, Any]) -> datetime:
    """A snapshot's stream-time clock (the earliest instant when missing or unreadable)."""
    try:
        return datetime.fromisoformat(obj["as_of"])
    except (KeyError, TypeError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


@dataclass
class _Pick:
    """The newest snapshot seen per (unit, label, dimension, key): a file holding two replays
    of the same window reports the later `as_of` (the later line on a tie)."""

    chosen: dict[tuple[str, str, str, str], tuple[str, dict[str, Any]]] = field(
        default_factory=dict
    )

    def offer(self, where: str, obj: dict[str, Any]) -> None:
        w = obj["window"]
        key = (w["unit"], w["label"], obj["dimension"], obj["key"])
        old = self.chosen.get(key)
        if old is None or _as_of(obj) >= _as_of(old[1]):
            self.chosen[key] = (where, obj)

    def validated(self) -> dict[tuple[str, str, str, str], KpiSnapshot]:
        return {k: _validate(obj, where) for k, (where, obj) in sorted(self.chosen.items())}


def load_report(path: str, period: Period) -> ReportData:
    """Read a KPI snapshot file and keep the snapshots of `period`'s report. Every line is
    checked to be a snapshot; only the kept ones are fully validated (a replay of a year
    writes hundreds of thousands of hour and agent snapshots)."""
    name = Path(path).name
    wanted = {(period.unit, period.label), (period.unit, period.last_year_label)}
    pick = _Pick()
    labels: set[str] = set()
    count = 0
    try:
        with Path(path).open("rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                where = f"{path}:{n}"
                try:
                    obj = orjson.loads(raw)
                except orjson.JSONDecodeError as e:
                    raise ReportError(f"{where}: not JSON ({e})") from None
                problem = _shape_problem(obj)
                if problem is not None:
                    raise ReportError(f"{where}: not a KPI snapshot: {problem}")
                count += 1
                unit, label = obj["window"]["unit"], obj["window"]["label"]
                dim = obj["dimension"]
                if dim not in ("overall", "team"):
                    continue
                if unit == period.unit and dim == "overall":
                    labels.add(label)
                if (unit, label) in wanted or (unit == period.sub_unit and dim == "overall"):
                    pick.offer(where, obj)
    except OSError as e:
        raise ReportError(f"{path}: cannot read: {e.strerror}") from None
    if count == 0:
        raise ReportError(f"{path}: no KPI snapshots in the file")
    snaps = pick.validated()
    overall = snaps.get((period.unit, period.label, "overall", "all"))
    if overall is None:
        have = sorted(labels)
        listed = ", ".join(have[-24:]) if have else "none"
        raise ReportError(
            f"{name} has no overall snapshot of {period.noun} {period.label} "
            f"({period.noun}s in the file: {listed})",
            code=1,
        )
    teams = [
        s
        for (u, lab, dim, _), s in snaps.items()
        if (u, lab, dim) == (period.unit, period.label, "team")
    ]
    start, end = overall.window.start, overall.window.end
    trend = sorted(
        (
            s
            for (u, _, dim, _), s in snaps.items()
            if u == period.sub_unit
            and dim == "overall"
            and s.window.start < end
            and s.window.end > start
        ),
        key=lambda s: s.window.start,
    )
    return ReportData(
        period=period,
        source=name,
        overall=overall,
        teams=teams,
        last_year=snaps.get((period.unit, period.last_year_label, "overall", "all")),
        trend=trend,
        snapshots_read=count,
    )


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


# --------------------------------------------------------------------------------------------
# formatting (shared by the terminal and the HTML)


def fmt_seconds(seconds: float, business: bool = False) -> str:
    """A duration with a unit a reader takes in at a glance; business time stays in hours."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if business or seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def fmt_value(kind: Kind, value: float | None) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{value * 100:.1f} %"
    if kind == "count":
        return f"{value:,.0f}"
    return fmt_seconds(value, business=kind == "business_seconds")


def _signed(value: float, digits: int) -> str:
    """`+1.5`, `-0.3`; a value that rounds to zero is `+0.0`, never `-0.0`."""
    return f"{round(value, digits) + 0.0:+,.{digits}f}"


def fmt_gap(row: Row) -> str:
    if row.gap is None:
        return "-"
    return f"{_signed(row.gap * 100, 1)} pp" if row.kind == "rate" else _signed(row.gap, 3)


def fmt_change(row: Row) -> str:
    change = row.change
    if change is None:
        return "-"
    if row.kind == "rate":
        return f"{_signed(change * 100, 1)} pp"
    return f"{_signed(change * 100, 0)} %"


def fmt_vs_mean(team: TeamRow) -> str:
    return "-" if team.vs_mean is None else f"{_signed(team.vs_mean * 100, 1)} %"


def fmt_target(row: Row) -> str:
    return "-" if row.target is None else f">= {row.target * 100:.1f} %"


def fmt_day(moment: datetime) -> str:
    return moment.strftime("%d %b %Y")


def window_text(snap: KpiSnapshot) -> str:
    """`2026-11-01 - 2026-11-30 (UTC+08:00)`: the inclusive days of the window."""
    w = snap.window
    last = w.end - timedelta(microseconds=1)
    offset = w.start.strftime("%z")
    zone = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    return f"{w.start.date().isoformat()} - {last.date().isoformat()} ({zone})"


def notes(data: ReportData, flag_policy_version: str | None = None) -> list[str]:
    """What a reader must know to trust the numbers."""
    out = []
    snap = data.overall
    if not snap.final:
        out.append(
            f"Provisional: the window was not final when the snapshot was taken "
            f"(as of {snap.as_of.isoformat() if snap.as_of else 'unknown'})."
        )
    if snap.last_year is None and data.last_year is None:
        out.append(f"No data for the same period last year ({data.period.last_year_label}).")
    if flag_policy_version is not None and flag_policy_version != snap.policy_version:
        out.append(
            f"The team flag line is drawn from policy {flag_policy_version}; the snapshots were "
            f"computed with {snap.policy_version} (highlighted teams are the snapshots' flags)."
        )
    return out


# --------------------------------------------------------------------------------------------
# the terminal


def print_report(
    data: ReportData, clock_order: Sequence[str], console: Any, rule: FlagRule | None = None
) -> None:
    """The report as rich tables on `console`."""
    from rich.table import Table
    from rich.text import Text

    snap = data.overall
    ly = last_year_label(data)
    rule = rule or FlagRule()
    console.print(f"[bold]SLA {data.period.noun} report {data.period.label}[/], overall")
    console.print(
        f"{window_text(snap)} · {'final' if snap.final else 'provisional'} · "
        f"policy {snap.policy_version} · {data.source}: {data.snapshots_read:,} snapshots"
    )
    for note in notes(data):
        console.print(f"[yellow]note:[/] {note}")

    table = Table(title=f"KPIs {data.period.label}, overall", title_justify="left")
    table.add_column("KPI", no_wrap=True)
    for head in (data.period.label, f"{ly}\nlast year", "target", "gap", "vs\nlast year"):
        table.add_column(head, justify="right")
    table.add_column("status")
    section = None
    for row in kpi_rows(data, clock_order):
        if row.section != section:
            if section is not None:
                table.add_section()
            table.add_row(Text(row.section, style="bold"))
            section = row.section
        style = {"met": "green", "below target": "bold red", "no data": "dim"}.get(row.status, "")
        table.add_row(
            "  " + row.label,
            fmt_value(row.kind, row.value),
            fmt_value(row.kind, row.last_year),
            fmt_target(row),
            fmt_gap(row),
            fmt_change(row),
            Text(row.status, style=style),
        )
    console.print(table)

    closed, missing = missing_fields(snap)
    if missing:
        t = Table(
            title=f"Missing record fields ({closed:,} closed tickets)",
            title_justify="left",
        )
        t.add_column("field")
        t.add_column("missing", justify="right")
        t.add_column("share", justify="right")
        for name, count in missing:
            t.add_row(name, f"{count:,}", fmt_value("rate", count / closed if closed else None))
        console.print(t)

    teams = team_rows(data)
    if teams:
        t = Table(
            title=f"Teams {data.period.label} (flag: CSAT {rule.describe()})",
            title_justify="left",
        )
        t.add_column("team")
        for head in ("accepted", "resolution", "SLA att.", "surveys", "CSAT", "vs mean"):
            t.add_column(head, justify="right")
        t.add_column("flag")
        for tr in teams:
            t.add_row(
                tr.team,
                fmt_value("count", tr.accepted),
                fmt_value("rate", tr.resolution_rate),
                fmt_value("rate", tr.attainment),
                fmt_value("count", tr.surveys),
                fmt_value("rate", tr.csat),
                fmt_vs_mean(tr),
                Text("FLAGGED", style="bold red")
                if tr.flagged
                else ("" if rule.rated(tr.surveys) else Text("too few surveys", style="dim")),
            )
        console.print(t)

    points = trend_points(data)
    if points:
        t = Table(title=f"By {data.period.sub_unit}", title_justify="left")
        t.add_column(data.period.sub_unit)
        t.add_column("accepted", justify="right")
        for _, title in TREND_METRICS:
            t.add_column(title, justify="right")
        for p in points:
            t.add_row(
                p.label + (" *" if p.partial else "") + (f" {EMPTY_MARK}" if p.empty else ""),
                fmt_value("count", p.accepted),
                *(fmt_value("rate", p.values[m]) for m, _ in TREND_METRICS),
                style="dim" if p.empty else None,
            )
        captions = ["* reaches outside the period"] if any(p.partial for p in points) else []
        captions += [EMPTY_NOTE] if any(p.empty for p in points) else []
        t.caption = "\n".join(captions) or None
        console.print(t)

    by_clock = breaches_by_clock(snap, clock_order)
    if by_clock:
        t = Table(title="Breaches and escalations by clock", title_justify="left")
        t.add_column("clock")
        for head in (*LEVELS, "total"):
            t.add_column(head, justify="right")
        for clock, counts in by_clock:
            t.add_row(
                clock_title(clock),
                *(f"{counts[lv]:,}" for lv in LEVELS),
                f"{sum(counts.values()):,}",
            )
        console.print(t)


# --------------------------------------------------------------------------------------------
# the command


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="the monthly KPI report (terminal table, optional HTML with charts)",
        description="Read the KPI snapshots written by `sla-engine replay --kpis` and print the "
        "period's KPIs: current value, same period last year, target, gap and status; teams "
        "with the CSAT flag; the weekly trend; breaches by clock. Exit 1 when the file has no "
        "snapshot of the period, 2 when it cannot be read or is not KPI snapshots.",
    )
    p.add_argument("--input", required=True, metavar="KPIS.jsonl", help="KPI snapshots (JSONL)")
    p.add_argument(
        "--period",
        required=True,
        type=parse_period,
        help="a month (2026-11) or an ISO week (2026-W48), in the reporting time zone",
    )
    p.add_argument(
        "--html",
        metavar="OUT.html",
        help="also write one self-contained HTML file with the tables and charts",
    )
    p.add_argument(
        "--policy",
        help="policy YAML for the clock order and the team flag line on the chart "
        "(default: the bundled default policy; the flags themselves come from the snapshots)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    try:
        data = load_report(args.input, args.period)
    except ReportError as e:
        print(f"sla-engine report: {e}", file=sys.stderr)
        return e.code
    policy = load(args.policy)
    clock_order = [c.name for c in policy.clocks]
    rule = FlagRule(
        below=policy.kpis.team_csat_below,
        mode=policy.kpis.team_csat_mode,
        policy_version=policy.version,
        min_surveys=policy.kpis.team_csat_min_surveys,
    )
    if args.html:  # first: a reader closing the terminal output early still gets the file
        from cli.report_html import render_html

        try:
            Path(args.html).write_bytes(render_html(data, clock_order, rule))
        except OSError as e:
            print(f"sla-engine report: {args.html}: cannot write: {e.strerror}", file=sys.stderr)
            return 2
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    print_report(data, clock_order, out, rule)
    if args.html:
        print(f"wrote {args.html}", file=sys.stderr)
    return 0
