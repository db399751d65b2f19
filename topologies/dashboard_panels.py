"""What the Grafana dashboard shows, as data: its variables, rows, panels and PromQL queries
(`topologies.dashboard` turns them into the dashboard JSON with grafana-foundation-sdk)."""

from __future__ import annotations

from dataclasses import dataclass, field

UID = "sla-engine"
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


def _sum_by(by: str, metric: str, *variables: str) -> str:
    """`sum by (by) (metric{…})`, the series filtered by the dashboard variables `variables`."""
    return f"sum by ({by}) ({metric}{{{_by(*variables)}}})"


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
                        _sum_by(
                            "clock, priority", "sla_clocks_at_risk", "priority", "clock", "instance"
                        ),
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
                        _sum_by("clock", "sla_open_clocks", "priority", "clock", "instance"),
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
                        _sum_by(
                            "team, clock", "sla_at_risk_next_hour", "team", "clock", "instance"
                        ),
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
                        _sum_by(
                            "team, clock, kind",
                            "sla_at_risk_next_hour",
                            "team",
                            "clock",
                            "instance",
                        ),
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
                "Messages of the events topic not yet committed, by partition; per minute, records "
                "re-read after a seek and commits held by a gap (should stay 0).",
                (
                    Query(f"max by (partition) (sla_consumer_lag{{{INSTANCE}}})", "{{partition}}"),
                    Query(f"sum({_rate('sla_stale_records_total', INSTANCE)}) * 60", "re-read"),
                    Query(f"sum({_rate('sla_commit_gaps_total', INSTANCE)}) * 60", "gaps"),
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
                        _sum_by("clock", "sla_clocks_untargeted_total", "clock", "instance"),
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
