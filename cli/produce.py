"""`sla-engine produce`: publish a JSONL file of events, keyed by ticket id, each record stamped
with its event's `occurred_at`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from cli.invocation import add_broker_topic_options, need_broker
from cli.kafka_client import DEFAULT_CONNECT_TIMEOUT, KAFKA_LOG, Outage, require_broker
from kafka_io.producer import make_producer, send


def add_parser(sub: Any) -> None:
    produce = sub.add_parser(
        "produce",
        help="publish a JSONL file of events to tickets.events",
        description="Publish events, keyed by ticket_id, to the events "
        "topic, each record stamped with its event's occurred_at (so replays and audits by "
        "time range read the right records). Lines that are not valid JSON are sent as they "
        "are (the worker dead-letters them), stamped by the broker.",
    )
    produce.add_argument("--input", required=True, help="JSONL file ('-' = stdin)")
    add_broker_topic_options(produce)
    produce.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help="give up (exit 2) when the broker does not answer for this many seconds "
        f"(default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    produce.set_defaults(func=cmd_produce)


def cmd_produce(args: argparse.Namespace) -> int:
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
