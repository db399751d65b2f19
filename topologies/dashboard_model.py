"""The dashboard's vocabulary: variables, panels and queries as data, and the PromQL helpers
every row uses (`topologies.dashboard_panels` lists the rows)."""

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


def matchers(*names: str) -> str:
    """Label matchers of the variables `names`: `team=~"$team",…`."""
    return ",".join(f'{n}=~"${n}"' for n in names)


INSTANCE = matchers("instance")


def sum_by(by: str, metric: str, *variables: str) -> str:
    """`sum by (by) (metric{…})`, the series filtered by the dashboard variables `variables`."""
    return f"sum by ({by}) ({metric}{{{matchers(*variables)}}})"


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


def rate(metric: str, selector: str = "") -> str:
    return f"rate({metric}{{{selector}}}[{WINDOW}])" if selector else f"rate({metric}[{WINDOW}])"


def kpi_panel(metric: str, title: str, description: str) -> Panel:
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


def gc_rate(metric: str) -> str:
    return f"sum by (generation) ({rate(metric, INSTANCE)}) * 60"


def timer_lag_quantile(q: float) -> str:
    lag = rate("sla_timer_lag_seconds_bucket", INSTANCE)
    return f"histogram_quantile({q}, sum by (instance, le) ({lag}))"
