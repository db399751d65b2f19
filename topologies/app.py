"""The Faust app: the streaming shell around `engine/`. It declares the topics, tables, agents
and timers; what they do is `topologies.worker.task.TicketTask` (events, ticks, the timer scan)
and `topologies.worker.kpi_task.KpiTask` (KPI facts), each agent a `run_batches` loop.

- `tickets.events` → validate (invalid → `tickets.dlq`) → the ticket's state in a RocksDB table
  (changelogged) → `Ticket.step` → alerts on `sla.alerts`.
- Timers: per partition, a RocksDB index of each open ticket's next deadline. A wall-clock loop
  seeks it from its watermark (O(due)) and sends a tick for each due ticket to `sla.ticks` on the
  ticket's own partition; the tick agent runs `Ticket.tick`. All state changes thus happen inside
  agents, so the table's changelog stays consistent with the partition that owns the ticket.
- The index is not changelogged: after every rebalance it is rebuilt from the recovered table,
  whose values start with the ticket's deadline.
- The agents take their events in batches (`Stream.noack_take`): each ticket a batch touched
  is written to its table once (`topologies.state.rocksdb.RocksDBStore`, explicit
  partitions), each partition's timer index is moved with one `set_many`, and the batch's
  events are acked once all of that is queued.
- Everything the worker emits (alerts, ticks, KPI facts and snapshots, dead letters, re-keyed
  events and both tables' changelogs) goes through one confluent-kafka producer
  (`topologies.output.Output`), flushed right before every offset commit (`BeforeCommit`): at
  least once, without Faust's producer (~200 µs of event loop per message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import faust
from faust.types import TP

from config.loader import load
from kafka_io import client as kafka_client
from kafka_io.admin import broker_kind
from topologies import metrics, query_api, tansu_recovery, uncommitted
from topologies.faust_internals import committed_offsets
from topologies.kpis import KpiAggregator
from topologies.labels import configure as configure_labels
from topologies.output import Output
from topologies.settings import Settings
from topologies.state.recovery_hook import FastRestore, FastTableManager, timer_items_of
from topologies.state.recovery_hook import install as install_restore
from topologies.state.rocksdb import RocksDBStore
from topologies.stream_time import SystemClock
from topologies.worker import gc_policy, stale_fetch
from topologies.worker.commit_gaps import CommitGaps
from topologies.worker.gauges import clock_gauges, consumer_lag, state_bytes
from topologies.worker.kpi_task import KpiTask
from topologies.worker.loop import run_batches
from topologies.worker.partition_state import timers_under
from topologies.worker.task import Highwater, TicketTask
from topologies.worker.work_time import timed

if TYPE_CHECKING:
    from engine.rules import RuntimePolicy

EVENTS_WITHIN_S = 0.05  # see topologies.worker.loop
TICKS_WITHIN_S = 0.005
FACTS_WITHIN_S = 0.05
GAUGE_INTERVAL_S = 5.0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sla-engine")
    except PackageNotFoundError:
        return "unknown"


def _highwater(app: faust.App, tp: Any) -> int | None:
    try:
        hw = app.consumer.highwater(tp)
    except Exception:
        return None
    return int(hw) if hw is not None else None


# Faust settings shared by the worker and the stream benchmark's pass-through baseline, so the
# benchmark compares like with like.
CONSUMER_SETTINGS: dict[str, Any] = {
    "topic_replication_factor": 1,
    "autodiscover": False,
    "web_enabled": False,
    "consumer_auto_offset_reset": "earliest",
    "broker_session_timeout": 6.0,  # tansu holds a JoinGroup for ~half of it
    "broker_heartbeat_interval": 1.0,
    "broker_rebalance_timeout": 10.0,
    "stream_wait_empty": False,
    "broker_max_poll_records": 5000,
    "stream_buffer_maxsize": 32768,
    "producer_linger": 0.01,
    "table_standby_replicas": 0,
    # Commit on time (`broker_commit_interval`, 2.8 s), not also every 10,000 acks (Faust's
    # default): each commit sends every dirty ticket's KPI facts, writes the table and flushes
    # twice, so a count trigger repeats that work more often the faster the worker reads
    # (docs/streaming-notes.md, 2 (g3)).
    "broker_commit_every": 1_000_000,
}


def on_tansu(settings: Settings) -> bool:
    """Whether the broker is the embedded tansu (`kafka_io.admin.broker_kind`)."""
    return broker_kind(str(settings.broker)) == "tansu"


def consistency_check(settings: Settings, tansu: bool) -> bool:
    """Whether Faust may compare local state offsets with changelog end offsets on recovery.

    tansu reports a partition's end offset as the base offset of its last batch + 1, so a worker
    that kept its RocksDB state would be refused as "ahead of the changelog": off there."""
    if settings.consistency_check in ("on", "off"):
        return settings.consistency_check == "on"
    return not tansu


def faust_credentials(client: kafka_client.KafkaClient) -> Any:
    """Faust's (aiokafka's) form of the process's Kafka client security settings."""
    if client.sasl:
        return faust.SASLCredentials(
            username=client.sasl_username,
            password=client.sasl_password,
            ssl_context=client.ssl_context(),
            mechanism=client.sasl_mechanism,
        )
    if client.tls:
        return faust.SSLCredentials(client.ssl_context())
    return None


def restore_settings(settings: Settings) -> dict[str, Any]:
    """The Faust settings of `--restore`: the bulk restore's table manager, or Faust's own."""
    return {"TableManager": FastTableManager} if settings.restore == "bulk" else {}


def faust_app(settings: Settings, tansu: bool | None = None) -> faust.App:
    """The Faust app of the worker's group on the settings' broker (patched for tansu there;
    `tansu` None: ask the broker)."""
    (Path(settings.data_dir) / "faust").mkdir(parents=True, exist_ok=True)
    if tansu is None:
        tansu = on_tansu(settings)
    uncommitted.apply()
    stale_fetch.apply()
    if tansu:
        tansu_recovery.apply()
        tansu_recovery.shorten_fetch_wait()
    return faust.App(
        settings.app_group,
        broker=f"kafka://{settings.broker}",
        store="rocksdb://",
        datadir=str(Path(settings.data_dir) / "faust"),
        topic_partitions=settings.partitions,
        **CONSUMER_SETTINGS,
        recovery_consistency_check=consistency_check(settings, tansu),
        canonical_url=settings.advertised_api_url,  # the query API, advertised to the group
        broker_credentials=faust_credentials(kafka_client.current()),
        **restore_settings(settings),
    )


def raw_topic(app: faust.App, name: str, partitions: int) -> faust.TopicT:
    """A topic of raw bytes keys and values (the worker decodes them itself)."""
    return app.topic(
        name,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )


def every(app: faust.App, interval: float, run: Callable[[], Awaitable[None]]) -> None:
    """Run `run` every `interval` seconds while the app runs (`App.timer`, untyped in Faust)."""
    register = cast("Callable[[Callable[[], Awaitable[None]]], object]", app.timer(interval))
    register(run)


def build_app(
    settings: Settings, output: Output | None = None, tansu: bool | None = None
) -> tuple[faust.App, Callable[[], None]]:
    """The Faust app of the settings' role, wired to its topics, and what to call at shutdown."""
    policy = load(settings.policy)
    app = faust_app(settings, tansu)
    out = output or Output(str(settings.broker))
    clock = SystemClock()

    def highwater(tp: Any) -> int | None:
        return _highwater(app, tp)

    metrics.BUILD.labels(_version(), policy.version).set(1)
    metrics.initialise(tuple(c.name for c in policy.clocks))
    configure_labels(policy)
    task = install_tickets(app, settings, policy, out, clock, highwater)
    kpis = install_kpis(app, settings, policy, out, clock, highwater)
    install_hooks(app, task, kpis)
    if settings.restore == "bulk":
        fast = FastRestore(str(settings.broker))
        for name, table in app.tables.items():
            fast.add(table, timers=name == "tickets")
        install_restore(app, fast)

    async def hold_off_gc() -> None:
        gc_policy.hold_off()

    every(app, gc_policy.FREEZE_INTERVAL_S, hold_off_gc)

    def close() -> None:
        if task is not None:
            task.close()
        elif kpis is not None:
            kpis.close()

    return app, close


def install_tickets(
    app: faust.App,
    settings: Settings,
    policy: RuntimePolicy,
    out: Output,
    clock: SystemClock,
    highwater: Highwater,
) -> TicketTask | None:
    """Role `sla` (and `all`): the tickets table, the event and tick agents, the timer scan,
    the clock gauges and the query API."""
    if not settings.runs_tickets:
        return None
    events = raw_topic(app, settings.events_topic, settings.partitions)
    ticks = raw_topic(app, settings.ticks_topic, settings.partitions)
    table = app.Table(
        "tickets",
        partitions=settings.partitions,
        key_type=bytes,  # bytes → faust's "raw" codec, also for changelog recovery
        value_type=bytes,
    )
    timers = timers_under(Path(settings.data_dir) / "timers")

    def last_offset(partition: int) -> int | None:
        hw = highwater(TP(settings.events_topic, partition))
        return None if hw is None else hw - 1

    store = RocksDBStore(table, out)
    task = TicketTask(settings, policy, store, timers, out, clock, highwater, last_offset)
    on_events, on_ticks, scan = (
        timed("events", task.on_events),
        timed("ticks", task.on_ticks),
        timed("timer_scan", task.scan),
    )

    @app.agent(events)
    async def on_event(stream: faust.StreamT[bytes]) -> None:
        await run_batches(app, stream, EVENTS_WITHIN_S, task.ready, on_events, out.poll)

    @app.agent(ticks)
    async def on_tick(stream: faust.StreamT[bytes]) -> None:
        await run_batches(app, stream, TICKS_WITHIN_S, task.ready, on_ticks, out.poll)

    @table.on_recover
    async def rebuild_timers() -> None:
        task.recovered(timer_items_of(app, table))
        gc_policy.tune()

    async def scan_timers() -> None:
        scan()

    async def refresh_gauges() -> None:
        await clock_gauges(task.state, task.clock.wall_us())
        tps = [tp for tp in app.consumer.assignment() if tp.topic == settings.events_topic]
        committed = committed_offsets(app.consumer)
        await consumer_lag(str(settings.broker), tps, committed)
        metrics.STATE_BYTES.set(state_bytes(Path(settings.data_dir)))

    every(app, settings.timer_interval, scan_timers)
    every(app, GAUGE_INTERVAL_S, refresh_gauges)
    query_api.install(app, task.state, settings, table)
    return task


def install_kpis(
    app: faust.App,
    settings: Settings,
    policy: RuntimePolicy,
    out: Output,
    clock: SystemClock,
    highwater: Highwater,
) -> KpiTask | None:
    """Role `kpis` (and `all`): the facts table, the aggregator agent and the KPI snapshots."""
    if not settings.runs_kpis:
        return None
    kpi_facts = raw_topic(app, settings.kpi_facts_topic, 1)
    facts_table = app.Table("kpi-facts", partitions=1, key_type=bytes, value_type=bytes)
    aggregator = KpiAggregator(policy, settings.retention_days)
    kpis = KpiTask(settings, aggregator, RocksDBStore(facts_table, out), out, clock, highwater)
    on_batch, publish = timed("kpi_facts", kpis.on_facts), timed("kpi_publish", kpis.publish)
    for name, target in policy.kpis.targets.items():
        metrics.KPI_TARGET.labels(name).set(target)

    @app.agent(kpi_facts)
    async def on_facts(stream: faust.StreamT[bytes]) -> None:
        """The aggregator: the latest facts per ticket replace its previous ones in the store."""
        await run_batches(app, stream, FACTS_WITHIN_S, kpis.ready, on_batch, out.poll)

    @facts_table.on_recover
    async def rebuild_kpis() -> None:
        kpis.recovered()
        if not settings.runs_tickets:
            gc_policy.tune()

    async def publish_kpis() -> None:
        publish()

    every(app, settings.kpi_interval, publish_kpis)
    return kpis


def install_hooks(app: faust.App, task: TicketTask | None, kpis: KpiTask | None) -> None:
    """What a commit and a rebalance must do first (`TicketTask.before_commit`, `revoked`;
    the KPI task's on a `kpis` worker)."""

    class BeforeCommit(faust.Sensor):
        """Faust computes the offsets to commit, flushes its producer (the changelogs) and
        commits right after this hook, with no await in between: what a batch emitted before
        its events were acked is on the broker before they count as done (at least once)."""

        def on_commit_initiated(self, consumer: Any) -> Any:
            if before_commit is not None:
                before_commit()
            return None

    before_commit = None  # the ticket task's flushes the one output, the KPI task's writes too
    if task is not None:
        before_commit = timed("commit", task.before_commit)
    elif kpis is not None:
        before_commit = timed("commit", kpis.before_commit)
    app.sensors.add(BeforeCommit())

    async def on_revoked(app_: Any, *args: Any, **kwargs: Any) -> None:
        if task is not None:
            task.revoked()
        elif kpis is not None:
            kpis.before_commit()
        if kpis is not None:
            kpis.aggregator.reset()

    # mode's handler type (mypy_extensions' VarArg) matches no annotated function
    app.on_partitions_revoked.connect(cast(Any, on_revoked))
    gaps = CommitGaps()

    async def watch_commits() -> None:
        changelogs = set(app.tables.changelog_topics)
        tps = [tp for tp in app.consumer.assignment() if tp.topic not in changelogs]
        ready = all(t.ready() for t in (task, kpis) if t is not None)
        await gaps.check(app.consumer, tps, ready and not app.rebalancing)

    every(app, GAUGE_INTERVAL_S, watch_commits)
