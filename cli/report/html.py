"""The HTML form of `sla-engine report`: one self-contained page (no script, font or image is
fetched; the charts of `cli.report.charts` inlined as data URIs), the same bytes for the same
snapshots (no generation time in the page)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import timedelta

from cli.report.charts import clock_chart, level_chart, team_chart, trend_chart
from cli.report.model import (
    EMPTY_NOTE,
    TREND_METRICS,
    FlagRule,
    TeamRow,
    TrendPoint,
    kpi_rows,
    last_year_label,
    missing_fields,
    team_rows,
    trend_points,
)
from cli.report.source import ReportData
from cli.report.text import (
    fmt_change,
    fmt_gap,
    fmt_target,
    fmt_value,
    notes,
    team_cells,
    trend_label,
    window_text,
)

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
            trend_label(p),
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
        cells = team_cells(t)
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


def _trend_section(data: ReportData) -> list[str]:
    """The trend chart and its table, or nothing when there is no sub-window."""
    period = data.period
    body: list[str] = []
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
    return body


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
    body += _trend_section(data)
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
