"""Command-line instants, durations and the time range of a topic (`--broker`, `--from`, `--to`,
`--lookback`): the flags `replay --topic`, `explain --topic` and `audit` share."""

from __future__ import annotations

import argparse
import os
from datetime import datetime

from config.model import parse_duration
from engine.instant import iso, to_us


def iso_instant(text: str) -> int:
    """An ISO 8601 instant with a UTC offset, in µs (argparse type)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. +08:00")
    return to_us(moment)


def duration(text: str) -> int:
    """`90s`, `15m`, `4h`, `2d` or seconds, in µs (argparse type; the policy's syntax)."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_range_arguments(p: argparse.ArgumentParser) -> None:
    """--broker, --from, --to, --lookback: shared by `replay --topic` and `audit`."""
    from topologies.settings import Settings

    retention = Settings().retention_days
    p.add_argument(
        "--broker",
        default=os.environ.get("SLA_BROKER"),
        help="Kafka bootstrap HOST:PORT (env SLA_BROKER)",
    )
    p.add_argument(
        "--from",
        dest="since",
        type=iso_instant,
        metavar="T",
        help="start of the range, ISO 8601 with offset: alerts due at or after it",
    )
    p.add_argument(
        "--to",
        dest="until_",
        type=iso_instant,
        metavar="T",
        help="end of the range (exclusive): alerts due before it count; the events published "
        "before it are read (audit: before it + --grace) and the clock ends there",
    )
    p.add_argument(
        "--lookback",
        type=duration,
        default=round(retention * 86_400 * 1_000_000),
        metavar="DURATION",
        help="also read the events published this long before --from, so that tickets that "
        "started earlier are evaluated on their whole history (e.g. 35d, 12h; default "
        f"{retention:g}d, the worker's retention of closed tickets). A ticket whose first event "
        "read is not `created` started before that: its alerts are left out and counted",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        help="seconds to wait for the broker per request (default 10)",
    )


def check_range(args: argparse.Namespace, command: str) -> str | None:
    """The problem with --from/--to, or None."""
    if args.since is None or args.until_ is None:
        return f"sla-engine {command}: --from and --to are both required"
    if args.since >= args.until_:
        return f"sla-engine {command}: --from ({iso(args.since)}) must be before --to"
    return None


def check_topic_range(args: argparse.Namespace, command: str) -> str | None:
    """`check_range`, and --until refused: with --topic the clock advances to --to."""
    problem = check_range(args, command)
    if problem is None and args.until is not None:
        problem = f"sla-engine {command}: with --topic the clock advances to --to; drop --until"
    return problem


def ms_at_or_after(us: int) -> int:
    """The first whole millisecond (record timestamps are ms) at or after an instant in µs."""
    return -(-us // 1000)
