"""`sla-engine audit`: replay a time range of the events topic and compare the alerts with what
the live engine emitted on the alerts topic.

Both sides are the alerts (and retractions) **due** in `[--from, --to)`:

- the replay: the events published in `[from - lookback, to + grace)` through the same loop as
  `sla-engine replay --topic` (`cli.replay.replay_range`); tickets whose `created` event is
  before the look-back are left out of the comparison (their state would be a guess);
- the live side: the records of the alerts topic published in `[from, to + grace)` (the engine
  never emits an alert before it is due), repeats of an `alert_id` dropped (consumers do that).

`--grace` lets the live engine emit alerts due just before `--to` after it, and puts the events
that can still move or retract them on both sides. Alerts are keyed by `alert_id` (a hash of
ticket, clock, cycle, kind, level and due_at); what is left unmatched is paired by
(ticket, clock, cycle, kind, level) to say "due_at differs", then by (ticket, clock, cycle,
kind) to say "level differs", and the rest is missing (replay only) or extra (live only). A
matched alert is late when `detected_at` is more than `--late-threshold` after the moment the
engine could know it: its `due_at`, or the publication of the ticket's last event before it
when that is later (an event published late is the source's delay, not the engine's).

An alert emitted and retracted on one side only (the pair is in neither set on the other) is
reported as `transient` but is not a disagreement: the effective alerts agree, and which
transient decisions were ever true depends on the clock at each event (the wall clock live,
stream time in the replay).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

import orjson

from cli.kafka_range import RangeError, RangeStats, merged, read_range
from cli.replay import (
    TopicReplay,
    _ms_at_or_after,
    _open_out,
    add_range_arguments,
    check_range,
    duration,
    replay_range,
    topic_summary,
)
from config.loader import load
from engine.instant import iso, to_us

# What makes the audit fail, in the order the summary lists it.
DISAGREEMENTS = {
    "missing": "missing: replay only",
    "extra": "extra: live only",
    "due_at_differs": "due_at differs",
    "level_differs": "level differs",
    "fields_differ": "other fields differ",
    "late": "emitted late",
    "early": "emitted before due_at",
    "unreadable": "unreadable live records",
}
# Reported, not failing.
NOTES = {
    "transient": "transient: emitted and retracted on one side",
    "not_comparable": "not comparable: ticket's history before the look-back",
}
Alert = dict[str, Any]


def _us(text: str) -> int:
    return to_us(datetime.fromisoformat(text))


@dataclass
class Audit:
    entries: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    matched: int = 0
    replay_alerts: int = 0  # unique ids due in the window, comparable tickets
    live_records: int = 0  # records read from the alerts topic
    live_unique: int = 0  # distinct alert ids among them
    live_in_window: int = 0  # distinct ids due in the window

    @property
    def differences(self) -> int:
        return sum(self.counts[k] for k in DISAGREEMENTS)

    def add(self, diff: str, replay: Alert | None, live: Alert | None, **extra: Any) -> None:
        a = replay if replay is not None else live
        assert a is not None
        self.counts[diff] += 1
        self.entries.append(
            {
                "diff": diff,
                "alert_id": a.get("alert_id"),
                "ticket_id": a.get("ticket_id"),
                "clock": a.get("clock"),
                "cycle": a.get("cycle"),
                "kind": a.get("kind"),
                "level": a.get("level"),
                "due_at": a.get("due_at"),
                **extra,
                "replay": replay,
                "live": live,
            }
        )


def _decision(a: Alert, with_level: bool = True) -> tuple[Any, ...]:
    kind = a["kind"] if a["kind"] != "retraction" else f"retraction:{a.get('retracted_kind')}"
    key = (a["ticket_id"], a["clock"], a["cycle"], kind)
    return (*key, a["level"]) if with_level else key


def compare(
    replayed: dict[str, tuple[Alert, int]],
    live: dict[str, Alert],
    late_threshold: int,
    comparable: Callable[[str], bool],
) -> Audit:
    """`replayed`: alert id → (alert, the instant the engine could know it, µs); `live`: alert
    id → the first record of that id. Both already restricted to the window."""
    audit = Audit(replay_alerts=len(replayed))
    live = dict(live)
    for alert_id, a in list(live.items()):
        if not comparable(a["ticket_id"]):
            audit.add("not_comparable", None, a)
            del live[alert_id]
    for alert_id in sorted(replayed.keys() & live.keys()):
        (r, knowable), l_ = replayed[alert_id], live[alert_id]
        audit.matched += 1
        fields = sorted(k for k in r.keys() & l_.keys() if k != "detected_at" and r[k] != l_[k])
        if fields:
            audit.add("fields_differ", r, l_, fields=fields)
        detected, due = _us(l_["detected_at"]), _us(r["due_at"])
        if detected - knowable > late_threshold:
            audit.add(
                "late",
                r,
                l_,
                late_seconds=round((detected - knowable) / 1e6, 3),
                knowable_at=iso(knowable),
            )
        elif detected < due - late_threshold:
            audit.add("early", r, l_, early_seconds=round((due - detected) / 1e6, 3))
    only_r = {k: v[0] for k, v in replayed.items() if k not in live}
    only_l = {k: v for k, v in live.items() if k not in replayed}
    for side, name in ((only_r, "replay"), (only_l, "live")):
        for alert_id, a in sorted(side.items()):
            target = a.get("retracts")
            if a["kind"] == "retraction" and target in side and alert_id in side:
                for x in (side.pop(target), side.pop(alert_id)):
                    audit.add(
                        "transient",
                        x if name == "replay" else None,
                        x if name == "live" else None,
                        side=name,
                    )
    for with_level, diff in ((True, "due_at_differs"), (False, "level_differs")):
        groups: dict[tuple[Any, ...], list[list[Alert]]] = defaultdict(lambda: [[], []])
        for i, side in enumerate((only_r, only_l)):
            for a in side.values():
                groups[_decision(a, with_level)][i].append(a)
        for rs, ls in groups.values():
            rs.sort(key=lambda a: (_us(a["due_at"]), a["alert_id"]))
            ls.sort(key=lambda a: (_us(a["due_at"]), a["alert_id"]))
            for r, l_ in zip(rs, ls, strict=False):
                del only_r[r["alert_id"]], only_l[l_["alert_id"]]
                audit.add(diff, r, l_, live_alert_id=l_["alert_id"], live_due_at=l_["due_at"])
    for a in only_r.values():
        audit.add("missing", a, None)
    for a in only_l.values():
        audit.add("extra", None, a)
    audit.entries.sort(
        key=lambda e: (
            _us(e["due_at"]) if isinstance(e["due_at"], str) else 0,
            str(e["ticket_id"]),
            str(e["clock"]),
            str(e["alert_id"]),
            e["diff"],
        )
    )
    return audit


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
            _us(a[k])
        except (TypeError, ValueError):
            raise ValueError(f"{k}: not an instant with an offset: {a[k]!r}") from None
    return a


@dataclass
class AuditRun:
    audit: Audit
    replayed: TopicReplay
    live_stats: RangeStats


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
    timeout: float = 10.0,
) -> AuditRun:
    policy = load(policy_path)
    replayed: dict[str, tuple[Alert, int]] = {}

    def keep(alert: Alert, arrived: int | None) -> bool:
        due = _us(alert["due_at"])
        replayed.setdefault(alert["alert_id"], (alert, max(due, arrived or due)))
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
    )
    records, live_stats = read_range(
        bootstrap, alerts_topic, _ms_at_or_after(since), _ms_at_or_after(until + grace)
    )
    live: dict[str, Alert] = {}
    unreadable: list[dict[str, Any]] = []
    ids: set[str] = set()
    n = 0
    for rec in merged(records):
        n += 1
        try:
            a = _live_alert(rec.value)
        except ValueError as e:
            where = {"topic": alerts_topic, "partition": rec.partition, "offset": rec.offset}
            unreadable.append({**where, "reason": str(e)})
            continue
        alert_id, due = a["alert_id"], _us(a["due_at"])
        ids.add(alert_id)
        if not since <= due < until:
            continue
        first = live.get(alert_id)
        if first is None or _us(a["detected_at"]) < _us(first["detected_at"]):
            live[alert_id] = a
    headless = done.result.headless

    def comparable(ticket_id: str) -> bool:
        return ticket_id in done.tickets and ticket_id not in headless

    audit = compare(replayed, live, late_threshold, comparable)
    audit.live_records = n
    audit.live_unique = len(ids)
    audit.live_in_window = len(live)
    for u in unreadable:
        audit.counts["unreadable"] += 1
        audit.entries.append({"diff": "unreadable", **u})
    return AuditRun(audit, done, live_stats)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "audit",
        help="replay a time range of the events topic and compare with the alerts the live "
        "engine emitted",
        description="Replay the events topic over a time range (as `replay --topic` does) and "
        "compare the alerts due in [--from, --to) with those on the alerts topic: missing, "
        "extra, different due_at or level, other fields, emitted late. Exit code 0 when they "
        "agree, 1 when they differ, 2 when the audit cannot run.",
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
    from cli.live import need_broker

    problem = check_range(args, "audit")
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    bootstrap = need_broker(args.broker, "audit")
    since, until = args.since, args.until_
    with ExitStack() as stack:
        try:
            diff = _open_out(stack, args.diff) if args.diff else None
        except OSError as e:
            print(f"sla-engine audit: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
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
                args.timeout,
            )
        except RangeError as e:
            print(f"sla-engine audit: {e}", file=sys.stderr)
            return 2
        if diff is not None:
            for entry in result.audit.entries:
                diff.write(orjson.dumps(entry) + b"\n")
        summary_to = sys.stderr if args.diff == "-" else sys.stdout
        print_summary(result, args, summary_to)
    return 0 if result.audit.differences == 0 else 1


def _line(e: dict[str, Any]) -> str:
    if e["diff"] == "unreadable":
        return f"unreadable  {e['topic']}[{e['partition']}]@{e['offset']}: {e['reason']}"
    what = f"{e['kind']} {e['level'] or ''}".strip()
    text = f"{e['diff']:<14} {what:<20} {e['ticket_id']} {e['clock']} #{e['cycle']}"
    text += f" due {e['due_at']}"
    if e["diff"] == "late":
        text += f": {e['late_seconds']:g} s late"
    elif e["diff"] == "early":
        text += f": {e['early_seconds']:g} s early"
    elif e["diff"] in ("due_at_differs", "level_differs"):
        live = e["live"]
        text += f"; live: {live['level'] or ''} due {live['due_at']}"
    elif e["diff"] == "fields_differ":
        text += f": {', '.join(e['fields'])}"
    return text


def print_summary(result: AuditRun, args: argparse.Namespace, file: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    audit, since, until = result.audit, args.since, args.until_
    console = Console(file=file, highlight=False, soft_wrap=True)
    console.print(
        f"[bold]audit[/] of {args.alerts} against a replay of {args.events}: alerts due in "
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
    table.add_column("outcome")
    table.add_column("count", justify="right")
    table.add_row("matched by alert_id", str(audit.matched))
    for key, label in DISAGREEMENTS.items():
        n = audit.counts[key]
        table.add_row(f"[red]{label}[/]" if n else label, str(n))
    for key, label in NOTES.items():
        table.add_row(f"[dim]{label}[/]", str(audit.counts[key]))
    console.print(table)
    failing = [e for e in audit.entries if e["diff"] in DISAGREEMENTS]
    for e in failing[: args.show]:
        console.print("  " + _line(e), markup=False)
    if len(failing) > args.show:
        console.print(f"  … and {len(failing) - args.show} more (--diff has them all)")
    if args.diff and args.diff != "-":
        console.print(f"diff: {args.diff} ({len(audit.entries)} lines)", markup=False)
    if audit.differences:
        console.print(f"[bold red]DIFFER[/]: {audit.differences} differences")
    else:
        console.print(f"[bold green]AGREE[/]: {audit.matched} alerts matched")
