"""The dashboard's "Engine health" row: throughput, lag, commits, the collector, recovery and
state of each worker (what an operator checks before trusting the SLA rows)."""

from __future__ import annotations

from topologies.dashboard_model import (
    INSTANCE,
    Panel,
    Query,
    gc_rate,
    matchers,
    rate,
    sum_by,
    timer_lag_quantile,
)

HEALTH: tuple[str, tuple[Panel, ...]] = (
    "Engine health",
    (
        Panel(
            "timeseries",
            "Throughput",
            "Ticket events consumed per second, per worker, and alerts emitted per second.",
            (
                Query(
                    f"sum by (instance) ({rate('sla_events_consumed_total', INSTANCE)})",
                    "events {{instance}}",
                ),
                Query(
                    "sum("
                    + rate("sla_alerts_total", matchers("team", "priority", "clock", "instance"))
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
                Query(f"sum({rate('sla_stale_records_total', INSTANCE)}) * 60", "re-read"),
                Query(f"sum({rate('sla_commit_gaps_total', INSTANCE)}) * 60", "gaps"),
            ),
        ),
        Panel(
            "timeseries",
            "Timer lag",
            "detected_at - due_at of alerts fired by timers (5 minutes). The SlaTimerLagHigh "
            "rule fires above 5 s at p99.",
            (
                Query(timer_lag_quantile(0.99), "p99 {{instance}}"),
                Query(timer_lag_quantile(0.5), "p50 {{instance}}"),
            ),
            unit="s",
            thresholds=((None, "green"), (5, "red")),
        ),
        Panel(
            "timeseries",
            "Timer ticks",
            "Due tickets the timer scan found, per second: sent = ticked; answered = held while "
            "a backlog was read, then answered by the ticket's own event (no tick needed).",
            (Query(f"sum by (outcome) ({rate('sla_ticks_total', INSTANCE)})", "{{outcome}}"),),
            unit="ops",
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Worker time",
            "Share of one core each worker spends in its own work, by kind (events, ticks, "
            "timer scan, commit, KPI facts and publication); the rest of a busy worker's time "
            "is Faust, the Kafka clients and the event loop.",
            (Query(f"sum by (work) ({rate('sla_work_seconds_total', INSTANCE)})", "{{work}}"),),
            unit="percentunit",
            stacked=True,
        ),
        Panel(
            "timeseries",
            "Dead-letter rate",
            "Input messages sent to tickets.dlq per minute, by reason; of those, the records "
            "whose processing raised, by stage.",
            (
                Query(
                    f"sum by (reason) ({rate('sla_events_rejected_total', INSTANCE)}) * 60",
                    "{{reason}}",
                ),
                Query(
                    f"sum by (stage) ({rate('sla_processing_errors_total', INSTANCE)}) * 60",
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
                    sum_by("clock", "sla_clocks_untargeted_total", "clock", "instance"),
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
            "timeseries",
            "Collector pauses",
            "Seconds a minute the cyclic garbage collector paused each worker, and the objects "
            "it freed (none expected: docs/streaming-notes.md, 2 (g2)), by generation.",
            (
                Query(gc_rate("sla_gc_pause_seconds_sum"), "paused {{generation}}"),
                Query(gc_rate("sla_gc_collected_objects_total"), "freed {{generation}}"),
            ),
        ),
        Panel(
            "table",
            "Build and policy",
            "Engine version and policy version (sha256 of the policy content) per worker.",
            (
                Query(
                    f"max by (instance, version, policy_version) (sla_build_info{{{INSTANCE}}})",
                    instant=True,
                    table=True,
                ),
            ),
            width=24,
            height=5,
        ),
    ),
)
