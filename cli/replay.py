"""`sla-engine replay`: evaluate ticket events with the stream-time clock, from a file or from a
time range of the events topic. Both sources go through `evaluate`, the one replay loop."""

from __future__ import annotations

import argparse
import gc
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from cli.kafka_range import RangeError, RangeStats, TopicRecord, stream_range
from cli.spill import Spill
from config.loader import load
from config.model import parse_duration
from engine.collector import held
from engine.history import from_model
from engine.instant import iso, to_us
from engine.kpis import KpiStore, contributions
from engine.processor import Processor
from engine.rules import RuntimePolicy
from engine.status import ticket_status
from schemas.parse import InvalidEvent, parse_event
from schemas.redact import redact


@dataclass
class ReplayResult:
    events: int = 0
    rejected: int = 0
    alerts: Counter[str] = field(default_factory=Counter)  # written, by kind
    withheld: int = 0  # emitted by the engine, not written (see `Emit`)
    tickets: int = 0
    headless: set[str] = field(default_factory=set)  # first event read was not `created`
    kpi_snapshots: int = 0
    kpi_final: int = 0
    untargeted: Counter[str] = field(default_factory=Counter)  # cycles no target matched
    first_rejects: list[str] = field(default_factory=list)  # "line 3: reason", the first few


FIRST_REJECTS = 3  # reasons the summary shows when no --rejects file keeps them all


@dataclass(frozen=True, slots=True)
class Record:
    """One input message: its bytes, where it came from (for rejects) and, from a topic, when
    it was published (record timestamp, µs)."""

    raw: bytes
    where: dict[str, Any]  # {"line": n} or {"topic", "partition", "offset"}
    arrived: int | None = None


# An alert the engine emitted, with the publication time (µs) of the last event of its ticket
# read so far (None from a file); True when it was written out, False when withheld.
Emit = Callable[[dict[str, Any], int | None], bool]


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


def reject_record(where: dict[str, Any], reason: str, raw: bytes) -> dict[str, Any]:
    """A line of the rejects file: the reason and the bytes, customer name and contact redacted."""
    text = redact(raw.rstrip(b"\r\n"))
    try:
        return {**where, "reason": reason, "raw": text.decode("utf-8")}
    except UnicodeDecodeError:
        import base64

        return {
            **where,
            "reason": reason,
            "raw": base64.b64encode(text).decode(),
            "raw_encoding": "base64",
        }


@held()  # no full collections over the tickets held (measured: README, performance)
def evaluate(
    records: Iterable[Record],
    policy: RuntimePolicy,
    until: int | None,
    emit: Emit,
    reject: Callable[[Record, str], None] | None = None,
    result: ReplayResult | None = None,
    parked: MutableMapping[str, bytes] | None = None,
    max_skew_us: int | None = None,
) -> tuple[ReplayResult, Processor]:
    """The replay loop: every record through the engine in the order given, the clock being
    stream time (`Processor`); at the end the clock advances to `until`. Every alert goes to
    `emit`, every invalid record to `reject`; so is an event more than `max_skew_us` ahead of
    its record timestamp (topic records only: a far-future event would move the stream clock
    and fire every open ticket's timers). `parked`: where closed tickets wait (`Processor`)."""
    proc = Processor(policy, parked=parked)
    result = result if result is not None else ReplayResult()
    arrivals: dict[str, int] = {}
    for rec in records:
        try:
            event = parse_event(rec.raw)
        except InvalidEvent as e:
            result.rejected += 1
            if len(result.first_rejects) < FIRST_REJECTS:
                result.first_rejects.append(f"{_where(rec.where)}: {e.reason}")
            if reject is not None:
                reject(rec, e.reason)
            continue
        if max_skew_us is not None and rec.arrived is not None:
            at = to_us(event.occurred_at)
            if at > rec.arrived + max_skew_us:
                result.rejected += 1
                if reject is not None:
                    reject(rec, _ahead(at, max_skew_us))
                continue
        result.events += 1
        ticket_id = event.ticket_id
        if event.type != "created" and not proc.knows(ticket_id):
            result.headless.add(ticket_id)
        if rec.arrived is not None:
            arrivals[ticket_id] = rec.arrived
        for alert in proc.ingest(ticket_id, from_model(event)):
            _count(result, alert, emit(alert, arrivals.get(alert["ticket_id"])))
        if parked is not None and ticket_id not in proc.tickets:
            arrivals.pop(ticket_id, None)  # parked: its next alert follows its next event
    if until is not None:
        for alert in proc.advance(until):
            _count(result, alert, emit(alert, arrivals.get(alert["ticket_id"])))
    result.tickets = proc.count()
    return result, proc


def _where(where: dict[str, Any]) -> str:
    if "line" in where:
        return f"line {where['line']}"
    return f"{where.get('topic')}[{where.get('partition')}] offset {where.get('offset')}"


def reject_hint(result: ReplayResult, kept: bool) -> str:
    """The first reject reasons and where to find them all, when no --rejects file keeps them."""
    if not result.rejected or kept:
        return ""
    lines = [f"  {r}" for r in result.first_rejects]
    more = result.rejected - len(result.first_rejects)
    if more > 0:
        lines.append(f"  … and {more} more")
    lines.append("  --rejects FILE keeps every rejected record with its reason and raw bytes")
    return "\n" + "\n".join(lines)


MAX_SKEW_S = 300.0  # the worker's --max-skew default


def _ahead(at: int, max_skew_us: int) -> str:
    return (
        f"occurred_at {datetime.fromtimestamp(at / 1e6, UTC).isoformat()} is more than "
        f"--max-skew {max_skew_us / 1e6:g} s ahead of its record timestamp"
    )


def _count(result: ReplayResult, alert: dict[str, Any], written: bool) -> None:
    if written:
        result.alerts[alert["kind"]] += 1
    else:
        result.withheld += 1


def replay(
    source: IO[bytes],
    policy: RuntimePolicy,
    until: int | None,
    out: IO[bytes],
    rejects: IO[bytes] | None,
    total_bytes: int | None = None,
    kpis: IO[bytes] | None = None,
    status: IO[bytes] | None = None,
) -> ReplayResult:
    """Feed every line through the engine in file order; write alerts and rejects as JSONL.
    With `kpis`, write the final KPI snapshot of every window (see `write_kpis`); with
    `status`, every ticket's final status (see `write_status`)."""
    write = out.write

    def emit(alert: dict[str, Any], arrived: int | None) -> bool:
        write(orjson.dumps(alert) + b"\n")
        return True

    lines = (
        Record(raw, {"line": n})
        for n, raw in enumerate(_lines(source, total_bytes), 1)
        if raw.strip()
    )
    result, proc = evaluate(lines, policy, until, emit, _rejects_to(rejects))
    for ticket in proc.tickets.values():
        result.untargeted.update(clock for clock, _, _ in ticket.state.untargeted)
    if kpis is not None:
        result.kpi_snapshots, result.kpi_final = write_kpis(proc, kpis)
    if status is not None:
        write_status(proc, status)
    return result


def write_status(proc: Processor, out: IO[bytes]) -> int:
    """Every ticket's SLA status at the final stream-time clock, one `TicketStatus` a line by
    ticket id: what the live worker last published on `sla.status` for it, had it seen the
    same events by that instant (`engine.status`)."""
    for ticket_id in sorted(proc.tickets):
        out.write(orjson.dumps(ticket_status(proc.tickets[ticket_id], proc.clock)) + b"\n")
    return len(proc.tickets)


def _rejects_to(out: IO[bytes] | None) -> Callable[[Record, str], None] | None:
    if out is None:
        return None

    def reject(rec: Record, reason: str) -> None:
        out.write(orjson.dumps(reject_record(rec.where, reason, rec.raw)) + b"\n")

    return reject


def _ms_at_or_after(us: int) -> int:
    """The first whole millisecond (record timestamps are ms) at or after an instant in µs."""
    return -(-us // 1000)


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
    rejects: Callable[[Record, str], None] | None = None,
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
        bootstrap, topic, _ms_at_or_after(since - lookback), _ms_at_or_after(end), timeout=timeout
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

    _, proc = evaluate(
        topic_records(topic, records),
        policy,
        end,
        emit,
        rejects,
        result,
        parked=parked,
        max_skew_us=max_skew_us,
    )
    run.knows = proc.knows
    return run


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


def duration(text: str) -> int:
    """`90s`, `15m`, `4h`, `2d` or seconds, in µs (argparse type; the policy's syntax)."""
    try:
        return parse_duration(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def add_range_arguments(p: argparse.ArgumentParser) -> None:
    """--broker, --from, --to, --lookback: shared by `replay --topic` and `audit`."""
    import os

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


def _open_in(stack: ExitStack, name: str) -> tuple[IO[bytes], int | None]:
    if name == "-":
        return sys.stdin.buffer, None
    path = Path(name)
    return stack.enter_context(path.open("rb")), path.stat().st_size


def _open_out(stack: ExitStack, name: str) -> IO[bytes]:
    if name == "-":
        return sys.stdout.buffer
    return stack.enter_context(Path(name).open("wb"))


def _alert_counts(result: ReplayResult) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(result.alerts.items())) or "none"


def run(args: argparse.Namespace) -> int:
    if args.topic is not None:
        return run_topic(args)
    if args.since is not None or args.until_ is not None:
        print("sla-engine replay: --from/--to go with --topic (a file: --until)", file=sys.stderr)
        return 2
    policy = load(args.policy)
    with ExitStack() as stack:
        try:
            source, size = _open_in(stack, args.input)
            out = _open_out(stack, args.output)
            rejects = _open_out(stack, args.rejects) if args.rejects else None
            kpis = _open_out(stack, args.kpis) if args.kpis else None
            status = _open_out(stack, args.status) if args.status else None
        except OSError as e:
            print(f"sla-engine replay: {e.filename}: {e.strerror}", file=sys.stderr)
            return 2
        result = replay(source, policy, args.until, out, rejects, size, kpis, status)
    print(
        f"replayed {result.events} events of {result.tickets} tickets; "
        f"{result.rejected} rejected; alerts: {_alert_counts(result)}"
        f"{reject_hint(result, bool(args.rejects))}",
        file=sys.stderr,
    )
    if args.kpis:
        print(f"kpis: {result.kpi_snapshots} snapshots ({result.kpi_final} final)", file=sys.stderr)
    if result.untargeted:
        counts = ", ".join(f"{c} {n}" for c, n in sorted(result.untargeted.items()))
        print(f"clock cycles no target matched (not tracked): {counts}", file=sys.stderr)
    return 0


def run_topic(args: argparse.Namespace) -> int:
    from cli.live import need_broker

    problem = check_range(args, "replay")
    if problem is None and args.until is not None:
        problem = "sla-engine replay: with --topic the clock advances to --to; drop --until"
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
            out = _open_out(stack, args.output)
            rejects = _open_out(stack, args.rejects) if args.rejects else None
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
                _rejects_to(rejects),
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
        f"replayed {r.events} events of {r.tickets} tickets; {r.rejected} rejected; "
        f"{len(r.headless)} tickets started before the look-back ({done.left_out} of their "
        f"alerts left out); alerts due in [{iso(since)}, {iso(until)}): {_alert_counts(r)} "
        f"({done.outside} due outside)"
    )
