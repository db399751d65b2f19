"""Input records into the replay pipeline (`engine.replay`): decoding, rejects and counts.

`evaluate` is the records' side of every replay command (`replay` from a file or a topic,
`explain`, `accountability`, `whatif`, `audit`, `bench core`): each record is decoded
(`schemas.parse`); an invalid one, or a topic record whose event is more than `max_skew_us`
ahead of its record timestamp, is counted and handed to `reject` (a `schemas.reject.Rejected`
line of the rejects file); every event goes through the one pipeline, every alert to `emit`.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from engine.collector import held
from engine.history import Ev, decoded
from engine.replay import Replay
from engine.rules import RuntimePolicy
from schemas.parse import InvalidEvent
from schemas.reject import Rejected


@dataclass
class ReplayResult:
    events: int = 0
    rejected: int = 0
    alerts: Counter[str] = field(default_factory=Counter)  # written, by kind
    withheld: int = 0  # emitted by the engine, not written (see `Emit`)
    tickets: int = 0
    most_in_memory: int = 0  # the most tickets held in memory at once (the rest parked)
    headless: set[str] = field(default_factory=set)  # first event read was not `created`
    kpi_snapshots: int = 0
    kpi_final: int = 0
    untargeted: Counter[str] = field(default_factory=Counter)  # cycles no target matched
    first_rejects: list[str] = field(default_factory=list)  # "line 3: reason", the first few


FIRST_REJECTS = 3  # reasons the summary shows when no --rejects file keeps them all
MAX_SKEW_S = 300.0  # the worker's --max-skew default


class Record(NamedTuple):
    """One input message: its bytes, where it came from (for rejects) and, from a topic, when
    it was published (record timestamp, µs). A tuple: one is made per line."""

    raw: bytes
    where: dict[str, Any]  # {"line": n} or {"topic", "partition", "offset"}
    arrived: int | None = None


# An alert the engine emitted, with the publication time (µs) of the last event of its ticket
# read so far (None from a file); True when it was written out, False when withheld.
Emit = Callable[[dict[str, Any], int | None], bool]
Reject = Callable[[Record, str], None]


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


def line_records(lines: Iterable[bytes]) -> Iterator[Record]:
    """The non-blank lines of a file as records (`where`: the line number)."""
    # `raw.strip()` without its copy of the line: both go by the same ASCII whitespace
    return (
        tuple.__new__(Record, (raw, {"line": n}, None))  # Record(raw, ...): see `engine.history.Ev`
        for n, raw in enumerate(lines, 1)
        if raw and not raw.isspace()
    )


def file_records(stream: IO[bytes], total_bytes: int | None = None) -> Iterator[Record]:
    """`line_records` of a file, with a progress bar on a terminal when it is large."""
    return line_records(_lines(stream, total_bytes))


def file_lines(name: str) -> Iterator[bytes]:
    """Lines of a file, or of stdin for '-'."""
    if name == "-":
        yield from sys.stdin.buffer
        return
    with Path(name).open("rb") as f:
        yield from f


def decode(
    records: Iterable[Record],
    result: ReplayResult,
    reject: Reject | None = None,
    max_skew_us: int | None = None,
) -> Iterator[tuple[str, Ev, int | None]]:
    """The valid events of `records` as (ticket id, event, record timestamp); every invalid
    record is counted in `result` and handed to `reject`; so is an event more than
    `max_skew_us` ahead of its record timestamp (topic records only: a far-future event would
    move the stream clock and fire every open ticket's timers)."""
    for rec in records:
        try:
            ticket_id, ev = decoded(rec.raw)
        except InvalidEvent as e:
            result.rejected += 1
            if len(result.first_rejects) < FIRST_REJECTS:
                result.first_rejects.append(f"{_where(rec.where)}: {e.reason}")
            if reject is not None:
                reject(rec, e.reason)
            continue
        at = ev.at
        if max_skew_us is not None and rec.arrived is not None and at > rec.arrived + max_skew_us:
            result.rejected += 1
            if reject is not None:
                reject(rec, _ahead(at, max_skew_us))
            continue
        yield ticket_id, ev, rec.arrived


@held()  # no full collections over the tickets held (measured: README, performance)
def evaluate(
    records: Iterable[Record],
    policy: RuntimePolicy,
    until: int | None,
    emit: Emit,
    reject: Reject | None = None,
    result: ReplayResult | None = None,
    parked: MutableMapping[str, bytes] | None = None,
    max_skew_us: int | None = None,
) -> tuple[ReplayResult, Replay]:
    """Every record through the replay pipeline in the order given (`decode`, then
    `engine.replay.Replay`); at the end the clock advances to `until`. Every alert goes to
    `emit` with its ticket's last record timestamp; `parked`: where idle tickets wait."""
    result = result if result is not None else ReplayResult()
    run = Replay.start(policy, parked, result.headless)
    feed, arrival, kinds = run.feed, run.arrival, result.alerts
    for ticket_id, ev, arrived in decode(records, result, reject, max_skew_us):
        for alert in feed(ticket_id, ev, arrived):
            if emit(alert, arrival(alert["ticket_id"])):  # `_count`, inline: once an alert
                kinds[alert["kind"]] += 1
            else:
                result.withheld += 1
    for alert in run.finish(until):
        _count(result, alert, emit(alert, run.arrival(alert["ticket_id"])))
    result.events = run.events
    result.tickets = run.count()
    result.most_in_memory = run.processor.most
    return result, run


def _count(result: ReplayResult, alert: dict[str, Any], written: bool) -> None:
    if written:
        result.alerts[alert["kind"]] += 1
    else:
        result.withheld += 1


def _where(where: dict[str, Any]) -> str:
    if "line" in where:
        return f"line {where['line']}"
    return f"{where.get('topic')}[{where.get('partition')}] offset {where.get('offset')}"


def _ahead(at: int, max_skew_us: int) -> str:
    return (
        f"occurred_at {datetime.fromtimestamp(at / 1e6, UTC).isoformat()} is more than "
        f"--max-skew {max_skew_us / 1e6:g} s ahead of its record timestamp"
    )


def rejected(rec: Record, reason: str) -> Rejected:
    """A record that could not be used, as the one reject model."""
    return Rejected(reason, rec.raw, **rec.where)


def rejects_to(out: IO[bytes] | None) -> Reject | None:
    """Rejects written to `out` as JSONL (`Rejected.file_line`), or None without a file."""
    if out is None:
        return None

    def reject(rec: Record, reason: str) -> None:
        out.write(orjson.dumps(rejected(rec, reason).file_line()) + b"\n")

    return reject


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


def alert_counts(result: ReplayResult) -> str:
    """The alerts written, by kind, for a summary line."""
    return ", ".join(f"{k} {v}" for k, v in sorted(result.alerts.items())) or "none"
