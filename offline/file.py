"""The whole-file replay: every line through the replay pipeline in file order, the alerts and
rejects written as JSONL, and on request the final KPI snapshots and every ticket's status
(`sla-engine replay --input`, `bench core`, the tests)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from typing import IO, Any

import orjson

from engine.kpis import KpiAggregate, contributions
from engine.replay import Replay
from engine.rules import RuntimePolicy
from engine.status import ticket_status
from offline.records import ReplayResult, evaluate, file_records, rejects_to


def replay(
    source: IO[bytes],
    policy: RuntimePolicy,
    until: int | None,
    out: IO[bytes],
    rejects: IO[bytes] | None,
    total_bytes: int | None = None,
    kpis: IO[bytes] | None = None,
    status: IO[bytes] | None = None,
    hold: Callable[[Replay], None] | None = None,
) -> ReplayResult:
    """Feed every line through the engine in file order; write alerts and rejects as JSONL.
    With `kpis`, write the final KPI snapshot of every window (see `write_kpis`); with
    `status`, every ticket's final status (see `write_status`); `hold` is handed the replay's
    state at the end (the CLI keeps it to the exit rather than free it: `cli.process_exit`)."""
    write = out.write

    def emit(alert: dict[str, Any], arrived: int | None) -> bool:
        write(orjson.dumps(alert, option=orjson.OPT_APPEND_NEWLINE))
        return True

    records = file_records(source, total_bytes)
    result, proc = evaluate(records, policy, until, emit, rejects_to(rejects))
    for ticket in proc.tickets.values():
        result.untargeted.update(clock for clock, _, _ in ticket.state.untargeted)
    if kpis is not None:
        result.kpi_snapshots, result.kpi_final = write_kpis(proc, kpis)
    if status is not None:
        write_status(proc, status)
    if hold is not None:
        hold(proc)
    return result


def write_status(proc: Replay, out: IO[bytes]) -> int:
    """Every ticket's SLA status at the final stream-time clock, one `TicketStatus` a line by
    ticket id: what the live worker last published on `sla.status` for it, had it seen the
    same events by that instant (`engine.status`)."""
    for ticket_id in sorted(proc.tickets):
        out.write(orjson.dumps(ticket_status(proc.tickets[ticket_id], proc.clock)) + b"\n")
    return len(proc.tickets)


def write_kpis(proc: Replay, out: IO[bytes]) -> tuple[int, int]:
    """Every ticket's facts as of the end of the replay, aggregated with exact percentiles at
    the final stream-time clock; one `KpiSnapshot` a line ordered by unit, window start,
    dimension and key, keys sorted: the same input gives the same bytes. Returns the number of
    snapshots and of final ones."""
    store = KpiAggregate(proc.policy, exact=True)
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
