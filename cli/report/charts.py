"""The HTML form of `sla-engine report`: one self-contained file (no script, font or image is
fetched: the charts are matplotlib SVGs, text drawn as paths, inlined as data URIs) that opens
in any browser and can be mailed or archived with the period's records.

Deterministic: the same snapshots give the same bytes (fixed SVG hash salt per chart, no dates
in the SVG metadata, no generation time in the page).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from cli.report import (
    EMPTY_MARK,
    EMPTY_NOTE,
    LEVELS,
    TREND_METRICS,
    FlagRule,
    ReportData,
    TeamRow,
    TrendPoint,
    breaches_by_clock,
    clock_title,
    fmt_change,
    fmt_gap,
    fmt_target,
    fmt_value,
    fmt_vs_mean,
    kpi_rows,
    last_year_label,
    missing_fields,
    notes,
    team_rows,
    trend_points,
    window_text,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.axis import Axis
    from matplotlib.container import BarContainer
    from matplotlib.figure import Figure


TREND_COLORS = {"resolution_rate": "#1f6fb4", "csat": "#e8710a", "sla.all.attainment": "#2a9d3c"}
LEVEL_COLORS = {"minor": "#f2c94c", "moderate": "#f2994a", "severe": "#c62828"}
TEAM_COLOR, FLAG_COLOR = "#5b8fc9", "#d64541"
NOW_COLOR, LAST_YEAR_COLOR = "#34495e", "#b0bec5"


# --------------------------------------------------------------------------------------------
# charts


@contextmanager
def _chart(salt: str, width: float, height: float) -> Iterator[tuple[Figure, list[str]]]:
    """A matplotlib figure drawn with fixed settings; the SVG lands in the yielded list."""
    import matplotlib
    from matplotlib.figure import Figure

    out: list[str] = []
    with matplotlib.rc_context(
        {
            "svg.hashsalt": f"sla-report-{salt}",  # stable ids (clip paths…), unique per chart
            "svg.fonttype": "path",  # text as outlines: no font needed by the viewer
            "font.family": "DejaVu Sans",  # shipped with matplotlib: the same glyphs everywhere
            "font.size": 10,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "axes.titleweight": "bold",
            "axes.titlelocation": "left",
        }
    ):
        fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
        yield fig, out
        buf = io.StringIO()
        fig.savefig(
            buf,
            format="svg",
            metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        )
    text = buf.getvalue()
    out.append(text[text.index("<svg") :])


def _percent_axis(axis: Axis) -> None:
    from matplotlib.ticker import PercentFormatter

    axis.set_major_formatter(PercentFormatter(1.0, decimals=0, symbol=" %"))


def _tick_label(p: TrendPoint, sub_unit: str) -> str:
    last = p.end - timedelta(microseconds=1)
    if sub_unit == "week":
        return f"{p.label[5:]}\n{p.start:%d %b}-{last:%d %b}"
    return f"{p.start:%a}\n{p.start:%d %b}"


def trend_chart(data: ReportData) -> str | None:
    """Resolution rate, CSAT and SLA attainment per week of the month (day of the week), with
    the targets as dashed lines; sub-windows reaching outside the period are shaded. The values
    are in the table under it (labels on three close lines would overlap)."""
    points = trend_points(data)
    if not points:
        return None
    targets = data.overall.targets
    sub = data.period.sub_unit
    with _chart("trend", 10, 4.2) as (fig, out):
        ax = fig.subplots()
        xs = list(range(len(points)))
        for i, p in enumerate(points):
            if p.partial:
                ax.axvspan(i - 0.5, i + 0.5, color="#dfe4e8", zorder=0, lw=0)
        for metric, title in TREND_METRICS:
            color = TREND_COLORS[metric]
            ys = [None if p.empty else p.values[metric] for p in points]  # no volume: no point
            ax.plot(
                xs,
                [float("nan") if y is None else y for y in ys],
                marker="o",
                color=color,
                lw=2,
                label=title,
                gid=f"trend-{metric}",
            )
            if metric in targets:
                ax.axhline(
                    targets[metric],
                    color=color,
                    ls="--",
                    lw=1,
                    label=f"{title} target {targets[metric] * 100:.0f} %",
                )
        ax.set_xticks(xs, [_tick_label(p, sub) for p in points])
        ax.set_xlim(-0.5, len(points) - 0.5)
        # resolved / accepted exceeds 100 % when a window resolves earlier windows' tickets
        top = max([1.0, *(v for p in points for v in p.values.values() if v is not None)])
        ax.set_ylim(0, top * 1.08)
        _percent_axis(ax.yaxis)
        ax.grid(axis="y", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title(f"Trend by {sub}, {data.period.label}")
        handles, labels = ax.get_legend_handles_labels()
        if any(p.partial for p in points):
            from matplotlib.patches import Patch

            handles.append(Patch(color="#dfe4e8"))
            labels.append(f"{sub} reaches outside {data.period.label}")
        fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    return out[0]


def team_chart(data: ReportData, teams: Sequence[TeamRow], rule: FlagRule) -> str | None:
    """CSAT per team as bars; flagged teams (the snapshot's `csat_below_team_mean`) in red and
    hatched; the CSAT target, the teams' mean and the flag line as vertical lines."""
    if not teams:
        return None
    target = data.overall.targets.get("csat")
    mean = next((t.teams_mean for t in teams if t.teams_mean is not None), None)
    with _chart("teams", 10, max(2.8, 0.42 * len(teams) + 1.9)) as (fig, out):
        ax = fig.subplots()
        ys = list(range(len(teams)))
        for y, t in zip(ys, teams, strict=True):
            if t.csat is None:
                ax.text(0.005, y, "no counted surveys", va="center", fontsize=9, color="#757575")
                continue
            ax.barh(
                y,
                t.csat,
                gid=f"team-bar-{t.team}",
                height=0.62,
                color=FLAG_COLOR if t.flagged else TEAM_COLOR,
                hatch="//" if t.flagged else None,
                edgecolor="white",
            )
            n = "" if t.surveys is None else f"  n={t.surveys:,.0f}"
            ax.text(
                t.csat + 0.008,
                y,
                f"{t.csat * 100:.1f} %{n}" + ("   FLAGGED" if t.flagged else ""),
                va="center",
                fontsize=9,
                color=FLAG_COLOR if t.flagged else "#263238",
                fontweight="bold" if t.flagged else "normal",
            )
        if target is not None:
            ax.axvline(
                target,
                color="#2a9d3c",
                ls="--",
                lw=1.5,
                label=f"target {target * 100:.0f} %",
                gid="csat-target",
            )
        if mean is not None:
            ax.axvline(
                mean,
                color="#263238",
                lw=1.2,
                label=f"teams' mean {mean * 100:.1f} %",
                gid="teams-mean",
            )
            bar = rule.threshold(mean)
            ax.axvline(
                bar,
                color=FLAG_COLOR,
                ls=":",
                lw=1.8,
                label=f"flag line {bar * 100:.1f} % ({rule.describe()})",
                gid="flag-line",
            )
        ax.set_yticks(ys, [t.team for t in teams])
        ax.invert_yaxis()
        ax.set_xlim(0, 1.0)
        _percent_axis(ax.xaxis)
        ax.grid(axis="x", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title(f"CSAT by team, {data.period.label}")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    return out[0]


def _count_axis(axis: Axis) -> None:
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _bar_labels(ax: Axes, bars: BarContainer) -> None:
    ax.bar_label(bars, labels=[f"{b.get_height():,.0f}" for b in bars], padding=2, fontsize=9)


def level_chart(data: ReportData) -> str:
    """Breaches and escalations by level, this period next to the same period last year."""
    from cli.report import last_year_value

    m = data.overall.metrics
    now = [float(m.get(f"breaches.{lv}") or 0) for lv in LEVELS]
    before = [last_year_value(data, f"breaches.{lv}") for lv in LEVELS]
    has_before = any(v is not None for v in before)
    with _chart("levels", 5.4, 4.0) as (fig, out):
        ax = fig.subplots()
        xs = list(range(len(LEVELS)))
        width = 0.38 if has_before else 0.6
        if has_before:
            old = ax.bar(
                [x - width / 2 for x in xs],
                [v or 0 for v in before],
                width,
                color=LAST_YEAR_COLOR,
                label=last_year_label(data),
            )
            _bar_labels(ax, old)
        cur = ax.bar(
            [x + width / 2 for x in xs] if has_before else xs,
            now,
            width,
            color=NOW_COLOR,
            label=data.period.label,
        )
        _bar_labels(ax, cur)
        ax.set_xticks(xs, ["minor\n(limit)", "moderate\n(150 %)", "severe\n(200 %)"])
        ax.set_ylabel("breaches and escalations")
        _count_axis(ax.yaxis)
        ax.margins(y=0.15)
        ax.grid(axis="y", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title("Breaches by level")
        fig.legend(loc="outside lower center", ncols=2, frameon=False)
    return out[0]


def clock_chart(data: ReportData, clock_order: Sequence[str]) -> str | None:
    """Breaches and escalations per clock, stacked by level."""
    rows = breaches_by_clock(data.overall, clock_order)
    if not rows:
        return None
    with _chart("clocks", 5.4, max(4.0, 0.45 * len(rows) + 2.0)) as (fig, out):
        ax = fig.subplots()
        ys = list(range(len(rows)))
        left = [0.0] * len(rows)
        for lv in LEVELS:
            vals = [float(c[lv]) for _, c in rows]
            ax.barh(ys, vals, left=left, color=LEVEL_COLORS[lv], label=lv, height=0.62)
            left = [a + b for a, b in zip(left, vals, strict=True)]
        for y, total in zip(ys, left, strict=True):
            ax.text(total, y, f" {total:,.0f}", va="center", fontsize=9)
        ax.set_yticks(ys, [clock_title(c) for c, _ in rows])
        ax.invert_yaxis()
        ax.margins(x=0.15)
        ax.set_xlabel("breaches and escalations")
        _count_axis(ax.xaxis)
        ax.grid(axis="x", color="#e0e0e0", lw=0.8)
        ax.set_axisbelow(True)
        ax.set_title("Breaches by clock")
        fig.legend(loc="outside lower center", ncols=3, frameon=False)
    return out[0]


# --------------------------------------------------------------------------------------------
# the page

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;
 color:#263238;margin:24px auto;max-width:1180px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#546e7a;margin:0 0 12px}.note{background:#fff8e1;border-left:4px solid #f9a825;
 padding:6px 10px;margin:6px 0}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #e0e0e0;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}thead th{background:#eceff1;position:sticky;top:0}
tr.section th{background:#f5f7f8;text-align:left;font-weight:600;padding-top:10px}
td.kpi{padding-left:22px}.met{color:#2e7d32;font-weight:600}
.below{color:#c62828;font-weight:700}.nodata{color:#9e9e9e}
tr.flagged td{background:#fdecea}.flag{color:#c62828;font-weight:700}
figure{margin:18px 0}figure img{width:100%;height:auto;display:block}
figcaption{color:#546e7a;font-size:13px}.pair{display:flex;gap:16px;flex-wrap:wrap}
.pair figure{flex:1 1 480px}footer{color:#78909c;font-size:12px;margin-top:28px}
"""

_STATUS_CLASS = {"met": "met", "below target": "below", "no data": "nodata"}


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _figure(svg: str, alt: str, caption: str) -> str:
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return (
        f'<figure><img alt="{_e(alt)}" src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _kpi_table(data: ReportData, clock_order: Sequence[str]) -> str:
    heads = (
        "KPI",
        data.period.label,
        f"{last_year_label(data)} (last year)",
        "target",
        "gap",
        "vs last year",
        "status",
    )
    parts = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in heads), "</tr></thead><tbody>"]
    section = None
    for row in kpi_rows(data, clock_order):
        if row.section != section:
            section = row.section
            parts.append(f'<tr class="section"><th colspan="{len(heads)}">{_e(section)}</th></tr>')
        status = row.status
        cls = _STATUS_CLASS.get(status, "")
        cells = (
            fmt_value(row.kind, row.value),
            fmt_value(row.kind, row.last_year),
            fmt_target(row).replace(">=", "≥"),
            fmt_gap(row),
            fmt_change(row),
        )
        parts.append(
            f'<tr data-metric="{_e(row.metric)}"><td class="kpi">{_e(row.label)}</td>'
            + "".join(f"<td>{_e(c)}</td>" for c in cells)
            + f'<td class="{cls}">{_e(status)}</td></tr>'
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def _trend_table(data: ReportData, points: Sequence[TrendPoint]) -> str:
    heads = (data.period.sub_unit, "dates", "accepted", *(title for _, title in TREND_METRICS))
    parts = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in heads), "</tr></thead><tbody>"]
    for p in points:
        last = p.end - timedelta(microseconds=1)
        cells = (
            p.label + (" *" if p.partial else "") + (f" {EMPTY_MARK}" if p.empty else ""),
            f"{p.start:%d %b} - {last:%d %b}" if p.end - p.start > timedelta(days=1) else "",
            fmt_value("count", p.accepted),
            *(fmt_value("rate", p.values[m]) for m, _ in TREND_METRICS),
        )
        parts.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _missing_table(data: ReportData) -> str:
    closed, missing = missing_fields(data.overall)
    if not missing:
        return ""
    parts = [
        f"<h3>Missing record fields ({closed:,} closed tickets)</h3>",
        "<table><thead><tr><th>field</th><th>missing</th><th>share</th></tr></thead><tbody>",
    ]
    for name, count in missing:
        share = fmt_value("rate", count / closed if closed else None)
        parts.append(f"<tr><td>{_e(name)}</td><td>{count:,}</td><td>{_e(share)}</td></tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def _team_table(teams: Sequence[TeamRow], rule: FlagRule) -> str:
    heads = ("team", "accepted", "resolution rate", "SLA attainment", "surveys", "CSAT")
    parts = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in heads)]
    parts.append("<th>vs teams' mean</th><th>flag</th></tr></thead><tbody>")
    for t in teams:
        cells = (
            fmt_value("count", t.accepted),
            fmt_value("rate", t.resolution_rate),
            fmt_value("rate", t.attainment),
            fmt_value("count", t.surveys),
            fmt_value("rate", t.csat),
            fmt_vs_mean(t),
        )
        flag = (
            '<td class="flag">flagged</td>'
            if t.flagged
            else ("<td></td>" if rule.rated(t.surveys) else "<td>too few surveys</td>")
        )
        cls = ' class="flagged"' if t.flagged else ""
        parts.append(
            f'<tr{cls} data-team="{_e(t.team)}">'
            f"<td>{_e(t.team)}</td>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + flag + "</tr>"
        )
    parts.append("</tbody></table>")
    return "".join(parts)


def render_html(
    data: ReportData, clock_order: Sequence[str] = (), rule: FlagRule | None = None
) -> bytes:
    """The whole report page, UTF-8."""
    rule = rule or FlagRule()
    snap = data.overall
    period = data.period
    teams = team_rows(data)
    body = [
        f"<h1>SLA {period.noun} report {_e(period.label)}</h1>",
        f'<p class="meta">{_e(window_text(snap))} · overall · policy {_e(snap.policy_version)}'
        f" · {'final' if snap.final else 'provisional'}"
        f"{' as of ' + _e(snap.as_of.isoformat()) if snap.as_of else ''}</p>",
        *(f'<p class="note">{_e(n)}</p>' for n in notes(data, rule.policy_version)),
        "<h2>KPIs</h2>",
        _kpi_table(data, clock_order),
        _missing_table(data),
        '<p class="meta">Rates are shares of their base; gap = value − target in percentage '
        "points (pp); vs last year: pp for rates, relative change for times and counts. "
        "Business hours follow the policy's business calendar.</p>",
    ]
    trend = trend_chart(data)
    if trend is not None:
        points = trend_points(data)
        partial = (
            " Shaded (* in the table): reaching outside the period."
            if any(p.partial for p in points)
            else ""
        ) + (f" {EMPTY_NOTE}." if any(p.empty for p in points) else "")
        body.append(f"<h2>Trend by {period.sub_unit}</h2>")
        body.append(
            _figure(
                trend,
                f"Line chart: resolution rate, CSAT and SLA attainment by {period.sub_unit}",
                f"Overall snapshots of the {period.sub_unit}s overlapping {period.label}. "
                f"Dashed lines: targets.{partial}",
            )
        )
        body.append(_trend_table(data, points))
    body.append("<h2>Teams</h2>")
    chart = team_chart(data, teams, rule)
    if chart is None:
        body.append('<p class="meta">No team snapshots for this period.</p>')
    else:
        body.append(
            _figure(
                chart,
                "Bar chart: CSAT by team, flagged teams highlighted",
                f"Red, hatched: flagged by the engine (CSAT {rule.describe()}, policy "
                "kpis.team_csat_flag). n = counted surveys.",
            )
        )
        body.append(_team_table(teams, rule))
    body.append("<h2>Breaches</h2>")
    pair = [
        _figure(
            level_chart(data),
            "Bar chart: breaches by level",
            "Breach and escalation decisions crossed in the period; exempted and overturned "
            "ones are left out.",
        )
    ]
    clocks = clock_chart(data, clock_order)
    if clocks is not None:
        pair.append(
            _figure(
                clocks,
                "Bar chart: breaches by clock and level",
                "The same decisions by SLA clock, stacked by level.",
            )
        )
    body.append(f'<div class="pair">{"".join(pair)}</div>')
    body.append(
        f"<footer>From {_e(data.source)} ({data.snapshots_read:,} snapshots read) by "
        "<code>sla-engine report</code>.</footer>"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>SLA report {_e(period.label)}</title><style>{CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )
    return page.encode("utf-8")
