"""`sla-engine tail`: follow the alerts (or dead-letter) topic and print one record a line."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import orjson

from cli.kafka_client import DEFAULT_CONNECT_TIMEOUT, Outage, config, fail, require_broker
from cli.kafka_client import topic_partitions as partitions

KINDS = ("warning", "breach", "escalation", "retraction")
PRIORITIES = ("A", "B", "C")
STYLE = {"warning": "yellow", "breach": "red", "escalation": "bold red", "retraction": "dim"}
RAW_CLIP = 120  # characters of a dead letter's raw value shown


def add_parser(sub: Any, broker_default: str | None) -> None:
    tail = sub.add_parser(
        "tail",
        help="follow sla.alerts (or tickets.dlq) and print one record a line",
        description="Follow the alerts topic from its end (or --from-beginning); filter and "
        "pretty-print, one alert a line. On the dead-letter topic, each rejected record's "
        "reason, source offset and a clipped raw value.",
    )
    tail.add_argument(
        "--broker", default=broker_default, help="Kafka bootstrap HOST:PORT (env SLA_BROKER)"
    )
    tail.add_argument(
        "--topic",
        default=os.environ.get("SLA_ALERTS_TOPIC", "sla.alerts"),
        help="topic to follow (env SLA_ALERTS_TOPIC; default sla.alerts; tickets.dlq shows "
        "dead letters)",
    )
    tail.add_argument("--kind", choices=KINDS, help="only this kind of alert")
    tail.add_argument(
        "--clock",
        help="only this clock, e.g. first_response (checked against "
        "the policy: SLA_POLICY or the bundled one)",
    )
    tail.add_argument("--priority", choices=PRIORITIES, help="only this priority")
    tail.add_argument("--team", help="only alerts whose responsible team is this")
    tail.add_argument("--json", action="store_true", help="the records' JSON, one a line")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest record")
    tail.add_argument("--max", type=int, default=0, help="stop after N records (0 = follow)")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        default=0,
        help="stop after this many seconds without a record (0 = never)",
    )
    tail.add_argument(
        "--connect-timeout",
        type=float,
        default=DEFAULT_CONNECT_TIMEOUT,
        help=f"give up (exit 2) when the broker does not answer for this many seconds "
        f"(default {DEFAULT_CONNECT_TIMEOUT:g})",
    )
    tail.set_defaults(func=cmd_tail)


def check_clock(clock: str | None) -> None:
    """Exit 2 on a clock the policy does not define (a typo would wait forever)."""
    if clock is None:
        return
    from config.loader import load

    known = [c.name for c in load(os.environ.get("SLA_POLICY") or None).clocks]
    if clock not in known:
        import difflib

        likely = difflib.get_close_matches(clock, known, n=1)
        hint = f"; did you mean {likely[0]!r}?" if likely else ""
        raise fail(
            "tail", f"--clock: no clock {clock!r} in the policy{hint} (clocks: {', '.join(known)})"
        )


def printable(value: Any) -> str:
    """Event text as text: control characters (ESC, newlines, …) shown escaped."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii")
        for ch in text
    )


def _matches(a: dict[str, Any], args: argparse.Namespace) -> bool:
    return (
        (not args.kind or a.get("kind") == args.kind)
        and (not args.clock or a.get("clock") == args.clock)
        and (not args.priority or a.get("priority") == args.priority)
        and (not args.team or (a.get("responsible") or {}).get("team") == args.team)
    )


def _filtered(args: argparse.Namespace) -> bool:
    return bool(args.kind or args.clock or args.priority or args.team)


def render_alert(a: dict[str, Any]) -> Any:
    """One alert as a rich Text (never parsed as markup)."""
    from rich.text import Text

    who = a.get("responsible") or {}
    kind = printable(a.get("kind"))
    line = Text(f"{kind:<10}", style=STYLE.get(kind, ""))
    extra = (
        f" retracts {printable(a['retracts'])[:12]} ({printable(a.get('reason'))})"
        if a.get("retracts")
        else ""
    )
    line.append(
        f" {printable(a.get('level') or ''):<8} {printable(a.get('ticket_id')):<14} "
        f"{printable(a.get('clock')):<18} P{printable(a.get('priority'))} "
        f"due {printable(a.get('due_at'))} team={printable(who.get('team'))} "
        f"agent={printable(who.get('agent'))} → "
        f"{','.join(printable(n) for n in a.get('notify') or [])}{extra}"
    )
    return line


def render_dead_letter(d: dict[str, Any]) -> Any:
    """A rejected input record: reason, where it came from, the raw value clipped."""
    from rich.text import Text

    raw = printable(d.get("raw", ""))
    if len(raw) > RAW_CLIP:
        raw = raw[:RAW_CLIP] + f"… ({len(raw)} chars)"
    enc = f" ({printable(d['raw_encoding'])})" if d.get("raw_encoding") else ""
    line = Text("dead-letter", style="magenta")
    line.append(
        f" {printable(d.get('topic', '?'))}[{printable(d.get('partition', '?'))}]"
        f"@{printable(d.get('offset', '?'))} reason={printable(d.get('reason'))} "
        f"raw{enc}={raw}"
    )
    return line


def render(value: bytes | None, args: argparse.Namespace) -> Any | None:
    """What to print for one record (None: filtered out)."""
    from rich.text import Text

    try:
        obj = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        if _filtered(args):
            return None
        shown = printable((value or b"").decode("utf-8", "replace"))[:RAW_CLIP]
        return Text(f"unreadable record: {shown}", style="dim")
    if "kind" not in obj and "reason" in obj and "raw" in obj:
        return None if _filtered(args) else render_dead_letter(obj)
    return render_alert(obj) if _matches(obj, args) else None


def _start(consumer: Any, bootstrap: str, topic: str, args: argparse.Namespace) -> None:
    """Assign every partition at its true end (or its beginning): tansu's listed end offsets
    fall short, so the end comes from a fetch's high watermark (`end_offsets`)."""
    from confluent_kafka import OFFSET_BEGINNING, TopicPartition

    from kafka_io.admin import BrokerError, end_offsets

    parts = partitions(consumer, bootstrap, topic, "tail")
    if args.from_beginning:
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        where = "from the beginning"
    else:
        try:
            ends = end_offsets(bootstrap, [(topic, p) for p in parts], args.connect_timeout)
        except BrokerError as e:
            raise fail("tail", str(e)) from None
        consumer.assign([TopicPartition(topic, p, ends[(topic, p)]) for p in parts])
        where = f"from its end ({sum(ends.values())} records before)"
    print(
        f"following {topic} on {bootstrap}, {len(parts)} partitions, {where}",
        file=sys.stderr,
        flush=True,
    )


def cmd_tail(args: argparse.Namespace) -> int:
    from confluent_kafka import Consumer
    from rich.console import Console

    from cli.invocation import need_broker

    bootstrap = need_broker(args.broker, "tail")
    check_clock(args.clock)
    require_broker(bootstrap, "tail", args.connect_timeout)
    outage = Outage("tail", bootstrap, args.connect_timeout)
    consumer = Consumer(
        config(
            bootstrap,
            **{
                "group.id": "sla-engine-tail",  # assign() only: never joins, never commits
                "enable.auto.commit": False,
                "error_cb": outage.error_cb,
            },
        )
    )
    console = Console(highlight=False, soft_wrap=True)
    shown = 0
    last = time.monotonic()
    try:
        _start(consumer, bootstrap, args.topic, args)
        while not (args.max and shown >= args.max):
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                outage.check(consumer)
                if args.idle_timeout and time.monotonic() - last > args.idle_timeout:
                    break
                continue
            outage.alive()
            last = time.monotonic()
            if args.json:
                if render(msg.value(), args) is None:
                    continue
                sys.stdout.write((msg.value() or b"").decode("utf-8", "replace") + "\n")
                sys.stdout.flush()
            else:
                line = render(msg.value(), args)
                if line is None:
                    continue
                console.print(line)
            shown += 1
    except KeyboardInterrupt:
        pass
    finally:
        consumer.close()
    return 0
