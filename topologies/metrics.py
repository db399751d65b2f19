"""Prometheus metrics of a worker. Labels are bounded sets: never ticket, customer or event ids."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)

disable_created_metrics()  # type: ignore[no-untyped-call]  # unannotated in prometheus_client

REGISTRY = CollectorRegistry()

EVENTS = Counter("sla_events_consumed_total", "Ticket events consumed", registry=REGISTRY)
REJECTED = Counter(
    "sla_events_rejected_total",
    "Input messages sent to the dead-letter topic",
    ["reason"],
    registry=REGISTRY,
)
PROCESSING_ERRORS = Counter(
    "sla_processing_errors_total",
    "Records whose processing raised, sent to the dead-letter topic (processing_error)",
    ["stage"],
    registry=REGISTRY,
)
ALERTS = Counter(
    "sla_alerts_total",
    "Alerts emitted",
    ["clock", "kind", "level", "priority", "team"],
    registry=REGISTRY,
)
UNTARGETED = Counter(
    "sla_clocks_untargeted_total",
    "Clock cycles that started (or were retargeted) with no policy target matching the ticket",
    ["clock"],
    registry=REGISTRY,
)
TICKS = Counter(
    "sla_ticks_total",
    "Due tickets found by the timer scan, by outcome: sent (a tick on the ticks topic), or "
    "answered (held while the partition read a backlog; its own event crossed the threshold)",
    ["outcome"],
    registry=REGISTRY,
)
WORK = Counter(
    "sla_work_seconds_total",
    "Seconds the worker spent in its own work, by kind (events, ticks, kpi_facts, commit, "
    "timer_scan, kpi_publish); the rest of a busy worker's time is Faust, the Kafka clients "
    "and the event loop",
    ["work"],
    registry=REGISTRY,
)
OPEN_TICKETS = Gauge(
    "sla_open_tickets", "Tickets with a pending deadline on this worker", registry=REGISTRY
)
OPEN_CLOCKS = Gauge(
    "sla_open_clocks",
    "Running or paused SLA clocks of the tickets in this worker's cache",
    ["clock", "priority"],
    registry=REGISTRY,
)
AT_RISK = Gauge(
    "sla_clocks_at_risk",
    "Running clocks within 20 % of their limit and not yet breached",
    ["clock", "priority"],
    registry=REGISTRY,
)
AT_RISK_NEXT_HOUR = Gauge(
    "sla_at_risk_next_hour",
    "Running clocks whose next threshold is due within the hour, from this worker's timer "
    'index (the biggest teams by name, the rest as team="other")',
    ["team", "clock", "kind"],
    registry=REGISTRY,
)
CONSUMER_LAG = Gauge(
    "sla_consumer_lag",
    "Messages of the events topic not yet committed as processed (true end offset minus the "
    "committed offset)",
    ["partition"],
    registry=REGISTRY,
)
STALE_RECORDS = Counter(
    "sla_stale_records_total",
    "Fetched records not delivered because their partition was seeked after the fetch (they "
    "are fetched again from the seek position)",
    registry=REGISTRY,
)
COMMIT_GAPS = Counter(
    "sla_commit_gaps_total",
    "Times a partition's commit was found held by offsets never acknowledged (the partition "
    "is then read again from its committed offset)",
    ["topic", "partition"],
    registry=REGISTRY,
)
STATE_BYTES = Gauge(
    "sla_state_bytes", "Bytes on disk of RocksDB state and timer indexes", registry=REGISTRY
)
RECOVERY = Gauge(
    "sla_recovery_duration_seconds",
    "Seconds from worker start to the end of its last table recovery",
    registry=REGISTRY,
)
BUILD = Gauge(
    "sla_build_info",
    "Engine version and policy content hash (always 1)",
    ["version", "policy_version"],
    registry=REGISTRY,
)
TIMER_LAG = Histogram(
    "sla_timer_lag_seconds",
    "detected_at - due_at of alerts fired by a timer (how late the engine noticed)",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
    registry=REGISTRY,
)
GC_PAUSE = Histogram(
    "sla_gc_pause_seconds",
    "Pauses of the cyclic garbage collector by generation (2: a full collection)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
    registry=REGISTRY,
)
GC_COLLECTED = Counter(
    "sla_gc_collected_objects_total",
    "Unreachable objects (reference cycles) the cyclic garbage collector freed, by generation",
    ["generation"],
    registry=REGISTRY,
)
KPI = Gauge(
    "sla_kpi",
    "KPI of the current day, week or month window (engine.kpis; rates 0-1, durations in s)",
    ["unit", "metric", "dimension", "key"],
    registry=REGISTRY,
)
KPI_TARGET = Gauge(
    "sla_kpi_target", "The policy's target for a KPI (kpis.targets)", ["metric"], registry=REGISTRY
)
TEAM_CSAT_FLAGGED = Gauge(
    "sla_team_csat_flagged",
    "1 when the team's CSAT is at least kpis.team_csat_flag below the mean of all teams",
    ["unit", "team"],
    registry=REGISTRY,
)
OPEN_BACKLOG = Gauge(
    "sla_open_backlog",
    "Open tickets by age band (time since creation), all partitions (kpis.backlog_age_bands)",
    ["band"],
    registry=REGISTRY,
)
LABEL_OVERFLOW = Counter(
    "sla_label_overflow_total",
    "Distinct event-data label values beyond the cap: folded into `other` or left out "
    "(topologies.labels)",
    ["label"],
    registry=REGISTRY,
)


def reject_reason(reason: str) -> str:
    """A bounded label value for a dead-letter reason."""
    if reason.startswith("not JSON"):
        return "not_json"
    if "unknown event type" in reason:
        return "unknown_type"
    if "timezone" in reason:
        return "naive_timestamp"
    if "not a JSON object" in reason or "should be an object" in reason:
        return "not_object"
    return "invalid_field"


REJECT_REASONS = (
    "not_json",
    "not_object",
    "unknown_type",
    "naive_timestamp",
    "invalid_field",
    # set by the worker itself (topologies/worker/intake.py), not derived from a parse error
    "null_value",
    "too_large",
    "future",
    "too_old",
    "processing_error",
)
PROCESSING_STAGES = ("event", "settle", "tick")


def initialise(clocks: tuple[str, ...] = ()) -> None:
    """Create the labelled series that must exist from the start (rate() and alert rules
    need a zero before the first increment)."""
    for reason in REJECT_REASONS:
        REJECTED.labels(reason)
    LABEL_OVERFLOW.labels("team")
    for clock in clocks:
        UNTARGETED.labels(clock)
    for stage in PROCESSING_STAGES:
        PROCESSING_ERRORS.labels(stage)
    for outcome in ("sent", "answered"):
        TICKS.labels(outcome)


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Expose /metrics on `host:port` (port 0 = off); a port in use is a clear start-up error."""
    if not port:
        return
    try:
        start_http_server(port, addr=host, registry=REGISTRY)
    except OSError as e:
        raise SystemExit(
            f"sla-engine: cannot serve metrics on {host}:{port}: {e.strerror}; "
            "choose another with --metrics-port / SLA_METRICS_PORT or --metrics-host / "
            "SLA_METRICS_HOST"
        ) from None
