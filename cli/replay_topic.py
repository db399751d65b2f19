"""`sla-engine replay --topic`: a time range of the events topic through the replay pipeline.

The records published in `[since - lookback, until)` are located by offset lookup by timestamp on
every partition and merged by timestamp (`kafka_range.stream_range`), then go through
`offline.records.evaluate` like a file's lines. The audit replays through `replay_range` too.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from cli.files import open_out
from cli.time_args import check_topic_range, ms_at_or_after
from config.loader import load
from engine.instant import iso, to_us
from engine.rules import RuntimePolicy
from kafka_io.range_reader import RangeError, RangeStats, TopicRecord, stream_range
from offline.records import (
    Emit,
    Record,
    Reject,
    ReplayResult,
    alert_counts,
    evaluate,
    reject_hint,
    rejects_to,
)
from offline.spill import Spill


@dataclass
class TopicReplay:
    """A replay of a time range of the events topic."""

    result: ReplayResult
    stats: RangeStats  # records read, per partition
    knows: Callable[[str], bool]  # whether the ticket had an event read
    outside: int = 0  # alerts emitted with due_at outside [since, until)
    left_out: int = 0  # alerts of tickets whose history starts before what was read


def topic_records(topic: str, records: Iterable[TopicRecord]) -> Iterator[Record]:
    """The records of a topic (merged in timestamp order: `kafka_range.stream_range`)."""
    for r in records:
        where = {"topic": topic, "partition": r.partition, "offset": r.offset}
        yield Record(r.value or b"", where, r.timestamp_ms * 1000)


def replay_range(
    bootstrap: str,
    topic: str,
    policy: RuntimePolicy,
    since: int,
    until: int,
    lookback: int,
    keep: Emit,
    rejects: Reject | None = None,
    read_until: int | None = None,
    timeout: float = 10.0,
    parked: MutableMapping[str, bytes] | None = None,
    max_skew_us: int | None = None,
) -> TopicReplay:
    """Replay the events published in `[since - lookback, read_until or until)` (record
    timestamps, µs), located by offset lookup by timestamp on every partition, merged by
    timestamp, through `evaluate`; the clock ends at `read_until or until`. `keep` gets the
    alerts due in `[since, until)` of tickets whose `created` event was read; the others are
    counted. A ticket whose first event read is not `created` started before the look-back:
    its state would be a guess, so its alerts are left out (and `result.headless` names it).
    The records are streamed (`stream_range`); `parked` keeps closed tickets out of memory."""
    end = read_until if read_until is not None else until
    records, stats = stream_range(
        bootstrap, topic, ms_at_or_after(since - lookback), ms_at_or_after(end), timeout=timeout
    )
    result = ReplayResult()
    run = TopicReplay(result, stats, lambda _: False)

    def emit(alert: dict[str, Any], arrived: int | None) -> bool:
        if alert["ticket_id"] in result.headless:
            run.left_out += 1
            return False
        if not since <= to_us(datetime.fromisoformat(alert["due_at"])) < until:
            run.outside += 1
            return False
        return keep(alert, arrived)

    _, replayed = evaluate(
        topic_records(topic, records),
        policy,
        end,
        emit,
        rejects,
        result,
        parked=parked,
        max_skew_us=max_skew_us,
    )
    run.knows = replayed.knows
    return run


def run_topic(args: argparse.Namespace) -> int:
    """`sla-engine replay --topic`: the alerts due in [--from, --to) as JSONL."""
    from cli.invocation import need_broker

    problem = check_topic_range(args, "replay")
    if problem is None and args.kpis:
        problem = "sla-engine replay: --kpis needs a file replay (--input)"
    if problem is None and args.status:
        problem = "sla-engine replay: --status needs a file replay (--input)"
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    bootstrap = need_broker(args.broker, "replay")
    policy = load(args.policy)
    with ExitStack() as stack:
        try:
            out = open_out(stack, args.output)
            rejects = open_out(stack, args.rejects) if args.rejects else None
        except OSError as e:
            print(f"sla-engine replay: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
        write = out.write
        spill = stack.enter_context(Spill())  # idle tickets wait on disk: memory stays flat

        def keep(alert: dict[str, Any], arrived: int | None) -> bool:
            write(orjson.dumps(alert) + b"\n")
            return True

        try:
            done = replay_range(
                bootstrap,
                args.topic,
                policy,
                args.since,
                args.until_,
                args.lookback,
                keep,
                rejects_to(rejects),
                timeout=args.timeout,
                parked=spill.parked,
                max_skew_us=int(args.max_skew * 1_000_000) or None,
            )
        except RangeError as e:
            print(f"sla-engine replay: {e}", file=sys.stderr)
            return 2
    print(
        topic_summary(done, args.since, args.until_, args.lookback)
        + reject_hint(done.result, bool(args.rejects)),
        file=sys.stderr,
    )
    return 0


def topic_summary(done: TopicReplay, since: int, until: int, lookback: int) -> str:
    r = done.result
    return (
        f"{done.stats.line()}; published {iso(since - lookback)} (--from − look-back) to "
        f"{iso(until)}\n"
        f"replayed {r.events} events of {r.tickets} tickets (at most {r.most_in_memory} in "
        f"memory at once); {r.rejected} rejected; "
        f"{len(r.headless)} tickets started before the look-back ({done.left_out} of their "
        f"alerts left out); alerts due in [{iso(since)}, {iso(until)}): {alert_counts(r)} "
        f"({done.outside} due outside)"
    )
