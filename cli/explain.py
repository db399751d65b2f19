"""`sla-engine explain ALERT_ID`: the evidence chain of one alert (`engine.explain`).

The events are replayed exactly as `sla-engine replay` does (the same pipeline: file order,
stream-time clock, `--until` at the end), so the alert ids are the ones replay printed.
`replay_records` takes the records from any source (a file's lines, a topic's time range).
With a `Spill` (a topic's range, `--topic`) idle tickets are parked and the alerts kept on disk,
as `audit` does: memory does not grow with the range, and only the explained ticket and its
alerts come back.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any
from zoneinfo import ZoneInfo

import orjson

from cli.time_args import add_range_arguments, check_topic_range, iso_instant, ms_at_or_after
from config.loader import load
from engine.explain import UnknownAlert, explain
from engine.replay import Replay
from engine.rules import RuntimePolicy
from engine.ticket import Ticket
from offline.records import Record, evaluate, file_lines, line_records
from offline.spill import Spill
from schemas.attributes import HOLDER_ROLES


@dataclass
class Replayed:
    """A replay kept in memory: the pipeline's state (every ticket's history, state and
    ledger) and every alert in emission order."""

    run: Replay
    alerts: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    rejected: int = 0
    emitted: int | None = None  # alerts emitted, when `alerts` holds only one ticket's

    def of_ticket(self, ticket_id: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["ticket_id"] == ticket_id]


def replay_records(
    records: Iterable[Record],
    policy: RuntimePolicy,
    until: int | None,
    spill: Spill | None = None,
    alert_id: str | None = None,
) -> Replayed:
    """Replay records like `sla-engine replay` (`offline.records.evaluate`); invalid records are
    counted and skipped. Every alert is kept; with `spill`, idle tickets and the alerts go to it
    and the result holds only the ticket of `alert_id` (if emitted) and its alerts."""
    alerts: list[dict[str, Any]] = []
    found: list[str] = []

    def keep(alert: dict[str, Any], arrived: int | None) -> bool:
        if spill is None:
            alerts.append(alert)
        else:
            spill.add_alert(0, alert)
            if not found and alert["alert_id"] == alert_id:
                found.append(alert["ticket_id"])
        return True

    parked = None if spill is None else spill.parked
    result, run = evaluate(records, policy, until, keep, parked=parked)
    replayed = Replayed(run, alerts, result.events, result.rejected)
    if spill is not None:
        replayed.emitted = spill.alert_count()
        replayed.alerts = _ticket_back(run, spill, found[0]) if found else []
    return replayed


def _ticket_back(run: Replay, spill: Spill, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket into memory again (if parked); its alerts in emission order."""
    if ticket_id not in run.tickets:
        run.tickets[ticket_id] = Ticket.from_bytes(spill.parked.pop(ticket_id), run.policy)
    return spill.alerts_of(ticket_id)


def replay_lines(lines: Iterable[bytes], policy: RuntimePolicy, until: int | None) -> Replayed:
    """Replay event lines (JSON, one event each; blank lines skipped) like `sla-engine replay`."""
    return replay_records(line_records(lines), policy, until)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "explain",
        help="print the evidence chain of one alert",
        description="Replay the events (as `sla-engine replay` does, same flags, same alert "
        "ids) and print how ALERT_ID came about: the ticket's events, each clock's running, "
        "paused and stopped intervals, the calendar's working blocks that counted, the target "
        "rule and grading step applied, due_at, who was responsible and notified, the time "
        "attributed to each holder, and the exemption and appeal trail. A retraction's id "
        "explains the alert it withdrew.",
    )
    p.add_argument("alert_id", metavar="ALERT_ID", help="an alert_id printed by replay")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--input", help="events, one JSON object a line ('-' = stdin)")
    source.add_argument(
        "--topic",
        help="read the events from this topic instead: the records published in "
        "[--from - --lookback, --to), as `sla-engine replay --topic` does",
    )
    p.add_argument("--policy", help="policy YAML (default: the bundled default policy)")
    p.add_argument(
        "--until",
        type=iso_instant,
        help="(--input) advance the clock to this instant at the end; with --topic it is --to",
    )
    add_range_arguments(p)
    p.add_argument("--json", action="store_true", help="one JSON document instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.topic is not None:
        return run_topic(args)
    if args.since is not None or args.until_ is not None:
        print("sla-engine explain: --from/--to go with --topic; use --until", file=sys.stderr)
        return 2
    policy = load(args.policy)
    try:
        replayed = replay_lines(file_lines(args.input), policy, args.until)
    except OSError as e:
        print(f"sla-engine explain: {e.filename}: {e.strerror}", file=sys.stderr)
        return 2
    return show(replayed, args.alert_id, args.json, sys.stdout, source=args.input)


def run_topic(args: argparse.Namespace) -> int:
    """Explain from a time range of the events topic: the same records `replay --topic` reads
    (look-back included), replayed with the clock ending at --to."""
    from cli.invocation import need_broker
    from cli.replay_topic import topic_records
    from kafka_io.range_reader import RangeError, stream_range

    problem = check_topic_range(args, "explain")
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    bootstrap = need_broker(args.broker, "explain")
    policy = load(args.policy)
    try:
        records, stats = stream_range(
            bootstrap,
            args.topic,
            ms_at_or_after(args.since - args.lookback),
            ms_at_or_after(args.until_),
            timeout=args.timeout,
        )
    except RangeError as e:
        print(f"sla-engine explain: {e}", file=sys.stderr)
        return 2
    with Spill() as spill:
        try:
            topic = topic_records(args.topic, records)
            replayed = replay_records(topic, policy, args.until_, spill, args.alert_id)
        except RangeError as e:
            print(f"sla-engine explain: {e}", file=sys.stderr)
            return 2
        print(stats.line(), file=sys.stderr)
        return show(replayed, args.alert_id, args.json, sys.stdout, source=f"topic {args.topic}")


def _emitted(replayed: Replayed) -> int:
    return len(replayed.alerts) if replayed.emitted is None else replayed.emitted


def show(replayed: Replayed, alert_id: str, as_json: bool, out: IO[str], source: str) -> int:
    """Print the evidence of `alert_id` from a replay; 1 with a hint when it has no such id."""
    ticket_id = next((a["ticket_id"] for a in replayed.alerts if a["alert_id"] == alert_id), None)
    if ticket_id is None:
        print(
            f"sla-engine explain: no alert {alert_id!r} in the replay of {source} "
            f"({replayed.events} events, {len(replayed.run.tickets)} tickets, "
            f"{_emitted(replayed)} alerts); alert ids depend on the input and --until: list "
            f"them with `sla-engine replay --input {source} [--until T]`",
            file=sys.stderr,
        )
        return 1
    ticket = replayed.run.tickets[ticket_id]
    try:
        evidence = explain(ticket, replayed.of_ticket(ticket_id), alert_id, replayed.run.clock)
    except UnknownAlert:  # pragma: no cover - the id was found above
        return 1
    doc = evidence.to_dict()
    if as_json:
        out.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.write(render(doc, replayed.run.policy.kpis.timezone))
    return 0


def _local(text: str | None, zone: ZoneInfo) -> str:
    if text is None:
        return "…"
    return datetime.fromisoformat(text).astimezone(zone).isoformat(sep=" ")


def _who(h: dict[str, Any]) -> str:
    parts = [f"{k} {h[k]}" for k in HOLDER_ROLES if h.get(k)]
    return ", ".join(parts) or "nobody named"


def num(s: float) -> str:
    """Seconds without float noise: up to 6 decimals (µs), trailing zeros dropped."""
    return f"{s:.6f}".rstrip("0").rstrip(".")


def _dur(s: float) -> str:
    whole = int(s)
    h, rest = divmod(whole, 3600)
    m, sec = divmod(rest, 60)
    tail = num(sec + s - whole)
    return f"{num(s)} s ({h}:{m:02d}:{'0' if sec < 10 else ''}{tail})"


def render(doc: dict[str, Any], tz: str) -> str:
    """The evidence as text, instants in the reporting time zone."""
    zone = ZoneInfo(tz)
    lines = [*_summary(doc, zone), "", *_chain(doc, zone), "", *_trail(doc, zone)]
    return "\n".join(lines) + "\n"


def _summary(a: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """The alert, its status, due_at, counted time, rule, responsible, notified, attribution."""
    lines: list[str] = []
    add = lines.append
    level = f" {a['level']}" if a["level"] else ""
    add(f"alert {a['explained']}: {a['kind']}{level} of {a['clock']} (cycle {a['cycle']})")
    if a["alert_id"] != a["explained"]:
        add(f"  (asked about {a['alert_id']}, the retraction that withdrew it)")
    add(f"  ticket     {a['ticket_id']}")
    if a["retraction"] is not None:
        r = a["retraction"]
        add(
            f"  status     retracted by {r['alert_id']} ({r['reason']}; caused by "
            f"{', '.join(r['caused_by']) or '-'})"
        )
    else:
        add("  status     standing")
    add(f"  due_at     {_local(a['due_at'], zone)}")
    add(f"  counted    {_dur(a['elapsed_seconds'])} of clock time on calendar {a['calendar']}")
    rule = a["rule"]
    if rule is not None:
        when = ", ".join(f"{k} in {'|'.join(v)}" for k, v in rule["when"].items()) or "any ticket"
        add(f"  rule       {rule['rule']} (when {when}); policy {rule['policy_version']}")
        steps = ", ".join(
            f"{s['kind']}{'/' + s['level'] if s['level'] else ''} {num(s['seconds'])} s"
            for s in rule["thresholds"]
        )
        add(f"  grading    {steps}")
        ap = rule["applied"]
        grade = f"{ap['kind']}{'/' + ap['level'] if ap['level'] else ''}"
        add(f"  applied    {grade} at {num(ap['seconds'])} s")
    add(f"  responsible {_who(a['responsible'])}")
    add(
        "  notified   "
        + (", ".join(f"{n['role']} {n['who'] or '?'}" for n in a["notified"]) or "-")
    )
    add("  attribution")
    for s in a["attribution"]:
        add(f"    {_dur(s['seconds']):>28}  {_who(s)}")
    return lines


def _chain(a: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """The events, the clock intervals and the working blocks that counted."""
    lines: list[str] = []
    add = lines.append
    add("events (occurred_at, event_id order; * = in caused_by, later = after due_at)")
    for e in a["events"]:
        mark = "*" if e["caused_by"] else ("later" if e["after_due"] else "")
        fields = " ".join(f"{k}={v}" for k, v in e["fields"].items())
        add(f"  {mark:>5} {_local(e['occurred_at'], zone)}  {e['event_id']}  {e['type']}  {fields}")
    add("")
    add("clock intervals")
    for i in a["intervals"]:
        here = "→" if (i["clock"], i["cycle"]) == (a["clock"], a["cycle"]) else " "
        counted = f"{num(i['seconds'])} s" if i["state"] == "running" else ""
        who = _who(i["holder"]) if i["state"] != "stopped" else ""
        add(
            f"  {here} {i['clock']}#{i['cycle']} {i['state']:<8} {_local(i['start'], zone)} → "
            f"{_local(i['end'], zone)}  {counted}  {who}"
        )
    add("")
    add(f"working blocks that counted up to due_at (calendar {a['calendar']})")
    for b in a["blocks"]:
        add(
            f"  {_local(b['start'], zone)} → {_local(b['end'], zone)}  {num(b['seconds'])} s  "
            f"{_who(b['holder'])}"
        )
    add(f"  total {_dur(a['counted_seconds'])}")
    return lines


def _trail(a: dict[str, Any], zone: ZoneInfo) -> list[str]:
    """The exemption and appeal trail, then every announcement of the same decision."""
    lines: list[str] = []
    add = lines.append
    add("exemption and appeal trail")
    if not a["trail"]:
        add("  none")
    for t in a["trail"]:
        what = t["outcome"] or ""
        links = []
        if t["answers"]:
            links.append(f"answers {t['answers']}")
        if t["answered_by"]:
            links.append(f"answered by {t['answered_by']}")
        target = f"alert {t['alert_id']}" if t["alert_id"] else f"{t['clock']}#{t['cycle']}"
        add(
            f"  {_local(t['occurred_at'], zone)}  {t['event_id']}  {t['type']} {what} {target}"
            f"{'; reviewer ' + t['reviewer'] if t['reviewer'] else ''}"
            f"{'; reason: ' + t['reason'] if t['reason'] else ''}"
            f"{' (' + ', '.join(links) + ')' if links else ''}"
        )
        for r in t["retracted"]:
            grade = f"{r['kind']} {r['level']}" if r["level"] else r["kind"]
            add(f"      retracted {r['retracts']} ({grade}) by {r['retraction_id']}")
    add("")
    add("announcements of this decision")
    for x in a["announcements"]:
        extra = f" retracts {x['retracts']} ({x['reason']})" if x["retracts"] else ""
        add(f"  {_local(x['detected_at'], zone)}  {x['kind']:<10} {x['alert_id']}{extra}")
    return lines
