"""`sla-engine audit`: replay a time range of the events topic and compare the standing
decisions with those of the alerts the live engine emitted on the alerts topic.

Both sides are the alerts (and retractions) **due** in `[--from, --to)`:

- the replay: the events published in `[from - lookback, to + grace)` through the same loop as
  `sla-engine replay --topic` (`cli.replay_topic.replay_range`); tickets whose `created` event is
  before the look-back are left out of the comparison (their state would be a guess);
- the live side: the records of the alerts topic published in `[from, to + grace)` (the engine
  never emits an alert before it is due), repeats of an `alert_id` dropped (consumers do that).

`--grace` lets the live engine emit alerts due just before `--to` after it, and puts the events
that can still move or retract them on both sides. The comparison is `engine.audit`'s: standing
decisions by content, ticket by ticket; re-issued ids and transient alerts are churn, reported
apart, never failures. A decision is late when its first live announcement is more than
`--late-threshold` after the moment the engine could know it: its `due_at`, or the publication
of the ticket's last event before it when that is later (an event published late is the
source's delay, not the engine's).

Both topics are streamed (`kafka_range.stream_range`); the alerts of both sides, the tickets the
replay parks and the findings go to a temporary SQLite file (`offline.spill`): memory does not grow
with the range.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

import orjson

from cli.files import open_out
from cli.replay_topic import TopicReplay, replay_range, topic_summary
from cli.time_args import add_range_arguments, check_range, duration, ms_at_or_after
from config.loader import load
from engine.audit import CHURN, FINDINGS, NOTES, compare_ticket, entry, order, us
from engine.instant import iso
from kafka_io.range_reader import RangeError, RangeStats, stream_range
from offline.spill import Spill

Alert = dict[str, Any]


@dataclass
class Audit:
    """What the comparison found; the entries themselves are in the spill file (`Spill`)."""

    counts: Counter[str] = field(default_factory=Counter)
    matched: int = 0  # standing decisions on both sides (by content)
    standing_replay: int = 0
    standing_live: int = 0
    replay_alerts: int = 0  # alerts and retractions due in the window, comparable tickets
    live_records: int = 0  # records read from the alerts topic
    live_unique: int = 0  # distinct alert ids among them
    live_in_window: int = 0  # distinct ids due in the window
    entries: int = 0

    @property
    def differences(self) -> int:
        return sum(self.counts[k] for k in FINDINGS)

    @property
    def churn(self) -> int:
        return sum(self.counts[k] for k in CHURN)

    def add(self, spill: Spill, e: dict[str, Any]) -> None:
        self.counts[e["diff"]] += 1
        self.entries += 1
        spill.add_entry(order(e)[0], e)


_REQUIRED = ("alert_id", "ticket_id", "clock", "cycle", "kind", "level", "due_at", "detected_at")


def _live_alert(raw: bytes | None) -> Alert:
    """A record of the alerts topic as an alert; ValueError saying why it is not one."""
    try:
        a = orjson.loads(raw or b"")
    except orjson.JSONDecodeError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(a, dict):
        raise ValueError("not a JSON object")
    missing = [k for k in _REQUIRED if k not in a]
    if missing:
        raise ValueError(f"no {', '.join(missing)}")
    for k in ("due_at", "detected_at"):
        try:
            us(a[k])
        except (TypeError, ValueError):
            raise ValueError(f"{k}: not an instant with an offset: {a[k]!r}") from None
    return a


@dataclass
class AuditRun:
    audit: Audit
    replayed: TopicReplay
    live_stats: RangeStats
    spill: Spill


def run_audit(
    bootstrap: str,
    events_topic: str,
    alerts_topic: str,
    policy_path: str | None,
    since: int,
    until: int,
    lookback: int,
    grace: int,
    late_threshold: int,
    spill: Spill,
    timeout: float = 10.0,
) -> AuditRun:
    """Replay, read the alerts topic, compare ticket by ticket; every side's alerts, the parked
    tickets and the findings go to `spill`, so memory does not grow with the range."""
    policy = load(policy_path)
    audit = Audit()

    def keep(alert: Alert, arrived: int | None) -> bool:
        due = us(alert["due_at"])
        spill.add_alert(0, alert, max(due, arrived or due))
        audit.replay_alerts += 1
        return True

    done = replay_range(
        bootstrap,
        events_topic,
        policy,
        since,
        until,
        lookback,
        keep,
        read_until=until + grace,
        timeout=timeout,
        parked=spill.parked,
    )
    records, live_stats = stream_range(
        bootstrap,
        alerts_topic,
        ms_at_or_after(since),
        ms_at_or_after(until + grace),
        timeout=timeout,
    )
    for rec in records:
        audit.live_records += 1
        try:
            a = _live_alert(rec.value)
        except ValueError as e:
            where = {"topic": alerts_topic, "partition": rec.partition, "offset": rec.offset}
            audit.counts["unreadable"] += 1
            audit.entries += 1
            spill.add_entry(0, {"diff": "unreadable", "class": "input", **where, "reason": str(e)})
            continue
        spill.add_alert(1 if since <= us(a["due_at"]) < until else 2, a)
    headless = done.result.headless
    for ticket_id, replayed, live_all in spill.by_ticket():
        live, distinct = _first_of_each_id(live_all)
        audit.live_unique += distinct
        audit.live_in_window += len(live)
        if not done.knows(ticket_id) or ticket_id in headless:
            for a in live:
                audit.add(spill, entry("not_comparable", None, a))
            continue
        got = compare_ticket(replayed, live, late_threshold)
        audit.matched += got.matched
        audit.standing_replay += got.standing_replay
        audit.standing_live += got.standing_live
        for found in got.entries:
            audit.add(spill, found)
    return AuditRun(audit, done, live_stats, spill)


def _first_of_each_id(records: list[tuple[Alert, int]]) -> tuple[list[Alert], int]:
    """One ticket's live records (side 1: due in the window, side 2: outside) as one record an
    id, the first detected, in the order read; and how many distinct ids the ticket's records
    carry. Counted ticket by ticket: an id hashes its ticket's id, so no two tickets share one,
    and no set of every id of the range is kept (3.1 million ids, ~400 MB, in a month)."""
    first: dict[str, Alert] = {}
    seen: set[str] = set()
    for a, side in records:
        seen.add(a["alert_id"])
        if side == 2:
            continue
        had = first.get(a["alert_id"])
        if had is None or us(a["detected_at"]) < us(had["detected_at"]):
            first[a["alert_id"]] = a
    return list(first.values()), len(seen)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="replay a time range of the events topic and compare with the alerts the live "
        "engine emitted",
        description="Replay the events topic over a time range (as `replay --topic` does) and "
        "compare the standing decisions due in [--from, --to) with those of the alerts topic, "
        "by content (ticket, clock, cycle, kind, level, due_at): missing, extra, moved due_at, "
        "other level, other responsible/attribution, other fields, announced late. Re-issued "
        "ids and transient alerts are churn, reported apart. Exit code 0 when they agree, 1 "
        "when they differ, 2 when the audit cannot run.",
    )
    p.add_argument(
        "--events",
        default=os.environ.get("SLA_EVENTS_TOPIC", "tickets.events"),
        help="the events topic (env SLA_EVENTS_TOPIC; default tickets.events)",
    )
    p.add_argument(
        "--alerts",
        default=os.environ.get("SLA_ALERTS_TOPIC", "sla.alerts"),
        help="the alerts topic the live engine writes (env SLA_ALERTS_TOPIC; default sla.alerts)",
    )
    p.add_argument("--policy", help="policy YAML the live engine runs (default: the bundled one)")
    add_range_arguments(p)
    p.add_argument(
        "--late-threshold",
        type=duration,
        default=5_000_000,
        metavar="DURATION",
        help="an alert detected more than this after it could be known is late (default 5s)",
    )
    p.add_argument(
        "--grace",
        type=duration,
        default=600_000_000,
        metavar="DURATION",
        help="how long after --to the live engine may still emit alerts due before --to; the "
        "events published in that time are replayed too (default 10m)",
    )
    p.add_argument("--diff", metavar="DIFF.jsonl", help="every difference as JSONL ('-' = stdout)")
    p.add_argument("--show", type=int, default=10, help="differences listed in the summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cli.invocation import need_broker

    problem = check_range(args, "audit")
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    bootstrap = need_broker(args.broker, "audit")
    since, until = args.since, args.until_
    with ExitStack() as stack:
        try:
            diff = open_out(stack, args.diff) if args.diff else None
        except OSError as e:
            print(f"sla-engine audit: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
        spill = stack.enter_context(Spill())
        try:
            result = run_audit(
                bootstrap,
                args.events,
                args.alerts,
                args.policy,
                since,
                until,
                args.lookback,
                args.grace,
                args.late_threshold,
                spill,
                args.timeout,
            )
        except RangeError as e:
            print(f"sla-engine audit: {e}", file=sys.stderr)
            return 2
        if diff is not None:
            for line in spill.entries():
                diff.write(line + b"\n")
        summary_to = sys.stderr if args.diff == "-" else sys.stdout
        print_summary(result, args, summary_to)
    return 0 if result.audit.differences == 0 else 1


def _line(e: dict[str, Any]) -> str:
    if e["diff"] == "unreadable":
        return f"unreadable  {e['topic']}[{e['partition']}]@{e['offset']}: {e['reason']}"
    what = f"{e['kind']} {e['level'] or ''}".strip()
    text = f"{e['diff']:<19} {what:<20} {e['ticket_id']} {e['clock']} #{e['cycle']}"
    text += f" due {e['due_at']}"
    if e["diff"] == "late":
        text += f": {e['late_seconds']:g} s late"
    elif e["diff"] == "early":
        text += f": {e['early_seconds']:g} s early"
    elif e["diff"] in ("due_at_differs", "level_differs"):
        text += f"; live: {e['live_level'] or ''} due {e['live_due_at']}"
    elif e["diff"] in ("fields_differ", "responsible_differs"):
        text += f": {', '.join(e['fields'])}"
    return text


def print_summary(result: AuditRun, args: argparse.Namespace, file: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    audit, since, until = result.audit, args.since, args.until_
    console = Console(file=file, highlight=False, soft_wrap=True)
    console.print(
        f"[bold]audit[/] of {args.alerts} against a replay of {args.events}: decisions due in "
        f"[{iso(since)}, {iso(until)}), grace {args.grace / 1e6:g} s, late after "
        f"{args.late_threshold / 1e6:g} s"
    )
    console.print(topic_summary(result.replayed, since, until, args.lookback), markup=False)
    console.print(
        f"{result.live_stats.line()}: {audit.live_unique} distinct alert ids, "
        f"{audit.live_in_window} due in the window",
        markup=False,
    )
    if until + args.grace > time.time() * 1e6:
        console.print(
            "[yellow]--to + --grace is in the future: alerts not emitted yet count as missing[/]"
        )
    table = Table(show_header=True, header_style="bold")
    table.add_column("standing decisions (by content)")
    table.add_column("count", justify="right")
    table.add_row("in the replay", str(audit.standing_replay))
    table.add_row("live", str(audit.standing_live))
    table.add_row("matched", str(audit.matched), end_section=True)
    for key, label in FINDINGS.items():
        n = audit.counts[key]
        table.add_row(f"[red]{label}[/]" if n else label, str(n))
    table.add_section()
    table.add_row("[bold]apart, never failures[/]", "")
    for key, label in {**CHURN, **NOTES}.items():
        table.add_row(f"[dim]{label}[/]", str(audit.counts[key]))
    console.print(table)
    failing = tuple(FINDINGS)
    for line in islice(result.spill.entries(failing), args.show):
        console.print("  " + _line(orjson.loads(line)), markup=False)
    if audit.differences > args.show:
        console.print(f"  … and {audit.differences - args.show} more (--diff has them all)")
    if args.diff and args.diff != "-":
        console.print(f"diff: {args.diff} ({audit.entries} lines)", markup=False)
    if audit.differences:
        console.print(
            f"[bold red]DIFFER[/]: {audit.differences} differences in the standing decisions "
            f"({audit.churn} churn apart)"
        )
    else:
        console.print(
            f"[bold green]AGREE[/]: {audit.matched} decisions matched ({audit.churn} churn: "
            "re-issued or transient, not a failure)"
        )
