"""`sla-engine demo-stream`: the live demo ticket stream, produced to a broker until Ctrl-C."""

from __future__ import annotations

import argparse
import threading
from typing import Any

from cli.invocation import add_broker_topic_options, need_broker
from cli.kafka_client import DEFAULT_CONNECT_TIMEOUT, require_broker


def add_parser(sub: Any) -> None:
    stream = sub.add_parser(
        "demo-stream",
        help="produce the live demo ticket stream to a broker until Ctrl-C",
        description="Produce realistic live ticket traffic, stamped with the wall clock, with "
        "some tickets left unanswered so that alerts appear within a minute.",
    )
    add_broker_topic_options(stream)
    stream.add_argument(
        "--rate", type=float, default=1.0, help="new tickets per second (default 1)"
    )
    stream.set_defaults(func=cmd_demo_stream)


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
