"""`sla-engine report` on the terminal: values formatted (shared with the HTML page), the notes a
reader must know, the rich tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from cli.report.model import (
    EMPTY_MARK,
    EMPTY_NOTE,
    LEVELS,
    TREND_METRICS,
    FlagRule,
    Kind,
    Row,
    TeamRow,
    TrendPoint,
    breaches_by_clock,
    clock_title,
    kpi_rows,
    last_year_label,
    missing_fields,
    team_rows,
    trend_points,
)
from cli.report.source import ReportData
from schemas.outputs import KpiSnapshot

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


def team_cells(team: TeamRow) -> tuple[str, ...]:
    """A team's figures, in the order both renderings show them."""
    return (
        fmt_value("count", team.accepted),
        fmt_value("rate", team.resolution_rate),
        fmt_value("rate", team.attainment),
        fmt_value("count", team.surveys),
        fmt_value("rate", team.csat),
        fmt_vs_mean(team),
    )


def trend_label(point: TrendPoint) -> str:
    """A trend window's label with its marks: `*` reaches outside the period, EMPTY_MARK empty."""
    return point.label + (" *" if point.partial else "") + (f" {EMPTY_MARK}" if point.empty else "")


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
    snap = data.overall
    rule = rule or FlagRule()
    console.print(f"[bold]SLA {data.period.noun} report {data.period.label}[/], overall")
    console.print(
        f"{window_text(snap)} · {'final' if snap.final else 'provisional'} · "
        f"policy {snap.policy_version} · {data.source}: {data.snapshots_read:,} snapshots"
    )
    for note in notes(data):
        console.print(f"[yellow]note:[/] {note}")
    _print_kpis(data, clock_order, console)
    _print_missing(data, console)
    _print_teams(data, console, rule)
    _print_trend(data, console)
    _print_by_clock(data, clock_order, console)


def _print_kpis(data: ReportData, clock_order: Sequence[str], console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    ly = last_year_label(data)
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


def _print_missing(data: ReportData, console: Any) -> None:
    from rich.table import Table

    closed, missing = missing_fields(data.overall)
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


def _print_teams(data: ReportData, console: Any, rule: FlagRule) -> None:
    from rich.table import Table
    from rich.text import Text

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
                *team_cells(tr),
                Text("FLAGGED", style="bold red")
                if tr.flagged
                else ("" if rule.rated(tr.surveys) else Text("too few surveys", style="dim")),
            )
        console.print(t)


def _print_trend(data: ReportData, console: Any) -> None:
    from rich.table import Table

    points = trend_points(data)
    if points:
        t = Table(title=f"By {data.period.sub_unit}", title_justify="left")
        t.add_column(data.period.sub_unit)
        t.add_column("accepted", justify="right")
        for _, title in TREND_METRICS:
            t.add_column(title, justify="right")
        for p in points:
            t.add_row(
                trend_label(p),
                fmt_value("count", p.accepted),
                *(fmt_value("rate", p.values[m]) for m, _ in TREND_METRICS),
                style="dim" if p.empty else None,
            )
        captions = ["* reaches outside the period"] if any(p.partial for p in points) else []
        captions += [EMPTY_NOTE] if any(p.empty for p in points) else []
        t.caption = "\n".join(captions) or None
        console.print(t)


def _print_by_clock(data: ReportData, clock_order: Sequence[str], console: Any) -> None:
    from rich.table import Table

    by_clock = breaches_by_clock(data.overall, clock_order)
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
