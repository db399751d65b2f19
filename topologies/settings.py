"""Worker settings: flags override environment variables override defaults (all in `--help`)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "SLA_"
# What a worker runs (`--role`): `sla` the ticket and tick agents, the timer scan, the status
# and query API; `kpis` the KPI aggregator alone (in its own consumer group); `all` both.
ROLES = ("all", "sla", "kpis")
# How a table comes back from its changelog (`--restore`): `bulk` read in big batches into
# RocksDB before Faust's recovery (topologies.state.restore), `faust` Faust's recovery alone.
RESTORES = ("bulk", "faust")
KPIS_GROUP_SUFFIX = "-kpis"


@dataclass(frozen=True)
class Settings:
    broker: str | None = None  # host:port; None = start the embedded broker (demo)
    data_dir: Path = Path("data")
    metrics_port: int = 9108
    metrics_host: str = "127.0.0.1"  # loopback: /metrics is not published unless asked for
    policy: str | None = None
    group: str = "sla-engine"
    events_topic: str = "tickets.events"
    alerts_topic: str = "sla.alerts"
    dlq_topic: str = "tickets.dlq"
    ticks_topic: str = "sla.ticks"
    kpis_topic: str = "sla.kpis"
    kpi_facts_topic: str = "sla.kpi-facts"
    kpi_interval: float = 10.0
    partitions: int = 4
    retention_days: float = 35.0
    timer_interval: float = 0.1
    cache_tickets: int = 50_000
    log_level: str = "WARNING"
    consistency_check: str = "auto"
    status_topic: str = "sla.status"
    max_skew: float = 300.0
    max_message_bytes: int = 900_000
    api_host: str = "127.0.0.1"
    api_port: int = 9110
    api_url: str = ""
    role: str = "all"
    restore: str = "bulk"

    @property
    def advertised_api_url(self) -> str:
        """The URL other workers reach this one's query API at (advertised to the group)."""
        if self.api_url:
            return self.api_url.rstrip("/")
        host = "127.0.0.1" if self.api_host in ("", "0.0.0.0", "::") else self.api_host
        return f"http://{host}:{self.api_port}"

    @property
    def runs_tickets(self) -> bool:
        """Whether this worker runs the ticket and tick agents (roles `all` and `sla`)."""
        return self.role in ("all", "sla")

    @property
    def runs_kpis(self) -> bool:
        """Whether this worker runs the KPI aggregator (roles `all` and `kpis`)."""
        return self.role in ("all", "kpis")

    @property
    def app_group(self) -> str:
        """The Faust app id and consumer group: a `kpis` worker has its own (`GROUP-kpis`), so
        that joining the SLA workers' group would not take the ticket partitions it never reads."""
        return self.group + KPIS_GROUP_SUFFIX if self.role == "kpis" else self.group

    @property
    def topics(self) -> dict[str, int]:
        """Every topic the worker needs, with its partition count."""
        return {
            self.events_topic: self.partitions,
            self.ticks_topic: self.partitions,
            self.alerts_topic: self.partitions,
            self.dlq_topic: 1,
            self.kpis_topic: 1,
            self.kpi_facts_topic: 1,
            self.status_topic: self.partitions,
        }

    @property
    def compacted(self) -> frozenset[str]:
        """Topics keyed by identity whose latest value per key is the state (log compaction)."""
        return frozenset({self.kpis_topic, self.kpi_facts_topic, self.status_topic})


HELP = {
    "broker": "Kafka bootstrap HOST:PORT (env SLA_BROKER); none: start the embedded broker",
    "data_dir": "directory for RocksDB state and timer indexes (env SLA_DATA_DIR)",
    "metrics_port": "HTTP port of the Prometheus /metrics endpoint, 0 = off (env SLA_METRICS_PORT)",
    "metrics_host": "address the /metrics endpoint listens on; 0.0.0.0 = every interface, as "
    "a container needs (env SLA_METRICS_HOST)",
    "policy": "policy YAML (env SLA_POLICY; default: the bundled default policy)",
    "group": "consumer group and Faust app id (env SLA_GROUP)",
    "events_topic": "input topic of ticket events (env SLA_EVENTS_TOPIC)",
    "alerts_topic": "output topic of alerts and retractions (env SLA_ALERTS_TOPIC)",
    "dlq_topic": "dead-letter topic for rejected input (env SLA_DLQ_TOPIC)",
    "ticks_topic": "internal topic that carries due timers to the agent (env SLA_TICKS_TOPIC)",
    "kpis_topic": "output topic of KPI snapshots, compacted, keyed by window|dimension|key "
    "(env SLA_KPIS_TOPIC)",
    "kpi_facts_topic": "internal one-partition topic carrying each ticket's KPI facts to the "
    "aggregator (env SLA_KPI_FACTS_TOPIC)",
    "kpi_interval": "seconds between publications of changed KPI snapshots (debounce) "
    "(env SLA_KPI_INTERVAL)",
    "partitions": "partitions of the events, ticks and alerts topics (env SLA_PARTITIONS)",
    "retention_days": "days a closed ticket's state and KPI facts are kept; KPI windows that "
    "started earlier are no longer published, so keep it above a month plus the grace period "
    "(env SLA_RETENTION_DAYS)",
    "timer_interval": "seconds between scans of the timer index (env SLA_TIMER_INTERVAL)",
    "cache_tickets": "decoded tickets kept in memory per worker (env SLA_CACHE_TICKETS)",
    "log_level": "log level of the worker (env SLA_LOG_LEVEL)",
    "max_message_bytes": "largest alert or ticket state the worker sends; a record whose output "
    "would be larger goes to the dead-letter topic (processing_error); keep it below the "
    "broker's message.max.bytes (env SLA_MAX_MESSAGE_BYTES)",
    "max_skew": "seconds an event's occurred_at may be ahead of the wall clock; later ones go "
    "to the dead-letter topic, 0 = no limit (env SLA_MAX_SKEW)",
    "consistency_check": "Faust's check of local state against changelog offsets on recovery: "
    "auto (off on the embedded tansu broker, whose end offsets are approximate; on elsewhere), "
    "on, off (env SLA_CONSISTENCY_CHECK)",
    "status_topic": "output topic of each ticket's live SLA status, compacted, keyed by ticket_id "
    "(env SLA_STATUS_TOPIC)",
    "api_host": "address the status query API binds to; loopback by default, 0.0.0.0 to serve "
    "other hosts (env SLA_API_HOST)",
    "api_port": "HTTP port of the status query API (GET /tickets/ID, GET /at-risk), 0 = off "
    "(env SLA_API_PORT)",
    "api_url": "URL other workers reach this worker's API at, advertised in the consumer group "
    "(env SLA_API_URL; default http://API_HOST:API_PORT, loopback when bound to all addresses)",
    "role": "what this worker runs: all (one process does everything), sla (ticket and tick "
    "agents, timers, status and query API; no KPI aggregation), kpis (only the KPI aggregator, "
    "in consumer group GROUP-kpis: scaled and restarted on its own) (env SLA_ROLE)",
    "restore": "how tables come back from their changelogs into an empty or stale data dir: "
    "bulk (read in big batches straight into RocksDB, timer index in the same pass), faust "
    "(Faust's own recovery, record by record, slower) (env SLA_RESTORE)",
}


def add_arguments(p: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """One `--flag` per setting; the default shown is the environment's or the built-in one."""
    for f in fields(Settings):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        shown = "" if default is None else f" (default: {default})"
        p.add_argument(flag, dest=f.name, default=None, help=HELP[f.name] + shown)


def _convert(name: str, raw: str) -> Any:
    default = getattr(Settings(), name)
    if isinstance(default, bool):
        return raw.lower() in ("1", "true", "yes")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path):
        return Path(raw)
    return raw


def resolve(
    args: argparse.Namespace | None = None, environ: dict[str, str] | None = None
) -> Settings:
    """Settings from flags, then `SLA_*` environment variables, then defaults."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        flag = getattr(args, f.name, None) if args is not None else None
        raw = flag if flag is not None else env.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            try:
                values[f.name] = _convert(f.name, str(raw))
            except ValueError:
                raise SystemExit(
                    f"sla-engine: --{f.name.replace('_', '-')}: bad value {raw!r}"
                ) from None
    role = values.get("role", Settings.role)
    if role not in ROLES:
        raise SystemExit(f"sla-engine: --role: bad value {role!r} (one of {', '.join(ROLES)})")
    how = values.get("restore", Settings.restore)
    if how not in RESTORES:
        raise SystemExit(f"sla-engine: --restore: bad value {how!r} (one of {', '.join(RESTORES)})")
    return Settings(**values)
