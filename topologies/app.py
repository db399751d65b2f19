"""The Faust app: the streaming shell around `engine/`.

- `tickets.events` → validate (invalid → `tickets.dlq`) → the ticket's state in a RocksDB table
  (changelogged) → `Ticket.step` → alerts on `sla.alerts`.
- Timers: per partition, a RocksDB index of each open ticket's next deadline. A wall-clock loop
  seeks it from its watermark (O(due)) and sends a tick for each due ticket to `sla.ticks` on the
  ticket's own partition; the tick agent runs `Ticket.tick`. All state changes thus happen inside
  agents, so the table's changelog stays consistent with the partition that owns the ticket.
- The index is not changelogged: after every rebalance it is rebuilt from the recovered table,
  whose values start with the ticket's deadline.
"""

from __future__ import annotations

import base64
import logging
import struct
import time
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any

import faust
import orjson

from config.loader import load
from engine.history import from_model
from engine.instant import iso
from engine.kpis import contributions, encode_facts
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from schemas.parse import InvalidEvent, parse_event
from topologies import metrics, state, tansu_recovery
from topologies.clock import PartitionClock
from topologies.kpis import KpiAggregator, facts_message
from topologies.settings import Settings
from topologies.timers import TimerIndex

log = logging.getLogger("sla.worker")


_NOW = struct.Struct(">q")


def now_us() -> int:
    return time.time_ns() // 1000


class Engine:
    """The worker's view of its tickets: table access, the decoded-ticket cache and the timer
    indexes of the partitions it owns."""

    def __init__(self, settings: Settings, policy: RuntimePolicy, table: Any) -> None:
        self.settings = settings
        self.policy = policy
        self.table = table
        self.cache: OrderedDict[str, Ticket] = OrderedDict()
        self.indexes: dict[int, TimerIndex] = {}
        self.ready = False
        self.timer_dir = Path(settings.data_dir) / "timers"
        self.clocks: dict[int, PartitionClock] = {}
        self.started = time.monotonic()
        self.facts_sent: OrderedDict[str, bytes] = OrderedDict()
        self.dirty: dict[str, tuple[Ticket, int]] = {}  # KPI facts to send before the commit

    def clock(self, partition: int) -> PartitionClock:
        c = self.clocks.get(partition)
        if c is None:
            c = self.clocks[partition] = PartitionClock()
        return c

    # state
    def load(self, ticket_id: str) -> Ticket | None:
        ticket = self.cache.get(ticket_id)
        if ticket is not None:
            self.cache.move_to_end(ticket_id)
            return ticket
        raw = self.table.get(ticket_id.encode())
        if raw is None:
            return None
        ticket = state.decode(raw, self.policy)
        self._remember(ticket)
        return ticket

    def _remember(self, ticket: Ticket) -> None:
        self.cache[ticket.ticket_id] = ticket
        if len(self.cache) > self.settings.cache_tickets:
            self.cache.popitem(last=False)

    def save(self, ticket: Ticket, partition: int) -> None:
        self.table[ticket.ticket_id.encode()] = state.encode(
            ticket, partition, self.settings.retention_days
        )
        self._remember(ticket)
        self.index(partition).set(
            ticket.ticket_id, state.deadline(ticket, self.settings.retention_days)
        )

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
        """Forget a ticket closed longer than the retention period."""
        self.cache.pop(ticket_id, None)
        self.facts_sent.pop(ticket_id, None)
        self.dirty.pop(ticket_id, None)
        del self.table[ticket_id.encode()]
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

    def clock_gauges(self, now: int) -> None:
        """Open and at-risk clocks by clock and priority, over the decoded tickets in memory."""
        open_: Counter[tuple[str, str]] = Counter()
        risk: Counter[tuple[str, str]] = Counter()
        for ticket in self.cache.values():
            priority = ticket.state.attrs.get("priority") or ""
            for clock, at_risk in ticket.state.open_clocks(now):
                open_[(clock, priority)] += 1
                risk[(clock, priority)] += at_risk
        for rule in self.policy.clocks:
            for priority in ("A", "B", "C"):
                key = (rule.name, priority)
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


def _count(alerts: list[dict[str, Any]], from_timer: bool, detected: int) -> None:
    for a in alerts:
        team = (a.get("responsible") or {}).get("team") or ""
        metrics.ALERTS.labels(
            a["clock"], a["kind"], a["level"] or "", a["priority"] or "", team
        ).inc()
        if from_timer and a["kind"] != "retraction":
            lag = detected / 1e6 - _epoch_s(a["due_at"])
            metrics.TIMER_LAG.observe(max(lag, 0.0))


def _epoch_s(iso_text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso_text).timestamp()


def dead_letter(reason: str, raw: bytes | None, topic: str, partition: int, offset: int) -> bytes:
    raw = raw or b""
    try:
        text, encoding = raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(raw).decode(), "base64"
    return orjson.dumps(
        {
            "reason": reason,
            "raw": text,
            "raw_encoding": encoding,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "detected_at": iso(now_us()),
        }
    )


EMBEDDED_CLUSTER_ID = "tansu_cluster"

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
    """Whether the broker is the embedded tansu (its cluster id says so)."""
    from confluent_kafka.admin import AdminClient

    meta = AdminClient({"bootstrap.servers": settings.broker}).list_topics(timeout=10)
    return bool(meta.cluster_id == EMBEDDED_CLUSTER_ID)


def consistency_check(settings: Settings, tansu: bool) -> bool:
    """Whether Faust may compare local state offsets with changelog end offsets on recovery.

    tansu reports a partition's end offset as the base offset of its last batch + 1, so a worker
    that kept its RocksDB state would be refused as "ahead of the changelog": off there."""
    if settings.consistency_check in ("on", "off"):
        return settings.consistency_check == "on"
    return not tansu


def build_app(settings: Settings) -> tuple[faust.App, Engine]:
    """The Faust app and its engine, wired to the topics of `settings`."""
    policy = load(settings.policy)
    (Path(settings.data_dir) / "faust").mkdir(parents=True, exist_ok=True)
    tansu = on_tansu(settings)
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
    )
    raw = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    events = app.topic(settings.events_topic, partitions=settings.partitions, **raw)
    ticks = app.topic(settings.ticks_topic, partitions=settings.partitions, **raw)
    alerts = app.topic(settings.alerts_topic, partitions=settings.partitions, **raw)
    dlq = app.topic(settings.dlq_topic, partitions=1, **raw)
    table = app.Table(
        "tickets",
        partitions=settings.partitions,
        key_type=bytes,  # bytes → faust's "raw" codec, also for changelog recovery
        value_type=bytes,
    )
    kpi_facts = app.topic(settings.kpi_facts_topic, partitions=1, **raw)
    kpis_out = app.topic(settings.kpis_topic, partitions=1, **raw)
    facts_table = app.Table("kpi-facts", partitions=1, key_type=bytes, value_type=bytes)
    engine = Engine(settings, policy, table)
    aggregator = KpiAggregator(policy, settings.retention_days)
    metrics.BUILD.labels(_version(), policy.version).set(1)
    metrics.initialise()
    for name, target in policy.kpis.targets.items():
        metrics.KPI_TARGET.labels(name).set(target)

    async def publish(
        ticket: Ticket, out: list[dict[str, Any]], now: int, forget: bool = False
    ) -> None:
        """The alerts of a step or tick; the ticket's KPI facts are sent before the next offset
        commit (`FactsBeforeCommit`), or at once when its state is dropped (forget them)."""
        key = ticket.ticket_id.encode()
        for a in out:
            await alerts.send(key=key, value=orjson.dumps(a))
        if forget:
            await kpi_facts.send(key=key, value=facts_message(now, None), partition=0)
        else:
            engine.dirty[ticket.ticket_id] = (ticket, now)

    class FactsBeforeCommit(faust.Sensor):
        """Faust flushes its producer and then commits the offsets it computed right after this
        hook: facts queued here are on the broker before the events that changed them count
        as done (at least once), and a ticket with many events between commits is sent once.
        A repeated event after a crash marks its ticket again, so nothing is lost."""

        def on_commit_initiated(self, consumer: Any) -> Any:
            for ticket_id, now, encoded in engine.take_dirty():
                kpi_facts.send_soon(
                    key=ticket_id.encode(), value=facts_message(now, encoded), partition=0
                )
            return None

    app.sensors.add(FactsBeforeCommit())

    @app.agent(events)
    async def on_event(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            metrics.EVENTS.inc()
            try:
                ev = parse_event(msg.value)
            except InvalidEvent as e:
                metrics.REJECTED.labels(metrics.reject_reason(e.reason)).inc()
                await dlq.send(
                    value=dead_letter(e.reason, msg.value, msg.topic, msg.partition, msg.offset)
                )
                continue
            key = msg.key.decode("utf-8", "replace") if msg.key is not None else None
            if key != ev.ticket_id:
                await events.send(key=ev.ticket_id.encode(), value=msg.value)  # re-key
                continue
            ticket = engine.load(ev.ticket_id) or Ticket.new(ev.ticket_id, engine.policy)
            compact = from_model(ev)
            clock = engine.clock(msg.partition)
            mono = time.monotonic()
            clock.observe(compact.at, msg.offset, _highwater(app, msg.tp), mono)
            wall = now_us()
            now = clock.now(wall, mono)
            out = ticket.step(compact, now, wall)
            engine.save(ticket, msg.partition)
            _count(out, False, wall)
            await publish(ticket, out, now)

    @app.agent(ticks)
    async def on_tick(stream: faust.StreamT[bytes]) -> None:
        async for event in stream.events():
            msg = event.message
            ticket_id = msg.key.decode()
            ticket = engine.load(ticket_id)
            if ticket is None:
                continue
            wall = now_us()
            now = _NOW.unpack(msg.value)[0] if len(msg.value or b"") == _NOW.size else wall
            out = ticket.tick(now, wall)
            last = ticket.last_event_at()
            if (
                ticket.is_closed()
                and ticket.next_due() is None
                and last is not None
                and now >= last + int(settings.retention_days * state.DAY_US)
            ):
                engine.drop(ticket_id, msg.partition)
                forget = True
            else:
                engine.save(ticket, msg.partition)
                forget = False
            _count(out, True, wall)
            await publish(ticket, out, now, forget)

    @app.timer(interval=settings.timer_interval)
    async def scan_timers() -> None:
        if not engine.ready:
            return
        wall, mono = now_us(), time.monotonic()
        for partition, idx in list(engine.indexes.items()):
            now = engine.clock(partition).now(wall, mono)
            for _due, ticket_id in idx.pop_due(now, limit=10_000):
                await ticks.send(key=ticket_id.encode(), value=_NOW.pack(now), partition=partition)
        metrics.OPEN_TICKETS.set(engine.open_tickets())

    @app.timer(interval=5.0)
    async def refresh_gauges() -> None:
        engine.clock_gauges(now_us())
        for partition, clock in engine.clocks.items():
            metrics.CONSUMER_LAG.labels(str(partition)).set(clock.lag)
        metrics.STATE_BYTES.set(engine.state_bytes())

    @app.agent(kpi_facts)
    async def on_facts(stream: faust.StreamT[bytes]) -> None:
        """The aggregator: the latest facts per ticket replace its previous ones in the store."""
        async for event in stream.events():
            msg = event.message
            body = orjson.loads(msg.value)
            aggregator.clock.observe(
                int(body["now"]), msg.offset, _highwater(app, msg.tp), time.monotonic()
            )
            old = facts_table.get(msg.key)
            new = orjson.dumps(body["facts"]) if body["facts"] is not None else None
            if new == old:
                continue
            aggregator.update(old, new)
            if new is None:
                facts_table.pop(msg.key, None)
            else:
                facts_table[msg.key] = new

    @app.timer(interval=settings.kpi_interval)
    async def publish_kpis() -> None:
        """Debounced: the snapshots changed since the last run, and the current-window gauges."""
        if not aggregator.ready:
            return
        now = aggregator.clock.now(now_us(), time.monotonic())
        for key, value in aggregator.publishable(now):
            await kpis_out.send(key=key, value=value)
        aggregator.refresh_gauges()

    @table.on_recover
    async def rebuild_timers() -> None:
        engine.rebuild()

    @facts_table.on_recover
    async def rebuild_kpis() -> None:
        aggregator.reset()
        aggregator.rebuild(facts_table.values())

    @app.on_partitions_revoked.connect
    async def on_revoked(app_: faust.App, revoked: Any, **kwargs: Any) -> None:
        engine.reset()
        aggregator.reset()

    return app, engine
