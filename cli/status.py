"""`sla-engine status TICKET_ID` and `sla-engine at-risk`: the status query API (or, for one
ticket, the last status published on `sla.status`) as readable tables."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

DEFAULT_API = "http://127.0.0.1:9110"


class Failed(Exception):
    """A clear message and an exit code instead of a traceback."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def add_parsers(sub: Any) -> None:
    api_help = "a worker's status API (env SLA_API_URL; default " + DEFAULT_API + ")"
    status = sub.add_parser(
        "status",
        help="one ticket's live SLA status: each clock's state, counted and remaining time",
        description="Ask a worker's query API (any worker: it asks the owner of the ticket) "
        "for the ticket's status now, or with --broker read the last status published on "
        "sla.status. Prints a table (--json: the message).",
    )
    status.add_argument("ticket_id")
    status.add_argument(
        "--api", default=os.environ.get("SLA_API_URL") or DEFAULT_API, help=api_help
    )
    status.add_argument(
        "--broker",
        default=None,
        help="read the last published status from the topic on this Kafka HOST:PORT instead",
    )
    status.add_argument("--topic", default=os.environ.get("SLA_STATUS_TOPIC", "sla.status"))
    status.add_argument("--json", action="store_true", help="print the JSON status")
    status.set_defaults(func=cmd_status)

    risk = sub.add_parser(
        "at-risk",
        help="open clocks whose next threshold falls within a window, soonest first",
        description="Ask a worker's query API for the at-risk list merged across all workers.",
    )
    risk.add_argument("--within", default="15m", help="window from now (90s, 15m, 4h, 2d)")
    risk.add_argument("--team", help="only the tickets this team holds")
    risk.add_argument("--priority", help="only this priority (A, B, C)")
    risk.add_argument("--clock", help="only this clock, e.g. first_response")
    risk.add_argument("--limit", type=int, default=100, help="at most this many (1-1000)")
    risk.add_argument("--api", default=os.environ.get("SLA_API_URL") or DEFAULT_API, help=api_help)
    risk.add_argument("--json", action="store_true", help="print the JSON answer")
    risk.set_defaults(func=cmd_at_risk)


def fetch(api: str, path: str, params: dict[str, Any]) -> Any:
    """GET a JSON answer; an error answer or no answer becomes `Failed`."""
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    url = api.rstrip("/") + path + ("?" + query if query else "")
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        try:
            reason = json.loads(e.read()).get("error", e.reason)
        except ValueError:
            reason = e.reason
        raise Failed(str(reason), 1 if e.code == 404 else 2) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Failed(
            f"no status API at {api}: {reason} (start a worker, or pass --api URL / SLA_API_URL)"
        ) from None


def from_topic(bootstrap: str, topic: str, ticket_id: str, timeout: float = 10.0) -> Any:
    """The last status published for the ticket: the topic read from its start to its end
    (compacted: about one message per ticket)."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from cli.kafka_client import config
    from kafka_io.admin import BrokerError, end_offsets

    c = Consumer(
        config(
            bootstrap,
            **{
                "group.id": "sla-engine-status-cli",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
            },
        )
    )
    try:
        meta = c.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None or not meta.partitions:
            raise Failed(f"no topic {topic!r} on {bootstrap}")
        # The true ends: tansu's ListOffsets(latest) stops at the last batch's base offset.
        try:
            true_ends = end_offsets(bootstrap, [(topic, p) for p in meta.partitions], timeout)
        except BrokerError as e:
            raise Failed(f"{topic}: {e}") from None
        ends = {p: true_ends[(topic, p)] for p in meta.partitions}
        todo = {p for p, end in ends.items() if end > 0}
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in todo])
        key, last = ticket_id.encode(), None
        while todo:
            msg = c.poll(timeout)
            if msg is None:
                raise Failed(f"{topic}: no message within {timeout:g} s")
            if msg.error():
                continue
            if msg.key() == key:
                last = msg.value()
            if (msg.offset() or 0) >= ends[msg.partition()] - 1:  # None only on errors
                todo.discard(msg.partition())
    finally:
        c.close()
    if last is None:
        raise Failed(f"no status of ticket {ticket_id!r} on {topic}", 1)
    return json.loads(last)


def span(seconds: float | None) -> str:
    """`1h 02m 03s`; `-4m 10s` once past; `-` when unknown."""
    if seconds is None:
        return "-"
    sign, s = ("-" if seconds < 0 else ""), abs(round(seconds))
    d, s = divmod(s, 86_400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    if d:
        return f"{sign}{d}d {h:02d}h {m:02d}m"
    if h:
        return f"{sign}{h}h {m:02d}m {s:02d}s"
    return f"{sign}{m}m {s:02d}s" if m else f"{sign}{s}s"


def _short(iso: str) -> str:
    """`2026-12-01 19:49:21` of a UTC ISO instant."""
    return iso[:19].replace("T", " ")


def _when(iso: str | None, as_of: str) -> str:
    if iso is None:
        return "-"
    delta = (datetime.fromisoformat(iso) - datetime.fromisoformat(as_of)).total_seconds()
    return f"{_short(iso)} ({'in ' + span(delta) if delta >= 0 else span(delta)})"


def _threshold(kind: str, level: str | None) -> str:
    return kind if level is None else f"{kind} ({level})"


def status_table(body: dict[str, Any]) -> Any:
    from rich.table import Table

    holder = body["holder"]
    title = (
        f"{body['ticket_id']}  status {body['status'] or '-'}  priority {body['priority'] or '-'}"
        f"  team {holder['team'] or '-'}  agent {holder['agent'] or '-'}"
    )
    table = Table(
        title=title, caption=f"as of {_short(body['as_of'])} UTC · policy {body['policy_version']}"
    )
    for name in (
        "clock",
        "cycle",
        "state",
        "counted",
        "target",
        "limit",
        "left",
        "reached",
        "next",
        "due",
    ):
        table.add_column(name, justify="right" if name in ("cycle", "counted", "left") else "left")
    for c in body["clocks"]:
        nxt = c["next"]
        state = c["state"] + (" · exempt" if c["exempt"] else "")
        table.add_row(
            c["clock"],
            str(c["cycle"]),
            state,
            span(c["counted_seconds"]),
            span(c["target_seconds"]),
            span(c["limit_seconds"]),
            span(c["remaining_seconds"]),
            c["highest_level"] or "-",
            _threshold(nxt["kind"], nxt["level"]) if nxt else "-",
            _when(nxt["due_at"], body["as_of"]) if nxt else "-",
        )
    return table


def at_risk_table(body: dict[str, Any]) -> Any:
    from rich.table import Table

    caption = f"as of {_short(body['as_of'])} UTC · {body['workers']} worker(s)"
    if body["missing"]:
        caption += f" · NO ANSWER from {', '.join(body['missing'])}"
    if body["truncated"]:
        caption += " · more may be due: raise --limit"
    table = Table(title=f"due by {_short(body['until'])} UTC", caption=caption)
    for name in ("due", "ticket", "clock", "next", "counted", "left", "priority", "team", "agent"):
        table.add_column(name, justify="right" if name in ("counted", "left") else "left")
    for e in body["items"]:
        table.add_row(
            _when(e["due_at"], body["as_of"]),
            e["ticket_id"],
            e["clock"],
            _threshold(e["kind"], e["level"]),
            span(e["counted_seconds"]),
            span(e["remaining_seconds"]),
            e["priority"] or "-",
            e["team"] or "-",
            e["agent"] or "-",
        )
    return table


def _print(body: Any, as_json: bool, table: Any) -> None:
    if as_json:
        print(json.dumps(body, indent=2))
        return
    from rich.console import Console

    Console(width=None if sys.stdout.isatty() else 160).print(table(body))


def cmd_status(args: argparse.Namespace) -> int:
    try:
        if args.broker:
            body = from_topic(args.broker, args.topic, args.ticket_id)
        else:
            body = fetch(args.api, "/tickets/" + urllib.parse.quote(args.ticket_id, safe=""), {})
    except Failed as e:
        print(f"sla-engine status: {e}", file=sys.stderr)
        return e.code
    _print(body, args.json, status_table)
    return 0


def cmd_at_risk(args: argparse.Namespace) -> int:
    params = {
        "within": args.within,
        "team": args.team,
        "priority": args.priority,
        "clock": args.clock,
        "limit": args.limit,
    }
    try:
        body = fetch(args.api, "/at-risk", params)
    except Failed as e:
        print(f"sla-engine at-risk: {e}", file=sys.stderr)
        return e.code
    _print(body, args.json, at_risk_table)
    return 0
