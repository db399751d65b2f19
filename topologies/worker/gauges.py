"""The worker's slower gauges: open and at-risk clocks, consumer lag, state size."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kafka_io.admin import end_offsets
from topologies import metrics
from topologies.worker.partition_state import PartitionState

log = logging.getLogger("sla.worker")


async def clock_gauges(state: PartitionState, now: int, chunk: int = 2_000) -> None:
    """Open and at-risk clocks by clock and priority, over the decoded tickets in memory.

    The walk over the cache (up to `cache_tickets`, ~5 µs a ticket) yields to the event
    loop every `chunk` tickets, so the agents and the timer scan are never held up for
    more than ~10 ms by it; the gauges are set once the walk is done."""
    open_: Counter[tuple[str, str]] = Counter()
    risk: Counter[tuple[str, str]] = Counter()
    tickets = list(state.cache.values())  # the cache changes while the walk yields
    for start in range(0, len(tickets), chunk):
        if start:
            await asyncio.sleep(0)
        for ticket in tickets[start : start + chunk]:
            priority = ticket.state.attrs.get("priority") or ""
            for clock, at_risk in ticket.state.open_clocks(now):
                open_[(clock, priority)] += 1
                risk[(clock, priority)] += at_risk
    for name in state.policy.clock_names():  # every version's clocks
        for priority in ("A", "B", "C"):
            key = (name, priority)
            metrics.OPEN_CLOCKS.labels(*key).set(open_[key])
            metrics.AT_RISK.labels(*key).set(risk[key])


async def consumer_lag(
    bootstrap: str, tps: list[Any], committed: Mapping[Any, int | None], position: Mapping[int, int]
) -> None:
    """`sla_consumer_lag` of every assigned events partition: its true end offset (read
    from the broker, right on tansu too) minus the next offset to process (the last one
    processed + 1, or the committed offset while none was). Not from the messages read:
    a partition that delivers nothing must not read 0 (issue 11, 2)."""
    if not tps:
        return
    try:
        ends = await asyncio.get_running_loop().run_in_executor(
            None, end_offsets, bootstrap, [(tp.topic, tp.partition) for tp in tps]
        )
    except Exception as e:  # the broker is unreachable: keep the last values
        log.warning("consumer lag not refreshed: %s", e)
        return
    for tp in tps:
        next_offset = position.get(tp.partition)
        if next_offset is None:
            next_offset = committed.get(tp) or 0
        lag = max(ends[(tp.topic, tp.partition)] - next_offset, 0)
        metrics.CONSUMER_LAG.labels(str(tp.partition)).set(lag)


def state_bytes(data_dir: Path) -> int:
    """Bytes under the worker's data directory (tables and timer indexes)."""
    return sum(f.stat().st_size for f in data_dir.rglob("*") if f.is_file())
