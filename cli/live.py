"""Live commands: `run` (the worker), `broker`, `produce` and `tail`."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path
from typing import Any

import orjson

from cli import tail
from cli.embedded import Embedded, embedded_run_dir
from cli.invocation import self_command
from cli.kafka_client import DEFAULT_CONNECT_TIMEOUT, KAFKA_LOG, Outage, fail, require_broker
from topologies.settings import add_arguments, resolve

DEFAULT_BROKER_ENV = "SLA_BROKER"


def add_parsers(sub: Any) -> None:
    run = sub.add_parser(
        "run",
        help="run the live worker (with no broker configured: embedded broker + demo stream)",
        description="Run the streaming worker. With no --broker (and no SLA_BROKER) it starts "
        "the embedded Kafka-protocol broker, a demo ticket stream and the worker, and prints "
        "where to look. Every flag can also be set by the SLA_* variable named in its help.",
    )
    add_arguments(run)
    run.add_argument(
        "--demo-rate",
        type=float,
        default=1.0,
        help="demo stream: new tickets per second (embedded mode only; default 1)",
    )
    run.add_argument(
        "--status-interval",
        type=float,
        default=None,
        help="seconds between status lines (events/s, open tickets, alerts, lag) on stderr; "
        "0 = none (default: 10 when stderr is a terminal, else none)",
    )
    run.set_defaults(func=cmd_run)

    broker = sub.add_parser(
        "broker",
        help="run the embedded Kafka-protocol broker, or Apache Kafka with --kafka (foreground)",
        description="Run the embedded tansu broker on loopback until Ctrl-C. "
        "Memory storage: every topic is lost when it stops. With --kafka: a one-node Apache "
        "Kafka (KRaft) instead, its jars fetched once by mvn, its data kept in --data-dir.",
    )
    broker.add_argument("--port", type=int, default=9092, help="listener port (default 9092)")
    broker.add_argument(
        "--kafka", action="store_true", help="run Apache Kafka (needs Java 17+ and mvn)"
    )
    broker.add_argument(
        "--data-dir",
        type=Path,
        default=Path("kafka-data"),
        help="--kafka: log dir, kept across restarts (default ./kafka-data)",
    )
    broker.set_defaults(func=cmd_broker)

    produce = sub.add_parser(
        "produce",
        help="publish a JSONL file of events to tickets.events",
        description="Publish events, keyed by ticket_id, to the events "
        "topic, each record stamped with its event's occurred_at (so replays and audits by "
        "time range read the right records). Lines that are not valid JSON are sent as they "
        "are (the worker dead-letters them), stamped by the broker.",
    )
    produce.add_argument("--input", required=True, help="JSONL file ('-' = stdin)")
    produce.add_argument(
        "--broker",
        default=os.environ.get(DEFAULT_BROKER_ENV),
        help="Kafka bootstrap HOST:PORT (env SLA_BROKER)",
    )
    produce.add_argument(
        "--topic",
        default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"),
        help="topic to publish to (env SLA_EVENTS_TOPIC; default tickets.events)",
    )
    produce.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="give up (exit 2) when the broker does not answer for this many seconds "
        f"(default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    produce.set_defaults(func=cmd_produce)

    stream = sub.add_parser(
        "demo-stream",
        help="produce the live demo ticket stream to a broker until Ctrl-C",
        description="Produce realistic live ticket traffic, stamped with the wall clock, with "
        "some tickets left unanswered so that alerts appear within a minute.",
    )
    stream.add_argument(
        "--broker",
        default=os.environ.get(DEFAULT_BROKER_ENV),
        help="Kafka bootstrap HOST:PORT (env SLA_BROKER)",
    )
    stream.add_argument(
        "--topic",
        default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"),
        help="topic to publish to (env SLA_EVENTS_TOPIC; default tickets.events)",
    )
    stream.add_argument(
        "--rate", type=float, default=1.0, help="new tickets per second (default 1)"
    )
    stream.set_defaults(func=cmd_demo_stream)

    tail.add_parser(sub, os.environ.get(DEFAULT_BROKER_ENV))


def need_broker(value: str | None, command: str) -> str:
    if not value:
        print(
            f"sla-engine {command}: no broker: pass --broker HOST:PORT or set SLA_BROKER "
            f"(`{self_command()} run` starts an embedded one and prints its address)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return value


def create_worker_topics(bootstrap: str, settings: Any) -> None:
    """The worker's topics with their partition counts; KPI topics compacted; exit 2 with the
    address when the broker does not answer."""
    from confluent_kafka import KafkaException

    from kafka_io.admin import BrokerError, create_topics

    topics = settings.topics
    plain = {t: n for t, n in topics.items() if t not in settings.compacted}
    compacted = {t: n for t, n in topics.items() if t in settings.compacted}
    try:
        create_topics(bootstrap, plain)
        create_topics(bootstrap, compacted, {"cleanup.policy": "compact"})
    except (BrokerError, KafkaException, TimeoutError) as e:
        raise fail("run", f"cannot create the topics on {bootstrap}: {e}") from None


def cmd_run(args: argparse.Namespace) -> int:
    import shutil
    from dataclasses import replace

    from config.loader import load
    from kafka_io.admin import BrokerError
    from kafka_io.embedded import EmbeddedBroker
    from topologies import metrics
    from topologies.demo import run_stream

    settings = resolve(args)
    load(settings.policy)  # a bad policy stops here, before anything is started or printed
    metrics.serve(settings.metrics_port, settings.metrics_host)
    metrics_url = (
        f"http://{settings.metrics_host}:{settings.metrics_port}/metrics"
        if settings.metrics_port
        else "off (--metrics-port 0)"
    )
    if settings.broker is not None:
        require_broker(settings.broker, "run", DEFAULT_CONNECT_TIMEOUT)
        create_worker_topics(settings.broker, settings)
        print(
            f"sla-engine run: worker of group {settings.group} on {settings.broker}; state in "
            f"{settings.data_dir}; metrics {metrics_url}; Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        return run_worker(settings, args.status_interval)
    stop = threading.Event()
    run_dir = embedded_run_dir(Path(settings.data_dir))
    embedded = EmbeddedBroker(log_dir=run_dir)
    try:
        try:
            embedded.start()
        except BrokerError as e:
            raise fail("run", f"the embedded broker did not start: {e}") from None
        # A fresh broker has no history: start from an empty state directory.
        settings = replace(settings, broker=embedded.bootstrap, data_dir=run_dir / "state")
        create_worker_topics(embedded.bootstrap, settings)
        threading.Thread(
            target=run_stream,
            args=(embedded.bootstrap, settings.events_topic, stop, args.demo_rate),
            daemon=True,
        ).start()
        print(
            f"""
  embedded broker   {embedded.bootstrap} (memory only; stops with this process)
  demo stream       {args.demo_rate:g} new tickets/s on {settings.events_topic}
  alerts            {self_command()} tail --broker {embedded.bootstrap}
  metrics           {metrics_url}
  status API        {settings.advertised_api_url}/at-risk · {self_command()} status TICKET_ID
  run state         {run_dir} (removed on exit)
  first alerts due within a minute; Ctrl-C stops everything
""",
            flush=True,
        )
        return run_worker(settings, args.status_interval, Embedded(embedded, run_dir, stop))
    finally:
        stop.set()
        embedded.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


def run_worker(
    settings: Any, status_interval: float | None = None, embedded: Embedded | None = None
) -> int:
    """Run the Faust worker until a signal; 130 after SIGINT (Ctrl-C), 0 after SIGTERM."""
    import logging
    import signal

    from faust import Worker

    from cli.status_line import StatusLine
    from topologies import metrics
    from topologies.app import build_app

    app, engine = build_app(settings)
    worker = Worker(
        app, loglevel=settings.log_level, quiet=True, override_logging=True, console_port=0
    )
    logging.getLogger("faust").setLevel(settings.log_level)
    worker.spinner = None  # its handler sets the root logger to DEBUG: every debug call costs
    interrupted = False
    graceful_sigint = worker._on_sigint

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        if embedded is not None:
            embedded.exit_now(130)
        graceful_sigint()

    worker._on_sigint = on_sigint  # type: ignore[method-assign]
    if embedded is not None:
        worker._on_sigterm = lambda: embedded.exit_now(0)  # type: ignore[method-assign]
    interval = (
        status_interval if status_interval is not None else (10.0 if sys.stderr.isatty() else 0.0)
    )
    status = None
    if interval > 0:
        status = StatusLine(metrics.REGISTRY, interval)
        status.recovery = app.tables.recovery
        events_topic = settings.events_topic

        async def assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
            parts = [tp.partition for tp in assigned if tp.topic == events_topic]
            if status is not None:
                status.on_assigned(events_topic, parts)

        app.on_partitions_assigned.connect(assigned)
        status.start()
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    finally:
        if status is not None:
            status.stop()
        engine.close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return 130 if interrupted else 0


def cmd_demo_stream(args: argparse.Namespace) -> int:
    import signal

    from topologies.demo import run_stream

    bootstrap = need_broker(args.broker, "demo-stream")
    require_broker(bootstrap, "demo-stream", 3 * DEFAULT_CONNECT_TIMEOUT)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `docker stop`: flush, then exit
    try:
        run_stream(bootstrap, args.topic, stop, args.rate)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    if args.kafka:
        from kafka_io.apache import main as kafka_main

        return kafka_main(args.port, args.data_dir)
    from kafka_io.embedded import main

    return main(args.port)


def cmd_produce(args: argparse.Namespace) -> int:
    from kafka_io.producer import make_producer, send

    bootstrap = need_broker(args.broker, "produce")
    try:
        src = sys.stdin.buffer if args.input == "-" else Path(args.input).open("rb")  # noqa: SIM115
    except OSError as e:
        print(f"sla-engine produce: {args.input}: {e.strerror}", file=sys.stderr)
        return 2
    require_broker(bootstrap, "produce", args.connect_timeout)
    outage = Outage("produce", bootstrap, args.connect_timeout)
    producer = make_producer(
        bootstrap,
        linger_ms=20,
        **{
            "logger": KAFKA_LOG,  # librdkafka's lines through `logging`, silent (cli.kafka_client)
            "error_cb": outage.error_cb,
            "message.timeout.ms": int(max(args.connect_timeout, 1) * 1000),
        },
    )
    sent = 0
    failed: list[str] = []

    def delivered(err: Any, msg: Any) -> None:
        if err is not None:
            failed.append(str(err))

    with src:
        for line in src:
            line = line.rstrip(b"\r\n")
            if not line.strip():
                continue
            key, stamp = None, 0
            try:
                obj = orjson.loads(line)
                if isinstance(obj, dict) and isinstance(obj.get("ticket_id"), str):
                    key = obj["ticket_id"].encode()
                stamp = record_timestamp(obj)
            except orjson.JSONDecodeError:
                pass
            send(
                producer, args.topic, line, key, timestamp=stamp, on_delivery=delivered,
                wait=0.1, while_full=lambda: outage.check(producer),
            )  # fmt: skip
            sent += 1
            if sent % 1000 == 0:
                producer.poll(0)
    left = producer.flush(args.connect_timeout + 5)
    if left or failed:
        why = f" ({failed[0]})" if failed else ""
        print(
            f"sla-engine produce: {left + len(failed)} of {sent} messages not delivered to "
            f"{bootstrap}{why}",
            file=sys.stderr,
        )
        return 1
    print(f"produced {sent} events to {args.topic}", file=sys.stderr)
    return 0


def record_timestamp(obj: Any, now_ms: int | None = None) -> int:
    """The record timestamp of an event (ms): its `occurred_at`, with an offset; 0 (the
    producer's clock) when it has none. A bulk `produce` of a history then keeps each record
    at its time, as a live source would have published it. Never later than now: a source
    cannot publish an event before it happens, and Kafka 4 refuses records stamped more than
    `log.message.timestamp.after.max.ms` (1 h) ahead of the broker."""
    import time
    from datetime import datetime

    text = obj.get("occurred_at") if isinstance(obj, dict) else None
    if not isinstance(text, str):
        return 0
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return 0
    if at.tzinfo is None or at.year <= 1970:
        return 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return min(int(at.timestamp() * 1000), now_ms)
