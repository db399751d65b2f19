"""The Grafana dashboard of the engine, generated with grafana-foundation-sdk.

`python -m topologies.dashboard` writes `docker/grafana/dashboards/sla-engine.json` (sorted
keys, stable output; a test checks that the committed file is current). `queries()` lists
every PromQL expression of the dashboard. The panels themselves are `topologies.dashboard_panels`.

Three rows, all on the Prometheus datasource provisioned with uid `prometheus`
(docker/grafana/provisioning):

- Live SLA: warnings, breaches and escalations per minute by clock and level; clocks at risk;
  open tickets and open clocks; the backlog by age band; clocks with a threshold due within
  the next hour by team and clock.
- KPIs vs targets (today's window, overall): resolution rate, CSAT, complaints answered within
  24 h, each against its policy target; attainment per clock; teams flagged for low CSAT.
- Engine health: throughput, consumer lag, timer lag p50/p99, dead-letter rate, workers up,
  recovery duration, state size, build and policy version.

Template variables `team`, `priority`, `clock` and `instance` (the worker; multi-value, "All"
= `.*`) filter every panel whose metric has that label. The breaches-by-team panel and the
flagged-teams panel link each team to this dashboard filtered to it (`var-team`).

Expressions use fixed `[5m]` windows rather than Grafana's `$__rate_interval`; `queries()`
gives them with each variable at its "All" value, as they run against Prometheus's HTTP API.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

from topologies.dashboard_model import ALL, TEAM_LINK, UID, VARIABLES, Panel, Query
from topologies.dashboard_panels import ROWS

OUTPUT = Path(__file__).resolve().parent.parent / "docker/grafana/dashboards/sla-engine.json"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")


def _target(q: Query, ref: str) -> prom.Dataquery:
    t = prom.Dataquery().expr(q.expr).ref_id(ref).datasource(DATASOURCE)
    if q.legend:
        t = t.legend_format(q.legend)
    if q.table:
        t = t.format(prom_model.PromQueryFormat.TABLE)
    return t.instant() if q.instant else t.range()


def _thresholds(steps: tuple[tuple[float | None, str], ...]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def _panel(p: Panel, panel_id: int) -> Any:
    b: Any
    if p.kind == "timeseries":
        b = (
            timeseries.Panel()
            .line_width(1)
            .fill_opacity(20 if p.stacked else 0)
            .legend(
                cb.VizLegendOptions()
                .show_legend(True)
                .display_mode(common.LegendDisplayMode.LIST)
                .placement(common.LegendPlacement.BOTTOM)
            )
            .tooltip(
                cb.VizTooltipOptions()
                .mode(common.TooltipDisplayMode.MULTI)
                .sort(common.SortOrder.DESCENDING)
            )
        )
        if p.stacked:
            b = b.stacking(cb.StackingConfig().mode(common.StackingMode.NORMAL))
    elif p.kind == "stat":
        b = (
            stat.Panel()
            .graph_mode(common.BigValueGraphMode.AREA)
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
        )
    elif p.kind == "bargauge":
        b = (
            bargauge.Panel()
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(common.BarGaugeDisplayMode.GRADIENT)
            .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
        )
    elif p.kind == "table":
        b = table.Panel().show_header(True).align(common.FieldTextAlignment.AUTO).inspect(False)
    else:
        raise ValueError(f"unknown panel kind {p.kind!r}")
    b = (
        b.id(panel_id)
        .title(p.title)
        .description(p.description)
        .datasource(DATASOURCE)
        .span(p.width)
        .height(p.height)
        .unit(p.unit)
        .thresholds(_thresholds(p.thresholds))
    )
    if p.min is not None:
        b = b.min(p.min)
    if p.max is not None:
        b = b.max(p.max)
    if p.team_link:
        b = b.data_links(
            [
                dash.DashboardLink("Alerts of team ${__field.labels.team}")
                .type(model.DashboardLinkType.LINK)
                .url(TEAM_LINK)
            ]
        )
    if p.mappings:
        b = b.mappings(
            [
                model.ValueMap(
                    options={
                        value: model.ValueMappingResult(text=text, color=color, index=i)
                        for i, (value, (text, color)) in enumerate(sorted(p.mappings.items()))
                    }
                )
            ]
        )
    return b.targets([_target(q, chr(ord("A") + i)) for i, q in enumerate(p.queries)])


def build() -> model.Dashboard:
    """The dashboard model."""
    d = (
        dash.Dashboard("SLA engine")
        .uid(UID)
        .description(
            "Live SLA alerts, KPIs against the policy's targets and the engine's health "
            "(sla-engine; metrics in docs/metrics.md)."
        )
        .tags(["sla-engine", "sla"])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .timepicker(dash.TimePicker().refresh_intervals(["10s", "30s", "1m", "5m", "15m"]))
        .annotation(
            dash.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(model.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .type("dashboard")
            .built_in(1)
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
        )
    )
    for name, label, metric in VARIABLES:
        d = d.with_variable(
            dash.QueryVariable(name)
            .label(label)
            .datasource(DATASOURCE)
            .query(f"label_values({metric}, {name})")
            .multi(True)
            .include_all(True)
            .all_value(ALL)
            .current(model.VariableOption(selected=True, text="All", value="$__all"))
            .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(model.VariableSort.ALPHABETICAL_ASC)
        )
    panel_id = 0
    for title, panels in ROWS:
        panel_id += 1
        d = d.with_row(dash.Row(title).id(panel_id))
        for p in panels:
            panel_id += 1
            d = d.with_panel(_panel(p, panel_id))
    return d.build()


def to_json(board: model.Dashboard | None = None) -> str:
    """The dashboard as committed: sorted keys, two-space indent, a final newline."""
    data = json.loads(json.dumps(board or build(), cls=JSONEncoder))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _targets(data: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for panel in data.get("panels", []):
        out.extend(panel.get("targets") or [])
        for inner in panel.get("panels") or []:
            out.extend(inner.get("targets") or [])
    return out


def expand(expr: str) -> str:
    """A panel's expression with every variable at its "All" value: plain PromQL."""
    for name, _, _ in VARIABLES:
        expr = expr.replace(f'"${name}"', f'"{ALL}"')
    return expr


def queries() -> list[str]:
    """Every PromQL expression of the dashboard, in panel order, variables at "All"."""
    return [expand(t["expr"]) for t in _targets(json.loads(to_json()))]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUTPUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(to_json(), encoding="utf-8")
    print(f"wrote {out} ({len(queries())} queries)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
