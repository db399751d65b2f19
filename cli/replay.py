"""`sla-engine replay`: evaluate ticket events with the stream-time clock, from a file or from a
time range of the events topic (`cli.replay_topic`). Both sources go through
`offline.records.evaluate` and the one replay pipeline, `engine.replay`."""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from typing import Any

from cli.files import open_in, open_out
from cli.process_exit import hold
from cli.time_args import add_range_arguments, iso_instant
from config.loader import load
from offline.file import replay
from offline.records import (
    MAX_SKEW_S,
    alert_counts,
    reject_hint,
)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="evaluate ticket events (a JSONL file or a time range of the events topic) with "
        "the stream-time clock",
        description="Replay ticket events in file order, or the events published to a topic in "
        "a time range (--topic, --from, --to: every partition, located by offset lookup by "
        "timestamp, merged by timestamp). The clock is stream time (the largest occurred_at "
        "seen); at the end of input it advances to --until (--to) so pending timers fire. The "
        "same input and policy give the same bytes, every run.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="events, one JSON object a line ('-' = stdin)")
    source.add_argument(
        "--topic",
        help="read the events from this topic (e.g. tickets.events) instead of a file; needs "
        "--from and --to; outputs the alerts due in [--from, --to)",
    )
    p.add_argument("--policy", help="policy YAML (default: the bundled default policy)")
    p.add_argument(
        "--max-skew",
        type=float,
        default=MAX_SKEW_S,
        help="with --topic: an event more than this many seconds ahead of its record timestamp "
        "is rejected, 0 = no limit (a file has no record timestamps: no limit) "
        f"(default {MAX_SKEW_S:g})",
    )
    p.add_argument("--until", type=iso_instant, help="advance the clock to this instant at the end")
    p.add_argument("--output", default="-", help="alerts JSONL ('-' = stdout, the default)")
    p.add_argument(
        "--rejects",
        help="invalid input as JSONL {line, reason, raw} ({topic, partition, offset, reason, "
        "raw} from a topic) ('-' = stdout)",
    )
    p.add_argument(
        "--kpis",
        metavar="KPIS.jsonl",
        help="write the KPI snapshot of every window, dimension and key at the end of the replay "
        "(final: true once the clock is past the window end plus the policy's grace period)",
    )
    p.add_argument(
        "--status",
        metavar="STATUS.jsonl",
        help="write every ticket's final SLA status (the sla.status message: each clock's "
        "state, counted seconds, next threshold) at the end of the replay",
    )
    add_range_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.topic is not None:
        from cli.replay_topic import run_topic

        return run_topic(args)
    if args.since is not None or args.until_ is not None:
        print("sla-engine replay: --from/--to go with --topic (a file: --until)", file=sys.stderr)
        return 2
    policy = load(args.policy)
    with ExitStack() as stack:
        try:
            source, size = open_in(stack, args.input)
            out = open_out(stack, args.output)
            rejects = open_out(stack, args.rejects) if args.rejects else None
            kpis = open_out(stack, args.kpis) if args.kpis else None
            status = open_out(stack, args.status) if args.status else None
        except OSError as e:
            print(f"sla-engine replay: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
        result = replay(source, policy, args.until, out, rejects, size, kpis, status, hold)
    print(
        f"replayed {result.events} events of {result.tickets} tickets; "
        f"{result.rejected} rejected; alerts: {alert_counts(result)}"
        f"{reject_hint(result, bool(args.rejects))}",
        file=sys.stderr,
    )
    if args.kpis:
        print(f"kpis: {result.kpi_snapshots} snapshots ({result.kpi_final} final)", file=sys.stderr)
    if result.untargeted:
        counts = ", ".join(f"{c} {n}" for c, n in sorted(result.untargeted.items()))
        print(f"clock cycles no target matched (not tracked): {counts}", file=sys.stderr)
    return 0
