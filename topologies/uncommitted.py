"""Seek stream partitions that have no committed offset back to their earliest offset.

Faust's fetcher drops records it fetched when the flow stops (a rebalance, the table recovery)
or a partition is not active yet, and then seeks every partition back to its committed offset
(`Consumer.perform_seek`), as it does once more when the recovery ends. A partition with no
committed offset is left where the dropped fetch moved it: its records are never delivered.
Measured on Apache Kafka and tansu: a worker recovering into an empty data dir after its
predecessor was killed before its first commit processed none of the 336 waiting events in about
half the runs (issue 12, the flaky SIGKILL test). `auto_offset_reset=earliest` means such a
partition starts at its earliest offset: this seeks it there after each `perform_seek`.
"""

from __future__ import annotations

from typing import Any

from topologies.faust_internals import committed_offsets

_applied = False


def apply() -> None:
    """Patch Faust's consumer once per process."""
    global _applied
    if _applied:
        return
    from faust.transport.consumer import Consumer

    seek_to_committed = Consumer.perform_seek

    async def perform_seek(self: Any) -> None:
        await seek_to_committed(self)
        changelogs = set(self.app.tables.changelog_topics)
        uncommitted = [
            tp
            for tp in self.assignment()
            if tp.topic not in changelogs and committed_offsets(self).get(tp) is None
        ]
        if not uncommitted:
            return
        earliest = await self.earliest_offsets(*uncommitted)
        for tp in uncommitted:
            await self.seek(tp, earliest.get(tp) or 0)

    Consumer.perform_seek = perform_seek  # type: ignore[method-assign]
    _applied = True
