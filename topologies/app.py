"""The Faust app: the streaming shell around `engine/`.

- `tickets.events` → validate (invalid → `tickets.dlq`) → the ticket's state in a RocksDB table
  (changelogged) → `Ticket.step` → alerts on `sla.alerts`.
- Timers: per partition, a RocksDB index of each open ticket's next deadline. A wall-clock loop
  seeks it from its watermark (O(due)) and sends a tick for each due ticket to `sla.ticks` on the
  ticket's own partition; the tick agent runs `Ticket.tick`. All state changes thus happen inside
  agents, so the table's changelog stays consistent with the partition that owns the ticket.
- The index is not changelogged: after every rebalance it is rebuilt from the recovered table,
  whose values start with the ticket's deadline.
- The agents take their events in batches (`Stream.noack_take`): each ticket a batch touched
  is written to its table once (`TableWriter`, explicit partitions), each partition's timer
  index is moved with one `set_many`, and the batch's events are acked once all of that is
  queued.
- Everything the worker emits (alerts, ticks, KPI facts and snapshots, dead letters, re-keyed
  events and both tables' changelogs) goes through one confluent-kafka producer (`Output`),
  flushed right before every offset commit (`BeforeCommit`): at least once, without Faust's
  producer (~200 µs of event loop per message).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import struct
import time
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import faust
import orjson
from faust.types import TP
from rocksdict import WriteBatch

from config.loader import load
from engine.kpis import contributions, encode_facts
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from kafka_io import client as kafka_client
from kafka_io.admin import broker_kind, end_offsets
from kafka_io.producer import make_producer, send
from topologies import metrics, query_api, state, tansu_recovery, uncommitted
from topologies.clock import PartitionClock
from topologies.kpis import KpiAggregator, facts_message
from topologies.labels import TEAMS
from topologies.labels import configure as configure_labels
from topologies.settings import Settings
from topologies.status import StatusPublisher, partition_clock
from topologies.steps import Stepper, now_us
from topologies.timers import TimerIndex

log = logging.getLogger("sla.worker")


_NOW = struct.Struct(">q")

# An agent processes a batch once it holds BATCH events or WITHIN seconds after the previous
# one: the events and KPI facts agents wait longer (bigger batches under a backlog; an event's
# alerts are at most that much later), the ticks agent less (timer latency).
BATCH = 1000
EVENTS_WITHIN_S = 0.05
TICKS_WITHIN_S = 0.005
FACTS_WITHIN_S = 0.05
FLUSH_TIMEOUT_S = 60.0  # the emitted messages must be on the broker before an offset commit


class DeliveryError(RuntimeError):
    """A message the engine emitted did not reach the broker: no offset may be committed."""


class Output:
    """One confluent-kafka producer for every message the engine emits, ticket changelog
    included.

    `send` only queues (a few µs; librdkafka delivers from its own threads), where a Faust
    `Topic.send` or table write costs ~200 µs of event loop per message. `flush` waits until
    everything queued is on the broker; `BeforeCommit` calls it right before Faust commits
    offsets, so an event counts as done only once its output is delivered (at least once). A
    failed delivery is sticky: every later flush raises, so no offset is committed past a lost
    message."""

    def __init__(self, bootstrap: str, producer: Any = None) -> None:
        self.failures: list[str] = []
        self.writers: list[TableWriter] = []  # whose changelog offsets to store
        # murmur2 (Faust's placement), idempotent: alerts and changelog stay in order per ticket
        self.producer = producer if producer is not None else make_producer(bootstrap)

    def delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int = -1,
        on_delivery: Any = None,
    ) -> None:
        """Queue one message (`partition` -1: by the key's murmur2 hash; `value` None: a
        tombstone; `on_delivery(err, msg)` instead of the failure check)."""
        send(
            self.producer, topic, value, key, partition=partition,
            on_delivery=on_delivery or self.delivered, wait=0.01,
        )  # fmt: skip

    def poll(self) -> None:
        """Serve the delivery reports that arrived, without waiting; store the changelog
        offsets they report."""
        self.producer.poll(0)
        for writer in self.writers:
            writer.persist()

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until everything queued is on the broker (or raise `DeliveryError`)."""
        left = self.producer.flush(timeout)
        for writer in self.writers:
            writer.persist()
        if left or self.failures:
            raise DeliveryError(
                f"{left} message(s) not delivered in {timeout:g} s; failures: {self.failures[:5]}"
            )


class TableWriter:
    """Reads and writes of a Faust `Table` with explicit partitions, its changelog through
    `Output`, in the order of Faust's own `Table`: the partition's RocksDB first (one
    WriteBatch per partition), then one changelog message per key (same topic, key and raw
    value; a delete is a tombstone); once a changelog message is delivered, its offset is
    stored in that RocksDB (`persist`, what `Collection._on_changelog_sent` does), so a
    restart with the same data directory reads the changelog from there on.

    Why not `table[key] = value`: a `Table` takes the partition of a write, and of its
    changelog message, from `faust.current_event()`, which is unset while a batch is
    processed, and sends through Faust's producer (~200 µs a message);
    `Collection.send_changelog(partition, ...)` is public but uses that same producer.
    Private API: `Store._db_for_partition` (faust/stores/rocksdb.py, faust-streaming 0.15.3);
    see docs/streaming-notes.md, 2 (g)."""

    def __init__(self, table: Any, output: Output) -> None:
        self.table = table
        self.output = output
        self.changelog = table.changelog_topic.get_topic_name()
        self.delivered: dict[int, int] = {}  # partition -> last changelog offset delivered
        output.writers.append(self)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value in that partition's RocksDB (what a `Table` read inside an agent reads:
        one DB, not a lookup in each)."""
        value: bytes | None = self.table.data._db_for_partition(partition).get(key)
        return value

    def write(self, writes: Mapping[int, Sequence[tuple[bytes, bytes | None]]]) -> None:
        """`{partition: [(key, value or None to delete), ...]}`."""
        store = self.table.data
        for partition, items in writes.items():
            batch = WriteBatch(raw_mode=True)
            for key, value in items:
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            store._db_for_partition(partition).write(batch)
            for key, value in items:
                self.output.send(self.changelog, key, value, partition, self._changelogged)

    def _changelogged(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.output.delivered(err, msg)
        elif msg.offset() > self.delivered.get(msg.partition(), -1):
            self.delivered[msg.partition()] = msg.offset()

    def persist(self) -> None:
        delivered, self.delivered = self.delivered, {}
        for partition, offset in delivered.items():
            self.table.data.set_persisted_offset(TP(self.changelog, partition), offset)


class Engine:
    """The worker's view of its tickets: table access, the decoded-ticket cache and the timer
    indexes of the partitions it owns."""

    def __init__(
        self, settings: Settings, policy: RuntimePolicy, table: Any, output: Output
    ) -> None:
        self.settings = settings
        self.policy = policy
        self.table = table
        self.output = output
        self.tickets = TableWriter(table, output)
        self.cache: OrderedDict[str, Ticket] = OrderedDict()
        self.indexes: dict[int, TimerIndex] = {}
        self.ready = False
        self.timer_dir = Path(settings.data_dir) / "timers"
        self.clocks: dict[int, PartitionClock] = {}
        self.started = time.monotonic()
        self.facts_sent: OrderedDict[str, bytes] = OrderedDict()
        self.dirty: dict[str, tuple[Ticket, int]] = {}  # KPI facts to send before the commit
        # Tickets changed since the last commit, not yet in RocksDB nor the changelog:
        # ticket id -> (partition, ticket or None = delete). Written by `write_pending` only
        # once the alerts they announce are delivered (local state never ahead of the output).
        self.pending: dict[str, tuple[int, Ticket | None, bytes | None]] = {}
        self.position: dict[int, int] = {}  # events partition -> next offset to process

    def clock(self, partition: int) -> PartitionClock:
        c = self.clocks.get(partition)
        if c is None:
            c = self.clocks[partition] = PartitionClock()
        return c

    # state
    def load(
        self,
        ticket_id: str,
        partition: int,
        touched: Mapping[str, tuple[Ticket, Any]] | None = None,
    ) -> Ticket | None:
        """The ticket's current state: changed in the batch being processed (`touched`), since
        the last commit (`pending`, not written yet), decoded in the cache, or read from its
        partition of the table."""
        if touched is not None:
            entry = touched.get(ticket_id)
            if entry is not None:
                return entry[0]
        waiting = self.pending.get(ticket_id)
        if waiting is not None:
            return waiting[1]
        ticket = self.cache.get(ticket_id)
        if ticket is not None:
            self.cache.move_to_end(ticket_id)
            return ticket
        raw = self.tickets.get(partition, ticket_id.encode())
        if raw is None:
            return None
        ticket = state.decode(raw, self.policy)
        self._remember(ticket)
        return ticket

    def _remember(self, ticket: Ticket) -> None:
        self.cache[ticket.ticket_id] = ticket
        if len(self.cache) > self.settings.cache_tickets:
            self.cache.popitem(last=False)

    def save_many(self, keep: Mapping[str, tuple[int, Ticket, bytes]]) -> None:
        """Keep each ticket a batch changed, `(partition, ticket, encoded state)`, for the next
        commit (`pending`), and move its deadlines with one index batch per partition."""
        retention = self.settings.retention_days
        moves: dict[int, list[tuple[str, int | None]]] = {}
        for ticket_id, (partition, ticket, value) in keep.items():
            self.pending[ticket_id] = (partition, ticket, value)
            moves.setdefault(partition, []).append((ticket_id, state.deadline(ticket, retention)))
            self._remember(ticket)
        for partition, items in moves.items():
            self.index(partition).set_many(items)

    def write_pending(self) -> None:
        """Write the tickets changed since the last commit to RocksDB and queue their changelog
        messages (`TableWriter`). Called only once everything they announced is on the broker,
        so neither the local state nor the changelog is ever ahead of the alerts: after a kill
        before this, the table holds those tickets as before the events, which are read again
        (their offsets are committed only after this write) and announce the same ids again."""
        pending, self.pending = self.pending, {}
        writes: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for ticket_id, (partition, _ticket, value) in pending.items():
            writes.setdefault(partition, []).append((ticket_id.encode(), value))
        self.tickets.write(writes)

    def restore(
        self, ticket_id: str, snapshot: bytes | None, touched: dict[str, tuple[Ticket, Any]]
    ) -> Ticket | None:
        """Put a ticket back as it was (`snapshot`, `Ticket.to_bytes`; None: it did not exist)
        after its processing raised half-way: in the batch, the cache, the pending writes and
        the KPI facts to send. Returns the restored ticket."""
        ticket = Ticket.from_bytes(snapshot, self.policy) if snapshot is not None else None
        touched.pop(ticket_id, None)
        self.cache.pop(ticket_id, None)
        self.facts_sent.pop(ticket_id, None)
        if ticket is not None:
            self._remember(ticket)
        waiting = self.pending.get(ticket_id)
        if waiting is not None:
            self.pending[ticket_id] = (waiting[0], ticket, waiting[2])
        dirty = self.dirty.pop(ticket_id, None)
        if dirty is not None and ticket is not None:
            self.dirty[ticket_id] = (ticket, dirty[1])
        return ticket

    def take_dirty(self) -> list[tuple[str, int, list[Any]]]:
        """(ticket id, clock, encoded facts) of the tickets touched since the last call whose
        facts changed: computed once per commit, however many events a ticket had."""
        dirty, self.dirty = self.dirty, {}
        out = []
        for ticket_id, (ticket, now) in dirty.items():
            encoded = self.facts(ticket)
            if encoded is not None:
                out.append((ticket_id, now, encoded))
        return out

    def facts(self, ticket: Ticket) -> list[Any] | None:
        """The ticket's encoded KPI facts when they changed since last sent (None: unchanged)."""
        encoded = encode_facts(contributions(ticket))
        raw = orjson.dumps(encoded)
        if self.facts_sent.get(ticket.ticket_id) == raw:
            self.facts_sent.move_to_end(ticket.ticket_id)
            return None
        self.facts_sent[ticket.ticket_id] = raw
        if len(self.facts_sent) > self.settings.cache_tickets:
            self.facts_sent.popitem(last=False)
        return encoded

    def drop(self, ticket_id: str, partition: int) -> None:
        """Forget a ticket closed longer than the retention period (at once, not at the end of
        the batch: a later tick of the same batch must not find it; deleted from the table at
        the next commit)."""
        self.cache.pop(ticket_id, None)
        self.facts_sent.pop(ticket_id, None)
        self.dirty.pop(ticket_id, None)
        self.pending[ticket_id] = (partition, None, None)
        self.index(partition).set(ticket_id, None)

    # timers
    def index(self, partition: int) -> TimerIndex:
        idx = self.indexes.get(partition)
        if idx is None:
            idx = self.indexes[partition] = TimerIndex(
                self.timer_dir / f"p{partition}", durable=False
            )
        return idx

    def reset(self) -> None:
        """A rebalance started: timers stop until the table is recovered again."""
        self.ready = False
        self.pending.clear()  # written before this (on_revoked), unless delivery failed
        self.position.clear()
        self.cache.clear()
        self.facts_sent.clear()
        for idx in self.indexes.values():
            idx.clear()

    def rebuild(self) -> None:
        """Refill the timer indexes from the recovered table (active partitions only)."""
        for idx in self.indexes.values():
            idx.clear()
        per_partition: dict[int, list[tuple[str, int | None]]] = {}
        for key, value in self.table.items():
            due, partition = state.peek(value)
            per_partition.setdefault(partition, []).append((key.decode(), due))
        for partition, items in per_partition.items():
            self.index(partition).rebuild(items)
        self.ready = True
        metrics.OPEN_TICKETS.set(self.open_tickets())
        metrics.RECOVERY.set(time.monotonic() - self.started)

    async def clock_gauges(self, now: int, chunk: int = 2_000) -> None:
        """Open and at-risk clocks by clock and priority, over the decoded tickets in memory.

        The walk over the cache (up to `cache_tickets`, ~5 µs a ticket) yields to the event
        loop every `chunk` tickets, so the agents and the timer scan are never held up for
        more than ~10 ms by it; the gauges are set once the walk is done."""
        open_: Counter[tuple[str, str]] = Counter()
        risk: Counter[tuple[str, str]] = Counter()
        tickets = list(self.cache.values())  # the cache changes while the walk yields
        for start in range(0, len(tickets), chunk):
            if start:
                await asyncio.sleep(0)
            for ticket in tickets[start : start + chunk]:
                priority = ticket.state.attrs.get("priority") or ""
                for clock, at_risk in ticket.state.open_clocks(now):
                    open_[(clock, priority)] += 1
                    risk[(clock, priority)] += at_risk
        for name in self.policy.clock_names():  # every version's clocks
            for priority in ("A", "B", "C"):
                key = (name, priority)
                metrics.OPEN_CLOCKS.labels(*key).set(open_[key])
                metrics.AT_RISK.labels(*key).set(risk[key])

    def state_bytes(self) -> int:
        root = Path(self.settings.data_dir)
        return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())

    def open_tickets(self) -> int:
        return sum(len(idx) for idx in self.indexes.values())

    def close(self) -> None:
        for idx in self.indexes.values():
            idx.close()
        self.indexes.clear()
        # Best effort, e.g. ticks sent since the last commit. Faust has closed the tables by
        # now: their changelog offsets are not stored (a restart reads a little more).
        left = self.output.producer.flush(5.0)
        if left:
            log.warning("at shutdown: %d message(s) not delivered", left)


_gc_tuned = False


def tune_gc() -> None:
    """Once per process, when the worker first has its partitions: move everything allocated
    so far (modules, Faust's services, the policy) out of the collector's reach, and collect
    young objects every 10,000 allocations instead of 700. The worker allocates ~100 objects
    per event and keeps a large, long-lived heap (the decoded-ticket cache): with the default
    thresholds the collector took ~5 % of its time, mostly rescanning objects that never die."""
    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


def batches(stream: faust.StreamT[bytes], within: float) -> AsyncIterator[Sequence[Any]]:
    """The stream's events (not values: its annotation says otherwise) in lists of up to
    BATCH, `within` seconds apart at most, not acked: `Stream.noack_take`, public on
    `faust.Stream` but not in the `StreamT` interface."""
    return cast("faust.Stream[bytes]", stream).noack_take(BATCH, within=within)


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


_ALERT_SERIES: dict[tuple[str, ...], Any] = {}  # labels -> the ALERTS child (labels() locks)


def _count(alerts: list[dict[str, Any]], from_timer: bool, detected: int) -> None:
    for a in alerts:
        team = TEAMS((a.get("responsible") or {}).get("team") or "")
        labels = (a["clock"], a["kind"], a["level"] or "", a["priority"] or "", team)
        series = _ALERT_SERIES.get(labels)
        if series is None:
            series = _ALERT_SERIES[labels] = metrics.ALERTS.labels(*labels)
        series.inc()
        if from_timer and a["kind"] != "retraction":
            lag = detected / 1e6 - _epoch_s(a["due_at"])
            metrics.TIMER_LAG.observe(max(lag, 0.0))


def _epoch_s(iso_text: str) -> float:
    return datetime.fromisoformat(iso_text).timestamp()


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


def build_app(settings: Settings, output: Output | None = None) -> tuple[faust.App, Engine]:
    """The Faust app and its engine, wired to the topics of `settings`."""
    policy = load(settings.policy)
    (Path(settings.data_dir) / "faust").mkdir(parents=True, exist_ok=True)
    tansu = on_tansu(settings)
    uncommitted.apply()
    if tansu:
        tansu_recovery.apply()
        tansu_recovery.shorten_fetch_wait()
    app = faust.App(
        settings.group,
        broker=f"kafka://{settings.broker}",
        store="rocksdb://",
        datadir=str(Path(settings.data_dir) / "faust"),
        topic_partitions=settings.partitions,
        **CONSUMER_SETTINGS,
        recovery_consistency_check=consistency_check(settings, tansu),
        canonical_url=settings.advertised_api_url,  # the query API, advertised to the group
        broker_credentials=faust_credentials(kafka_client.current()),
    )
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    events = app.topic(settings.events_topic, partitions=settings.partitions, **raw)
    ticks = app.topic(settings.ticks_topic, partitions=settings.partitions, **raw)
    table = app.Table(
        "tickets",
        partitions=settings.partitions,
        key_type=bytes,  # bytes → faust's "raw" codec, also for changelog recovery
        value_type=bytes,
    )
    kpi_facts = app.topic(settings.kpi_facts_topic, partitions=1, **raw)
    facts_table = app.Table("kpi-facts", partitions=1, key_type=bytes, value_type=bytes)
    out = output or Output(str(settings.broker))
    engine = Engine(settings, policy, table, out)
    statuses = StatusPublisher(settings.status_topic, out.send, partition_clock(engine, now_us))
    facts_writer = TableWriter(facts_table, out)
    aggregator = KpiAggregator(policy, settings.retention_days)
    metrics.BUILD.labels(_version(), policy.version).set(1)
    metrics.initialise(tuple(c.name for c in policy.clocks))
    configure_labels(policy)
    for name, target in policy.kpis.targets.items():
        metrics.KPI_TARGET.labels(name).set(target)
    facts_topic = settings.kpi_facts_topic

    def forget(ticket: Ticket, now: int) -> None:
        """A ticket's state was dropped after its retention: so are its KPI facts (one producer
        for both, so a ticket's facts and their tombstone stay in order)."""
        out.send(facts_topic, ticket.ticket_id.encode(), facts_message(now, None), 0)

    stepper = Stepper(engine, out, lambda tp: _highwater(app, tp), _count, statuses)

    class BeforeCommit(faust.Sensor):
        """Faust computes the offsets to commit, flushes its producer (the changelogs) and
        commits right after this hook, with no await in between: what a batch emitted before
        its events were acked is on the broker before they count as done (at least once).
        Facts queued here go out once per commit, however many events a ticket had; a repeated
        event after a crash marks its ticket again, so nothing is lost."""

        def on_commit_initiated(self, consumer: Any) -> Any:
            for ticket_id, now, encoded in engine.take_dirty():
                out.send(facts_topic, ticket_id.encode(), facts_message(now, encoded), 0)
            out.flush()  # alerts, ticks, facts, dead letters: on the broker
            engine.write_pending()  # only then the state that says they were announced
            out.flush()  # and its changelog, before the offsets go out
            return None

    app.sensors.add(BeforeCommit())

    def mine(batch: Sequence[Any], ready: bool) -> list[Any]:
        """The events of a batch the worker may process now: as Faust's own stream iterator
        does, none read before the last rebalance (another generation), and none before the
        agent's table is recovered (`ready`). Those are left unacked: whoever owns their
        partition now reads them again from the committed offset."""
        if not ready:
            return []
        generation = app.consumer_generation_id
        return [e for e in batch if e.message.generation_id == generation]

    @app.agent(events)
    async def on_event(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, EVENTS_WITHIN_S):
            todo = mine(batch, engine.ready)
            stepper.events(todo)  # no await inside: a batch never interleaves with another
            for event in todo:
                await stream.ack(event)
            metrics.EVENTS.inc(len(todo))
            out.poll()

    @app.agent(ticks)
    async def on_tick(stream: faust.StreamT[bytes]) -> None:
        async for batch in batches(stream, TICKS_WITHIN_S):
            todo = mine(batch, engine.ready)
            stepper.ticks(todo, forget)
            for event in todo:
                await stream.ack(event)
            out.poll()

    @app.timer(interval=settings.timer_interval)
    async def scan_timers() -> None:
        if not engine.ready:
            return
        wall, mono = now_us(), time.monotonic()
        for partition, idx in list(engine.indexes.items()):
            now = engine.clock(partition).now(wall, mono)
            value = _NOW.pack(now)
            for _due, ticket_id in idx.pop_due(now, limit=10_000):
                out.send(settings.ticks_topic, ticket_id.encode(), value, partition)
        out.poll()
        metrics.OPEN_TICKETS.set(engine.open_tickets())

    @app.timer(interval=5.0)
    async def refresh_gauges() -> None:
        await engine.clock_gauges(now_us())
        await refresh_lag()
        metrics.STATE_BYTES.set(engine.state_bytes())

    async def refresh_lag() -> None:
        """`sla_consumer_lag` of every assigned events partition: its true end offset (read
        from the broker, right on tansu too) minus the next offset to process (the last one
        processed + 1, or the committed offset while none was). Not from the messages read:
        a partition that delivers nothing must not read 0 (issue 11, 2)."""
        tps = [tp for tp in app.consumer.assignment() if tp.topic == settings.events_topic]
        if not tps:
            return
        try:
            ends = await asyncio.get_running_loop().run_in_executor(
                None, end_offsets, str(settings.broker), [(tp.topic, tp.partition) for tp in tps]
            )
        except Exception as e:  # the broker is unreachable: keep the last values
            log.warning("consumer lag not refreshed: %s", e)
            return
        committed = app.consumer._committed_offset  # Faust's, set at seek and commit
        for tp in tps:
            position = engine.position.get(tp.partition)
            if position is None:
                position = committed.get(tp) or 0
            lag = max(ends[(tp.topic, tp.partition)] - position, 0)
            metrics.CONSUMER_LAG.labels(str(tp.partition)).set(lag)

    def fold_facts(batch: Sequence[Any]) -> None:
        """The latest facts of each ticket in the batch replace its stored ones: in the KPI
        store and in the facts table (one write per ticket, as for the tickets table)."""
        latest: dict[tuple[int, bytes], bytes | None] = {}
        highwaters: dict[Any, int | None] = {}
        mono = time.monotonic()
        for event in batch:
            msg = event.message
            body = orjson.loads(msg.value)
            tp = msg.tp
            if tp not in highwaters:
                highwaters[tp] = _highwater(app, tp)
            aggregator.clock.observe(int(body["now"]), msg.offset, highwaters[tp], mono)
            new = orjson.dumps(body["facts"]) if body["facts"] is not None else None
            latest[(msg.partition, msg.key)] = new  # a later message of a ticket replaces
        writes: dict[int, list[tuple[bytes, bytes | None]]] = {}
        for (partition, key), new in latest.items():
            old = facts_writer.get(partition, key)
            if new != old:
                aggregator.update(old, new)
                writes.setdefault(partition, []).append((key, new))
        facts_writer.write(writes)

    @app.agent(kpi_facts)
    async def on_facts(stream: faust.StreamT[bytes]) -> None:
        """The aggregator: the latest facts per ticket replace its previous ones in the store."""
        async for batch in batches(stream, FACTS_WITHIN_S):
            todo = mine(batch, aggregator.ready)
            fold_facts(todo)
            for event in todo:
                await stream.ack(event)
            out.poll()

    @app.timer(interval=settings.kpi_interval)
    async def publish_kpis() -> None:
        """Debounced: the snapshots changed since the last run, and the current-window gauges."""
        if not aggregator.ready:
            return
        now = aggregator.clock.now(now_us(), time.monotonic())
        for key, value in aggregator.publishable(now):
            out.send(settings.kpis_topic, key, value)
        out.poll()
        aggregator.refresh_gauges()

    @table.on_recover
    async def rebuild_timers() -> None:
        engine.rebuild()
        tune_gc()

    @facts_table.on_recover
    async def rebuild_kpis() -> None:
        aggregator.reset()
        aggregator.rebuild(facts_table.values())

    @app.on_partitions_revoked.connect
    async def on_revoked(app_: faust.App, revoked: Any, **kwargs: Any) -> None:
        out.flush()  # what the pending tickets announced: on the broker
        engine.write_pending()  # then their state, into the partitions' RocksDBs before they close
        out.flush()  # and the changelog offsets with it
        engine.reset()
        aggregator.reset()

    query_api.install(app, engine, settings, table)
    return app, engine
