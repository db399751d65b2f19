"""`sla-engine bench stream`: the live path side by side with its baselines, in one run.

On one embedded broker, with the same pre-loaded events (4 partitions, keyed by ticket id,
``occurred_at`` in the past), one consumer process at a time:

(a) ``raw``: a confluent-kafka consumer that only decodes JSON (in this process);
(b) ``faust``: a Faust pass-through agent that decodes JSON, with the Faust settings of
    :func:`topologies.app.build_app` (a subprocess: ``python -m bench.passthrough``);
(c) ``engine``: the real worker, ``sla-engine run`` (a subprocess), timed from its own
    ``sla_events_consumed_total`` counter scraped over HTTP.

Each rate runs from the first event read to the last, so start-up and group joins are left out.

Then timers, on a fresh worker with fresh topics and state: open tickets (``created`` then
``responded``: their next deadline is hours away) to hold the index, then ``due`` tickets whose
first-response warning (priority A, 60 s) falls due spread over a short window a few seconds
after they are loaded. The warnings' ``detected_at - due_at`` gives the timer latency; the
worker's RSS and the bytes of its data directory are divided by the open tickets.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench.clients import from_start, keyed_lines, produce
from bench.figures import assemble, by_label, rate_from_samples
from bench.passthrough import bench_faust
from bench.timer_latency import bench_timers
from bench.worker import Worker


def preload(bootstrap: str, topic: str, events: int, seed: int) -> dict[str, Any]:
    """Generate ``events`` workload events, all in the past, and produce them keyed by ticket."""
    import workload

    start = datetime.now(UTC) - timedelta(days=30)
    tickets = max(1, events // 6) + 1
    lines: list[bytes] = []
    while len(lines) < events:
        lines = workload.lines(tickets, seed, start=start)
        tickets = int(tickets * 1.2) + 1
    lines = lines[:events]
    t0 = time.perf_counter()
    n = produce(bootstrap, topic, keyed_lines(lines))
    return {"events": n, "produce_per_s": round(n / (time.perf_counter() - t0))}


def bench_raw(bootstrap: str, topic: str, n: int, timeout: float = 120.0) -> float:
    """(a) A plain confluent-kafka consumer: consume(10000) + orjson.loads until ``n`` read."""
    c = from_start(bootstrap, topic, "bench-raw")
    try:
        count, first = 0, None
        deadline = time.monotonic() + timeout
        while count < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"raw consumer read {count} of {n} in {timeout} s")
            batch = c.consume(10_000, 1.0)
            if not batch:
                continue
            if first is None:
                first = time.perf_counter()
            for msg in batch:
                if msg.error() is None:
                    orjson.loads(msg.value() or b"null")
                    count += 1
        assert first is not None
        return count / (time.perf_counter() - first)
    finally:
        c.close()


@contextlib.contextmanager
def bench_broker(
    work: Path, external: str | None, kafka: bool, config: dict[str, Any]
) -> Iterator[str]:
    """The bootstrap of the broker to measure on: the given one, a fresh Apache Kafka, or a
    fresh embedded tansu (the default); which one goes into the report."""
    from kafka_io.admin import wait_until_ready
    from kafka_io.embedded import EmbeddedBroker

    if external is not None:
        wait_until_ready(external, timeout=30)
        config["broker"] = f"external {external}"
        yield external
    elif kafka:
        from kafka_io.apache import KafkaBroker

        with KafkaBroker(work / "kafka") as k:
            config["broker"] = f"Apache Kafka {k.version}"
            yield k.bootstrap
    else:
        with EmbeddedBroker(log_dir=work) as b:
            config["broker"] = "embedded tansu"
            yield b.bootstrap


ENGINE_RATE = {"all": "engine", "split": "engine_sla"}
ENGINE_RSS = {"all": "engine_rss_bytes", "split": "engine_sla_rss_bytes"}
ENGINE_WORK = {"all": "engine_work_seconds", "split": "engine_sla_work_seconds"}
SMALL_RUN = 50_000  # events: below, the engine phase's rate is sampled every 0.1 s


def bench_engine(
    engine: Worker, layout: str, events: int, seed: int, log: Callable[[str], None]
) -> tuple[float | None, int | None, dict[str, float]]:
    """(c) The worker's events/s, RSS and own work (`sla_work_seconds_total` by kind, once it
    read every event) in ``layout``: `all` reads the pre-loaded topic of ``engine``; `split`
    runs a `--role sla` worker with a `--role kpis` worker beside it (the production layout) on
    fresh topics holding the same workload, timed on the `sla` one."""
    workers = [engine]
    if layout == "split":
        tag = f"tp-{uuid.uuid4().hex[:6]}"
        workers = [
            Worker(engine.bootstrap, tag, engine.work, engine.partitions, role=role)
            for role in ("sla", "kpis")
        ]  # fmt: skip
        workers[0].create_topics()
        log(f"producing {events:,} events to {workers[0].events_topic}")
        preload(engine.bootstrap, workers[0].events_topic, events, seed)
    try:
        for w in reversed(workers):  # the aggregator first, so the ticket worker is timed alone
            w.start()
        # Scrapes cost the worker time (a large exposition): once a second for the figures; a
        # smoke run's few thousand events can all be read within one second, leaving no two
        # samples to take a rate between, so a small run is polled ten times as often.
        interval = 1.0 if events >= SMALL_RUN else 0.1
        samples = workers[0].wait_events(events, timeout=120 + events / 200, interval=interval)
        work = by_label(workers[0].scrape(), "sla_work_seconds_total", "work")
        return rate_from_samples(samples, events), workers[0].rss(), work
    finally:
        for w in workers:
            w.stop()


def run(
    events: int = 200_000,
    open_tickets: int = 100_000,
    due_tickets: int = 10_000,
    due_window_s: float = 20.0,
    due_lead_s: float = 15.0,
    partitions: int = 4,
    seed: int = 7,
    phases: Sequence[str] = ("raw", "faust", "engine", "timers"),
    profile_dir: Path | None = None,
    keep: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    broker: str | None = None,
    kafka: bool = False,
    preload_state: bool = False,
    roles: Sequence[str] = ("all",),
    background_rate: float = 0.0,
) -> dict[str, Any]:
    """The whole benchmark on a fresh embedded broker (or Apache Kafka, or the broker at
    `broker`); the report as a dict."""
    work = Path(tempfile.mkdtemp(prefix="bench-stream-")) if keep is None else keep
    work.mkdir(parents=True, exist_ok=True)
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    rates: dict[str, float | None] = {}
    timers: dict[str, Any] | None = None
    config: dict[str, Any] = {"events": events, "partitions": partitions, "seed": seed}
    try:
        with bench_broker(work, broker, kafka, config) as bootstrap:
            engine = Worker(bootstrap, f"tp-{uuid.uuid4().hex[:6]}", work, partitions)
            if profile_dir is not None:
                engine.profile = profile_dir / "engine.txt"
            engine.create_topics()
            log(f"producing {events:,} events to {engine.events_topic} on {bootstrap}")
            config |= preload(bootstrap, engine.events_topic, events, seed)
            config["engine_command"] = "sla-engine " + " ".join(engine.command())
            if "raw" in phases:
                log("(a) raw confluent-kafka consumer")
                rates["raw"] = bench_raw(bootstrap, engine.events_topic, events)
            if "faust" in phases:
                log("(b) Faust pass-through agent")
                rates["faust"] = bench_faust(
                    bootstrap,
                    engine.events_topic,
                    events,
                    partitions,
                    work,
                    profile_dir / "faust.txt" if profile_dir else None,
                )
            if "engine" in phases:
                for layout in roles:  # each layout on fresh workers, one after another
                    log(f"(c) the engine (sla-engine run, layout {layout})")
                    key, rss, spent = ENGINE_RATE[layout], ENGINE_RSS[layout], ENGINE_WORK[layout]
                    rates[key], config[rss], config[spent] = bench_engine(
                        engine, layout, events, seed, log
                    )
            if "timers" in phases:
                by_layout: dict[str, Any] = {}
                for layout in roles:  # each layout on fresh topics and workers, one after another
                    log(f"timers ({layout}): {open_tickets:,} open tickets, {due_tickets:,} due")
                    profile = profile_dir / f"timers-{layout}.txt" if profile_dir else None
                    by_layout[layout] = bench_timers(
                        bootstrap, work, open_tickets, due_tickets, due_lead_s, due_window_s,
                        partitions, profile, roles=layout, background_rate=background_rate,
                        preload=preload_state,
                    )  # fmt: skip
                    log(f"timers ({layout}): {by_layout[layout]['latency']}")
                timers = by_layout[roles[0]] if roles else None
                if len(by_layout) > 1:
                    config["timers_by_roles"] = by_layout
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return assemble(config, rates, timers)
