"""What the Grafana dashboard shows, as data: its variables, rows, panels and PromQL queries
(`topologies.dashboard` turns them into the dashboard JSON with grafana-foundation-sdk)."""

from __future__ import annotations

from topologies.dashboard_health import HEALTH
from topologies.dashboard_model import (
    INSTANCE,
    KPI_TODAY,
    Panel,
    Query,
    kpi_panel,
    matchers,
    rate,
    sum_by,
)

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
                        + rate(
                            "sla_alerts_total",
                            'kind=~"warning|breach|escalation",'
                            + matchers("team", "priority", "clock", "instance"),
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
                        sum_by(
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
                        sum_by("clock", "sla_open_clocks", "priority", "clock", "instance"),
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
                        sum_by("team, clock", "sla_at_risk_next_hour", "team", "clock", "instance"),
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
                        sum_by(
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
                        + matchers("team", "priority", "clock", "instance")
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
            kpi_panel(
                "resolution_rate",
                "Resolution rate vs target",
                "Resolved / accepted tickets of today's window against kpis.targets."
                "resolution_rate.",
            ),
            kpi_panel(
                "csat",
                "CSAT vs target",
                "Surveys with overall 4-5 / counted surveys of today's window against "
                "kpis.targets.csat.",
            ),
            kpi_panel(
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
                        'max by (team) (sla_team_csat_flagged{unit="day",'
                        + matchers("team")
                        + "})",
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
    HEALTH,
)
