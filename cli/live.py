"""Live commands: `run` (the worker), `broker`, `produce` and `tail`."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import orjson

from config import kafka_client
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
        help="demo stream: new tickets per second (embedded mode only)",
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
    produce.add_argument("--topic", default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"))
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
    stream.add_argument("--topic", default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"))
    stream.add_argument("--rate", type=float, default=1.0, help="new tickets per second")
    stream.set_defaults(func=cmd_demo_stream)

    tail = sub.add_parser(
        "tail",
        help="follow sla.alerts and pretty-print",
        description="Follow the alerts topic; filter and pretty-print.",
    )
    tail.add_argument(
        "--broker",
        default=os.environ.get(DEFAULT_BROKER_ENV),
        help="Kafka bootstrap HOST:PORT (env SLA_BROKER)",
    )
    tail.add_argument("--topic", default=os.environ.get("SLA_ALERTS_TOPIC", "sla.alerts"))
    tail.add_argument("--kind", help="warning|breach|escalation|retraction")
    tail.add_argument("--clock", help="clock name, e.g. first_response")
    tail.add_argument("--priority", help="A|B|C")
    tail.add_argument("--team", help="responsible team")
    tail.add_argument("--json", action="store_true", help="raw JSON lines")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest alert")
    tail.add_argument("--max", type=int, default=0, help="stop after N alerts (0 = follow)")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        default=0,
        help="stop after this many seconds without an alert (0 = never)",
    )
    tail.set_defaults(func=cmd_tail)


def need_broker(value: str | None, command: str) -> str:
    if not value:
        print(
            f"sla-engine {command}: no broker: pass --broker HOST:PORT or set SLA_BROKER "
            "(`sla-engine run` starts an embedded one and prints its address)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return value


def reachable(bootstrap: str, command: str) -> bool:
    """Whether the broker accepts this client; else one line on stderr (TLS, SASL, address)."""
    from topologies.broker import BrokerError, check_access

    try:
        check_access(bootstrap)
    except BrokerError as e:
        print(f"sla-engine {command}: {e}", file=sys.stderr)
        return False
    return True


def create_worker_topics(bootstrap: str, settings: Any) -> None:
    """The worker's topics with their partition counts; KPI topics compacted."""
    from topologies.broker import create_topics

    topics = settings.topics
    plain = {t: n for t, n in topics.items() if t not in settings.compacted}
    compacted = {t: n for t, n in topics.items() if t in settings.compacted}
    create_topics(bootstrap, plain)
    create_topics(bootstrap, compacted, {"cleanup.policy": "compact"})


def cmd_run(args: argparse.Namespace) -> int:
    from topologies.broker import EmbeddedBroker
    from topologies.demo import run_stream

    settings = resolve(args)
    embedded = None
    stop = threading.Event()
    if settings.broker is None:
        data_dir = Path(settings.data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        embedded = EmbeddedBroker(log_dir=data_dir).start()
        from dataclasses import replace

        # A fresh broker has no history: start from an empty state directory.
        settings = replace(
            settings, broker=embedded.bootstrap, data_dir=data_dir / f"demo-{uuid.uuid4().hex[:8]}"
        )
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
  alerts            sla-engine tail --broker {embedded.bootstrap}
  metrics           http://127.0.0.1:{settings.metrics_port}/metrics
  first alerts due within a minute; Ctrl-C stops everything
""",
            flush=True,
        )
    else:
        if not reachable(settings.broker, "run"):
            return 2
        create_worker_topics(settings.broker, settings)
    try:
        return run_worker(settings)
    finally:
        stop.set()
        if embedded is not None:
            embedded.stop()


def run_worker(settings: Any) -> int:
    import logging

    from faust import Worker

    from topologies import metrics
    from topologies.app import build_app

    metrics.serve(settings.metrics_port)
    app, engine = build_app(settings)
    worker = Worker(
        app, loglevel=settings.log_level, quiet=True, override_logging=True, console_port=0
    )
    logging.getLogger("faust").setLevel(settings.log_level)
    worker.spinner = None  # its handler sets the root logger to DEBUG: every debug call costs
    try:
        worker.execute_from_commandline()
    finally:
        engine.close()
    return 0


def cmd_demo_stream(args: argparse.Namespace) -> int:
    import signal

    from topologies.demo import run_stream

    bootstrap = need_broker(args.broker, "demo-stream")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())  # `docker stop`: flush, then exit
    try:
        run_stream(bootstrap, args.topic, stop, args.rate)
    except KeyboardInterrupt:
        stop.set()
    return 0


def cmd_broker(args: argparse.Namespace) -> int:
    if args.kafka:
        from topologies.kafka_broker import main as kafka_main

        return kafka_main(args.port, args.data_dir)
    from topologies.broker import main

    return main(args.port)


def cmd_produce(args: argparse.Namespace) -> int:
    from confluent_kafka import Producer

    bootstrap = need_broker(args.broker, "produce")
    if not reachable(bootstrap, "produce"):
        return 2
    producer = Producer(
        kafka_client.conf(bootstrap, **{"linger.ms": 20, "partitioner": "murmur2_random"})
    )
    sent = 0
    try:
        src = sys.stdin.buffer if args.input == "-" else Path(args.input).open("rb")  # noqa: SIM115
    except OSError as e:
        print(f"sla-engine produce: {args.input}: {e.strerror}", file=sys.stderr)
        return 2
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
            while True:
                try:
                    producer.produce(args.topic, key=key, value=line, timestamp=stamp)
                    break
                except BufferError:
                    producer.poll(0.1)
            sent += 1
            if sent % 1000 == 0:
                producer.poll(0)
    left = producer.flush(30)
    if left:
        print(f"sla-engine produce: {left} messages not delivered", file=sys.stderr)
        return 1
    print(f"produced {sent} events to {args.topic}", file=sys.stderr)
    return 0


def record_timestamp(obj: Any) -> int:
    """The record timestamp of an event (ms): its `occurred_at`, with an offset; 0 (the
    producer's clock) when it has none. A bulk `produce` of a history then keeps each record
    at its time, as a live source would have published it."""
    from datetime import datetime

    text = obj.get("occurred_at") if isinstance(obj, dict) else None
    if not isinstance(text, str):
        return 0
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return 0
    return int(at.timestamp() * 1000) if at.tzinfo is not None and at.year > 1970 else 0


def _matches(a: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        (not args.kind or a.get("kind") == args.kind)
        and (not args.clock or a.get("clock") == args.clock)
        and (not args.priority or a.get("priority") == args.priority)
        and (not args.team or (a.get("responsible") or {}).get("team") == args.team)
    )


def cmd_tail(args: argparse.Namespace) -> int:
    import time

    from confluent_kafka import Consumer
    from rich.console import Console

    bootstrap = need_broker(args.broker, "tail")
    if not reachable(bootstrap, "tail"):
        return 2
    consumer = Consumer(
        {
            **kafka_client.conf(bootstrap),
            "group.id": f"sla-tail-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest" if args.from_beginning else "latest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
        }
    )
    consumer.subscribe([args.topic])
    console = Console()
    style = {"warning": "yellow", "breach": "red", "escalation": "bold red", "retraction": "dim"}
    shown = 0
    last = time.monotonic()
    try:
        while True:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                if args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            last = time.monotonic()
            a = orjson.loads(msg.value())
            if not _matches(a, args):
                continue
            if args.json:
                sys.stdout.write(msg.value().decode() + "\n")
                sys.stdout.flush()
            else:
                who = a.get("responsible") or {}
                grade = a["level"] or ""
                extra = (
                    f" retracts {a['retracts'][:12]} ({a.get('reason')})"
                    if a.get("retracts")
                    else ""
                )
                kind = f"[{style.get(a['kind'], '')}]{a['kind']:<10}[/]"
                console.print(
                    f"{kind} {grade:<8} {a['ticket_id']:<14} {a['clock']:<18} "
                    f"P{a['priority']} due {a['due_at']} team={who.get('team')} "
                    f"agent={who.get('agent')} → {','.join(a['notify'])}{extra}"
                )
            shown += 1
            if args.max and shown >= args.max:
                break
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
