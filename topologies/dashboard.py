"""The Grafana dashboard of the engine, generated with grafana-foundation-sdk.

`python -m topologies.dashboard` writes `docker/grafana/dashboards/sla-engine.json` (sorted
keys, stable output; a test checks that the committed file is current). `queries()` lists
every PromQL expression of the dashboard.

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
from dataclasses import dataclass, field
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

UID = "sla-engine"
OUTPUT = Path(__file__).resolve().parent.parent / "docker/grafana/dashboards/sla-engine.json"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="prometheus")
WINDOW = "5m"  # rate windows
KPI_TODAY = 'unit="day",dimension="overall"'
ALL = ".*"  # a variable's "All" value: a regex matching every label value
# name, label, the metric whose label values it offers
VARIABLES: tuple[tuple[str, str, str], ...] = (
    ("team", "Team", "sla_alerts_total"),
    ("priority", "Priority", "sla_open_clocks"),
    ("clock", "Clock", "sla_open_clocks"),
    ("instance", "Worker", "sla_build_info"),
)
TEAM_LINK = f"/d/{UID}/sla-engine?${{__url_time_range}}&var-team=${{__field.labels.team}}"


def _by(*names: str) -> str:
    """Label matchers of the variables `names`: `team=~"$team",…`."""
    return ",".join(f'{n}=~"${n}"' for n in names)


INSTANCE = _by("instance")


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True)
class Panel:
    kind: str  # timeseries | stat | bargauge | table
    title: str
    description: str
    queries: tuple[Query, ...]
    width: int = 8
    height: int = 8
    unit: str = "short"
    min: float | None = None
    max: float | None = None
    thresholds: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    mappings: dict[str, tuple[str, str]] = field(default_factory=dict)  # value: (text, color)
    stacked: bool = False
    team_link: bool = False  # each series (by team) links to the dashboard filtered to it


def _rate(metric: str, selector: str = "") -> str:
    return f"rate({metric}{{{selector}}}[{WINDOW}])" if selector else f"rate({metric}[{WINDOW}])"


def _kpi(metric: str, title: str, description: str) -> Panel:
    return Panel(
        "timeseries",
        title,
        description,
        (
            Query(f'avg by (metric) (sla_kpi{{metric="{metric}",{KPI_TODAY}}})', "today"),
            Query(f'max by (metric) (sla_kpi_target{{metric="{metric}"}})', "target"),
        ),
        unit="percentunit",
        min=0,
        max=1,
    )


def _quantile(q: float) -> str:
    lag = _rate("sla_timer_lag_seconds_bucket", INSTANCE)
    return f"histogram_quantile({q}, sum by (instance, le) ({lag}))"


ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    (
        "Live SLA",
        (
            Panel(
                "timeseries",
                "Warnings, breaches and escalations per minute",
                "Alerts emitted on sla.alerts per minute (5-minute average), by clock, kind and "
                "level. Retractions are left out.",
                (
                    Query(
                        "sum by (clock, kind, level) ("
                        + _rate(
                            "sla_alerts_total",
                            'kind=~"warning|breach|escalation",'
                            + _by("team", "priority", "clock", "instance"),
                        )
                        + ") * 60",
                        "{{clock}} {{kind}} {{level}}",
                    ),
                ),
                width=12,
                stacked=True,
            ),
            Panel(
                "timeseries",
                "Clocks at risk",
                "Running clocks within 20 % of their limit and not yet breached, by clock and "
                "priority: the breaches of the next minutes unless someone acts.",
                (
                    Query(
                        "sum by (clock, priority) (sla_clocks_at_risk{"
                        + _by("priority", "clock", "instance")
                        + "})",
                        "{{clock}} {{priority}}",
                    ),
                ),
                width=12,
                stacked=True,
            ),
            Panel(
                "stat",
                "Open tickets",
                "Tickets with a pending deadline, all workers.",
                (Query(f"sum(sla_open_tickets{{{INSTANCE}}})", "open tickets"),),
                width=4,
            ),
            Panel(
                "timeseries",
                "Open clocks by clock",
                "Running or paused SLA clocks, by clock.",
                (
                    Query(
                        "sum by (clock) (sla_open_clocks{"
                        + _by("priority", "clock", "instance")
                        + "})",
                        "{{clock}}",
                    ),
                ),
                width=10,
                stacked=True,
            ),
            Panel(
                "bargauge",
                "Open backlog by age",
                "Open tickets now by age band (time since creation), all partitions.",
                (Query("max by (band) (sla_open_backlog)", "{{band}}", instant=True),),
                width=10,
            ),
            Panel(
                "timeseries",
                "At risk next hour",
                "Running clocks whose next threshold (warning, breach or escalation) is due "
                "within the hour, by team and clock, from the workers' timer indexes "
                "(`sla-engine at-risk --within 1h` lists them).",
                (
                    Query(
                        "sum by (team, clock) (sla_at_risk_next_hour{"
                        + _by("team", "clock", "instance")
                        + "})",
                        "{{team}} {{clock}}",
                    ),
                ),
                width=14,
                stacked=True,
            ),
            Panel(
                "table",
                "At risk next hour, now",
                "The same, by team, clock and the kind of the next threshold.",
                (
                    Query(
                        "sum by (team, clock, kind) (sla_at_risk_next_hour{"
                        + _by("team", "clock", "instance")
                        + "})",
                        instant=True,
                        table=True,
                    ),
                ),
                width=10,
            ),
            Panel(
                "bargauge",
                "Breaches and escalations by team, last hour",
                "Breaches and escalations emitted in the last hour per responsible team. Click a "
                "team: this dashboard filtered to its alerts.",
                (
                    Query(
                        "sum by (team) (increase(sla_alerts_total{"
                        + 'kind=~"breach|escalation",'
                        + _by("team", "priority", "clock", "instance")
                        + "}[1h]))",
                        "{{team}}",
                        instant=True,
                    ),
                ),
                width=24,
                height=6,
                team_link=True,
            ),
        ),
    ),
    (
        "KPIs vs targets (today)",
        (
            _kpi(
                "resolution_rate",
                "Resolution rate vs target",
                "Resolved / accepted tickets of today's window against kpis.targets."
                "resolution_rate.",
            ),
            _kpi(
                "csat",
                "CSAT vs target",
                "Surveys with overall 4-5 / counted surveys of today's window against "
                "kpis.targets.csat.",
            ),
            _kpi(
                "complaint_24h_rate",
                "Complaints answered within 24 h vs target",
                "Complaints with a first response within 24 h, today's window, against "
                "kpis.targets.complaint_24h_rate.",
            ),
            Panel(
                "bargauge",
                "SLA attainment per clock",
                "Met / due deadlines of today's window per clock (all: every clock).",
                (
                    Query(
                        'label_replace(avg by (metric) (sla_kpi{metric=~"sla[.].+[.]attainment",'
                        + KPI_TODAY
                        + '}), "clock", "$1", "metric", "sla[.](.+)[.]attainment")',
                        "{{clock}}",
                        instant=True,
                    ),
                ),
                width=12,
                unit="percentunit",
                min=0,
                max=1,
                thresholds=((None, "red"), (0.9, "yellow"), (0.95, "green")),
            ),
            Panel(
                "stat",
                "Teams flagged for low CSAT",
                "1 = the team's CSAT today is at least 15 % below the mean of all teams "
                "(kpis.team_csat_flag). Click a team: this dashboard filtered to its alerts.",
                (
                    Query(
                        'max by (team) (sla_team_csat_flagged{unit="day",' + _by("team") + "})",
                        "{{team}}",
                    ),
                ),
                width=12,
                thresholds=((None, "green"), (1, "red")),
                mappings={"0": ("ok", "green"), "1": ("flagged", "red")},
                team_link=True,
            ),
        ),
    ),
    (
        "Engine health",
        (
            Panel(
                "timeseries",
                "Throughput",
                "Ticket events consumed per second, per worker, and alerts emitted per second.",
                (
                    Query(
                        f"sum by (instance) ({_rate('sla_events_consumed_total', INSTANCE)})",
                        "events {{instance}}",
                    ),
                    Query(
                        "sum("
                        + _rate("sla_alerts_total", _by("team", "priority", "clock", "instance"))
                        + ")",
                        "alerts",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "timeseries",
                "Consumer lag",
                "Messages of the events topic not yet processed, per partition.",
                (
                    Query(
                        f"max by (partition) (sla_consumer_lag{{{INSTANCE}}})",
                        "partition {{partition}}",
                    ),
                ),
            ),
            Panel(
                "timeseries",
                "Timer lag",
                "detected_at - due_at of alerts fired by timers (5 minutes). The SlaTimerLagHigh "
                "rule fires above 5 s at p99.",
                (
                    Query(_quantile(0.99), "p99 {{instance}}"),
                    Query(_quantile(0.5), "p50 {{instance}}"),
                ),
                unit="s",
                thresholds=((None, "green"), (5, "red")),
            ),
            Panel(
                "timeseries",
                "Dead-letter rate",
                "Input messages sent to tickets.dlq per minute, by reason; of those, the records "
                "whose processing raised, by stage.",
                (
                    Query(
                        f"sum by (reason) ({_rate('sla_events_rejected_total', INSTANCE)}) * 60",
                        "{{reason}}",
                    ),
                    Query(
                        f"sum by (stage) ({_rate('sla_processing_errors_total', INSTANCE)}) * 60",
                        "processing error: {{stage}}",
                    ),
                ),
                stacked=True,
            ),
            Panel(
                "stat",
                "Workers up",
                "Workers whose /metrics Prometheus scrapes.",
                (Query(f'sum(up{{job="sla-engine",{INSTANCE}}})', "workers up"),),
                width=4,
                thresholds=((None, "red"), (1, "yellow"), (2, "green")),
            ),
            Panel(
                "stat",
                "Recovery duration",
                "Seconds from a worker's start to the end of its last table recovery.",
                (
                    Query(
                        f"max by (instance) (sla_recovery_duration_seconds{{{INSTANCE}}})",
                        "{{instance}}",
                    ),
                ),
                width=4,
                unit="s",
            ),
            Panel(
                "stat",
                "Clock cycles without a target",
                "Clock cycles no target of the policy matched (not tracked): a policy gap to fix "
                "(README, The policy).",
                (
                    Query(
                        "sum by (clock) (sla_clocks_untargeted_total{"
                        + _by("clock", "instance")
                        + "})",
                        "{{clock}}",
                    ),
                ),
                width=4,
                thresholds=((None, "green"), (1, "yellow")),
            ),
            Panel(
                "stat",
                "Labels over the cap",
                'Team names from event data beyond the label cap: counted as team="other" or '
                "without a KPI gauge (docs/metrics.md, Label bounds).",
                (Query("sum(sla_label_overflow_total{" + INSTANCE + "})", "values"),),
                width=4,
                thresholds=((None, "green"), (1, "yellow")),
            ),
            Panel(
                "timeseries",
                "State on disk",
                "Bytes of RocksDB state and timer indexes per worker.",
                (Query(f"sum by (instance) (sla_state_bytes{{{INSTANCE}}})", "{{instance}}"),),
                unit="bytes",
            ),
            Panel(
                "table",
                "Build and policy",
                "Engine version and policy version (sha256 of the policy content) per worker.",
                (
                    Query(
                        "max by (instance, version, policy_version) "
                        f"(sla_build_info{{{INSTANCE}}})",
                        instant=True,
                        table=True,
                    ),
                ),
                width=24,
                height=5,
            ),
        ),
    ),
)


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
