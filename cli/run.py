"""`sla-engine run`: the live worker (with no broker configured: the embedded broker, a demo
stream and the worker)."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any, cast

from cli.embedded import Embedded, embedded_run_dir
from cli.invocation import self_command
from cli.kafka_client import DEFAULT_CONNECT_TIMEOUT, fail, require_broker
from topologies.settings import add_arguments, resolve


def add_parser(sub: Any) -> None:
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
        role = "" if settings.role == "all" else f"{settings.role} "  # all: the line as before
        print(
            f"sla-engine run: {role}worker of group {settings.app_group} on {settings.broker}; "
            f"state in {settings.data_dir}; metrics {metrics_url}; Ctrl-C stops it",
            file=sys.stderr,
            flush=True,
        )
        return run_worker(settings, args.status_interval)
    if settings.role != "all":
        raise fail("run", f"--role {settings.role} needs --broker: the demo runs one worker")
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

    app, close = build_app(settings)
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
        status.recovery = cast(Any, app.tables).recovery  # TableManager's; not in its interface
        events_topic = settings.events_topic

        async def assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
            parts = [tp.partition for tp in assigned if tp.topic == events_topic]
            if status is not None:
                status.on_assigned(events_topic, parts)

        # mode's handler type (mypy_extensions' VarArg) matches no annotated function
        app.on_partitions_assigned.connect(cast(Any, assigned))
        status.start()
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        if e.code not in (0, None):
            raise
    finally:
        if status is not None:
            status.stop()
        close()
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return 130 if interrupted else 0
