"""The safety net under at-least-once commits: a partition whose commit is held by an ack gap.

Faust commits a partition only up to its first offset never acknowledged, and not at all while
the lowest acknowledged offset is more than one above the committed one (`Consumer._new_offset`).
Records that are never delivered or never acked right after the committed offset (the restart
stall of issue 11, 2; see `topologies.worker.stale_fetch`) thus hold the commit for good, while
the records after them are processed. `CommitGaps.check` runs every few seconds: a gap seen in
two checks in a row, with the same committed offset, while the worker is ready, is counted
(`sla_commit_gaps_total`), logged, and repaired by seeking the partition back to its committed
offset, so the records of the gap are read again (the engine ignores the repeats by event id).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from topologies import metrics
from topologies.faust_internals import acked_offsets, committed_offsets

log = logging.getLogger("sla.worker")


def held(
    tps: Iterable[Any], committed: Mapping[Any, int | None], acked: Mapping[Any, list[int]]
) -> dict[Any, tuple[int, int]]:
    """The partitions Faust cannot commit now: tp -> (committed offset, lowest acked offset),
    Faust's own test (a committed offset of 0 or None never holds: Faust skips the test)."""
    out: dict[Any, tuple[int, int]] = {}
    for tp in tps:
        offset = committed.get(tp)
        done = acked.get(tp)
        if offset and done:
            lowest = min(done)
            if lowest - offset > 1:
                out[tp] = (offset, lowest)
    return out


class CommitGaps:
    """Watches the stream partitions' commits for gaps that hold them (see the module)."""

    def __init__(self) -> None:
        self.seen: dict[Any, tuple[int, int]] = {}

    def due(
        self,
        tps: Iterable[Any],
        committed: Mapping[Any, int | None],
        acked: Mapping[Any, list[int]],
        ready: bool,
    ) -> dict[Any, tuple[int, int]]:
        """The gaps to repair now: held in this check and the previous one at the same committed
        offset, the worker ready (a recovery or rebalance resets the watch)."""
        now = held(tps, committed, acked) if ready else {}
        due = {tp: gap for tp, gap in now.items() if self.seen.get(tp, (None,))[0] == gap[0]}
        self.seen = {tp: gap for tp, gap in now.items() if tp not in due}
        return due

    async def check(self, consumer: Any, tps: Iterable[Any], ready: bool) -> int:
        """Repair the due gaps of `tps` on Faust's consumer; returns how many. Every watched
        partition's counter exists from its first check (at 0), so a dashboard shows 0, not
        no data."""
        tps = list(tps)
        for tp in tps:
            metrics.COMMIT_GAPS.labels(tp.topic, str(tp.partition))
        due = self.due(tps, committed_offsets(consumer), acked_offsets(consumer), ready)
        for tp, (offset, lowest) in due.items():
            metrics.COMMIT_GAPS.labels(tp.topic, str(tp.partition)).inc()
            log.warning(
                "%s partition %d: commit held at offset %d, offsets %d-%d were never "
                "acknowledged; reading the partition again from %d",
                tp.topic,
                tp.partition,
                offset,
                offset,
                lowest - 1,
                offset,
            )
            await consumer.seek(tp, offset)
        return len(due)
