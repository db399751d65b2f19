"""`sla-engine replay`: evaluate a file of ticket events with the stream-time clock."""

from __future__ import annotations

import argparse
import gc
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from config.loader import load
from engine.history import from_model
from engine.instant import to_us
from engine.kpis import KpiStore, contributions
from engine.processor import Processor
from engine.rules import RuntimePolicy
from schemas.parse import InvalidEvent, parse_event


@dataclass
class ReplayResult:
    events: int = 0
    rejected: int = 0
    alerts: Counter[str] = field(default_factory=Counter)
    tickets: int = 0
    kpi_snapshots: int = 0
    kpi_final: int = 0


def iso_instant(text: str) -> int:
    """An ISO 8601 instant with a UTC offset, in µs (argparse type)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no UTC offset; add one, e.g. +08:00")
    return to_us(moment)


def _lines(stream: IO[bytes], total: int | None) -> Iterator[bytes]:
    if total is None or total < 5_000_000 or not sys.stderr.isatty():
        yield from stream
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task("replaying", total=total)
        for line in stream:
            bar.advance(task, len(line))
            yield line


def reject_record(line_no: int, reason: str, raw: bytes) -> dict[str, Any]:
    text = raw.rstrip(b"\r\n")
    try:
        return {"line": line_no, "reason": reason, "raw": text.decode("utf-8")}
    except UnicodeDecodeError:
        import base64

        return {
            "line": line_no,
            "reason": reason,
            "raw": base64.b64encode(text).decode(),
            "raw_encoding": "base64",
        }


def replay(
    source: IO[bytes],
    policy: RuntimePolicy,
    until: int | None,
    out: IO[bytes],
    rejects: IO[bytes] | None,
    total_bytes: int | None = None,
    kpis: IO[bytes] | None = None,
) -> ReplayResult:
    """Feed every line through the engine in file order; write alerts and rejects as JSONL.
    With `kpis`, write the final KPI snapshot of every window (see `write_kpis`)."""
    proc = Processor(policy)
    result = ReplayResult()
    write = out.write
    for n, raw in enumerate(_lines(source, total_bytes), 1):
        if not raw.strip():
            continue
        try:
            event = parse_event(raw)
        except InvalidEvent as e:
            result.rejected += 1
            if rejects is not None:
                rejects.write(orjson.dumps(reject_record(n, e.reason, raw)) + b"\n")
            continue
        result.events += 1
        for alert in proc.ingest(event.ticket_id, from_model(event)):
            result.alerts[alert["kind"]] += 1
            write(orjson.dumps(alert) + b"\n")
    if until is not None:
        for alert in proc.advance(until):
            result.alerts[alert["kind"]] += 1
            write(orjson.dumps(alert) + b"\n")
    result.tickets = len(proc.tickets)
    if kpis is not None:
        result.kpi_snapshots, result.kpi_final = write_kpis(proc, kpis)
    return result


def write_kpis(proc: Processor, out: IO[bytes]) -> tuple[int, int]:
    """Every ticket's facts as of the end of the replay, aggregated with exact percentiles at
    the final stream-time clock; one `KpiSnapshot` a line ordered by unit, window start,
    dimension and key, keys sorted: the same input gives the same bytes. Returns the number of
    snapshots and of final ones."""
    store = KpiStore(proc.policy, exact=True)
    store.advance(proc.clock)
    # Millions of small counters and no reference cycles: the cyclic collector would only
    # rescan them (a third of the time); it is back on when this returns.
    collecting = gc.isenabled()
    gc.disable()
    try:
        store.add(f for ticket in proc.tickets.values() for f in contributions(ticket))
        count = final = 0
        for snap in store.iter_snapshots():
            count += 1
            final += snap["final"]
            out.write(orjson.dumps(snap, option=orjson.OPT_SORT_KEYS) + b"\n")
    finally:
        if collecting:
            gc.enable()
    return count, final


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "replay",
        help="evaluate a JSONL file of ticket events with the stream-time clock",
        description="Replay ticket events in file order. The clock is stream time (the largest "
        "occurred_at seen); at the end of input it advances to --until so pending timers fire. "
        "The same input and policy give the same bytes, every run.",
    )
    p.add_argument("--input", required=True, help="events, one JSON object a line ('-' = stdin)")
    p.add_argument("--policy", help="policy YAML (default: the bundled default policy)")
    p.add_argument("--until", type=iso_instant, help="advance the clock to this instant at the end")
    p.add_argument("--output", default="-", help="alerts JSONL ('-' = stdout, the default)")
    p.add_argument("--rejects", help="invalid lines as JSONL {line, reason, raw} ('-' = stdout)")
    p.add_argument(
        "--kpis",
        metavar="KPIS.jsonl",
        help="write the KPI snapshot of every window, dimension and key at the end of the replay "
        "(final: true once the clock is past the window end plus the policy's grace period)",
    )
    p.set_defaults(func=run)


def _open_in(stack: ExitStack, name: str) -> tuple[IO[bytes], int | None]:
    if name == "-":
        return sys.stdin.buffer, None
    path = Path(name)
    return stack.enter_context(path.open("rb")), path.stat().st_size


def _open_out(stack: ExitStack, name: str) -> IO[bytes]:
    if name == "-":
        return sys.stdout.buffer
    return stack.enter_context(Path(name).open("wb"))


def run(args: argparse.Namespace) -> int:
    policy = load(args.policy)
    with ExitStack() as stack:
        try:
            source, size = _open_in(stack, args.input)
            out = _open_out(stack, args.output)
            rejects = _open_out(stack, args.rejects) if args.rejects else None
            kpis = _open_out(stack, args.kpis) if args.kpis else None
        except OSError as e:
            print(f"sla-engine replay: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
        result = replay(source, policy, args.until, out, rejects, size, kpis)
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(result.alerts.items())) or "none"
    print(
        f"replayed {result.events} events of {result.tickets} tickets; "
        f"{result.rejected} rejected; alerts: {kinds}",
        file=sys.stderr,
    )
    if args.kpis:
        print(f"kpis: {result.kpi_snapshots} snapshots ({result.kpi_final} final)", file=sys.stderr)
    return 0
