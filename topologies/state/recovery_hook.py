"""Faust's table recovery with the bulk restore (`topologies.state.restore`) run first.

Where: `Recovery._build_offsets` (private; faust/tables/recovery.py, faust-streaming 0.15.3),
where Faust's recovery task, after it has built the active changelog partitions' highwaters,
decides the offset each is read from. `FastRecovery` runs the bulk restore there, up to those
highwaters, then raises the offsets to what it wrote: Faust's own recovery reads nothing, or
only a tail, and completes as usual (`on_recover` callbacks, the streams resumed).

Why not the store's `on_rebalance` (also awaited before recovery): it runs inside the group's
rebalance callback, during which aiokafka sends no heartbeat (`_on_join_complete` awaits the
listener before the heartbeat task restarts), so a restore longer than the session timeout (6 s)
would lose the group. The recovery task runs after the callback: the restore runs in a thread,
the event loop stays free, Faust's consumer thread heartbeats. It stops between batches when
partitions are revoked, and after a time budget well inside Faust's `broker_request_timeout`
(a step that outlasts it ends Faust's recovery service); what is left, Faust reads.

The tickets table's restore also collects each partition's timer entries in the same pass
(`restore.timer_entries`); `timer_items` hands them to `PartitionState.rebuild` when every active
partition was restored from an empty DB and Faust read nothing after, else the rebuild scans the
table as before.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from threading import Event
from typing import Any

from faust.tables.manager import TableManager
from faust.tables.recovery import Recovery
from faust.types import TP

from topologies.state import restore
from topologies.state.rocksdb import partition_db

log = logging.getLogger("sla.restore")


@dataclass
class TableRestore:
    """One table restored in bulk; `timers`: collect the tickets' timer entries too."""

    table: Any
    timers: bool = False
    entries: dict[int, dict[bytes, int]] | None = None
    observe: restore.Observe | None = None
    jobs: list[restore.Job] = field(default_factory=list)  # of the last round
    fresh: bool = False  # the last round started every active partition on an empty DB


class FastRestore:
    """The bulk restore of an app's tables, run by `FastRecovery` at every recovery."""

    def __init__(self, bootstrap: str, budget_s: float = 60.0) -> None:
        self.bootstrap = bootstrap
        self.budget_s = budget_s
        self.tables: dict[str, TableRestore] = {}  # by changelog topic
        self.stop = Event()
        self.running: asyncio.Future[restore.Outcome] | None = None
        self.reading: list[restore.Job] = []  # the jobs of a restore in progress

    def remaining(self) -> int:
        """Changelog offsets the restore in progress has still to read (0: none running); read
        from another thread while the restore advances `Job.last` (the status line's bar)."""
        return sum(j.end - max(j.last, j.start - 1) for j in self.reading if not j.done)

    def add(self, table: Any, timers: bool = False) -> None:
        self.tables[table.changelog_topic.get_topic_name()] = TableRestore(table, timers)

    def revoked(self) -> None:
        """Partitions are being revoked: a restore in progress stops after its batch."""
        self.stop.set()

    def _jobs(self, tps: set[TP], highwaters: Any) -> list[restore.Job]:
        for tr in self.tables.values():
            tr.jobs, tr.fresh, tr.entries, tr.observe = [], True, None, None
            if tr.timers:
                tr.entries, tr.observe = restore.timer_entries()
        for tp in sorted(tps):
            found = self.tables.get(tp.topic)
            if found is None:
                continue
            tr = found
            db = partition_db(tr.table, tp.partition)
            persisted = tr.table.persisted_offset(tp)
            empty = persisted is None and next(iter(db.keys()), None) is None
            tr.fresh = tr.fresh and empty
            end = highwaters.get(tp)
            job = restore.Job(
                tp.topic,
                tp.partition,
                db,
                0 if persisted is None else persisted + 1,
                -1 if end is None else int(end),
                tr.table.data.offset_key,
                tr.observe if empty else None,
            )
            tr.jobs.append(job)
        return [j for tr in self.tables.values() for j in tr.jobs]

    async def run(self, tps: set[TP], highwaters: Any, offsets: Any) -> None:
        """Restore the tables' active partitions `tps` up to `highwaters` (Faust's: last offset),
        then raise Faust's start `offsets` to what was written."""
        if self.running is not None and not self.running.done():
            self.stop.set()
            await asyncio.wait([self.running])
        self.stop = Event()
        jobs = self._jobs(tps, highwaters)
        if not jobs:
            return
        log.info(
            "bulk restore: reading up to %d changelog records into %d partitions",
            sum(max(0, j.end - j.start + 1) for j in jobs),
            len(jobs),
        )
        loop = asyncio.get_running_loop()
        self.reading = jobs
        self.running = loop.run_in_executor(
            None, restore.restore, self.bootstrap, jobs, self.stop, self.budget_s
        )
        try:
            outcome = await asyncio.shield(self.running)
            self.reading = []
        except asyncio.CancelledError:
            self.stop.set()  # another rebalance: the thread stops after its batch,
            # then lets go of the DB handles (a kept one fails Faust's reopen)
            self.running.add_done_callback(lambda _: self._release(jobs))
            raise
        except Exception as exc:
            self.reading = []
            log.warning("bulk restore failed (%s); Faust's recovery reads the rest", exc)
            self._raise_offsets(jobs, offsets)
            for tr in self.tables.values():
                tr.fresh = False
            return
        self._raise_offsets(jobs, offsets)
        log.info(
            "bulk restore: %d changelog records into %d partitions in %.1f s%s",
            outcome.records,
            len(jobs),
            outcome.seconds,
            "" if outcome.complete else " (stopped early: Faust's recovery reads the rest)",
        )

    @staticmethod
    def _release(jobs: list[restore.Job]) -> None:
        """Drop the partitions' RocksDB handles: Faust closes a revoked partition's DB only by
        dropping its own reference, so a handle kept here would fail its next open."""
        for job in jobs:
            job.db = None

    @staticmethod
    def _raise_offsets(jobs: list[restore.Job], offsets: Any) -> None:
        """Let go of the partitions' RocksDB handles (`_release`: "lock hold by current process"
        otherwise), then raise Faust's start offsets to what the restore wrote."""
        FastRestore._release(jobs)
        for job in jobs:
            tp = TP(job.topic, job.partition)
            if job.last >= 0 and (offsets.get(tp) is None or offsets[tp] < job.last):
                offsets[tp] = job.last

    def timer_items(self, table: Any) -> dict[int, dict[bytes, int]] | None:
        """The timer index items per partition collected by the last restore of `table`, when
        they are the whole table: every active partition restored from an empty DB to its end
        and nothing applied after (the persisted offset is the restore's); None: scan it."""
        tr = self.tables.get(table.changelog_topic.get_topic_name())
        if tr is None or tr.entries is None or not tr.fresh:
            return None
        entries, tr.entries = tr.entries, None
        for job in tr.jobs:
            persisted = table.persisted_offset(TP(job.topic, job.partition))
            if not job.done or persisted != (job.last if job.last >= 0 else None):
                return None
        return {p: entries.get(p, {}) for p in (j.partition for j in tr.jobs)}


_RESTORES: weakref.WeakKeyDictionary[Any, FastRestore] = weakref.WeakKeyDictionary()


def install(app: Any, fast: FastRestore) -> None:
    """Run `fast` in `app`'s recoveries (the app must have been made with
    `TableManager=FastTableManager`); it stops when partitions are revoked."""
    _RESTORES[app] = fast

    async def on_revoked(app_: Any, *args: Any, **kwargs: Any) -> None:
        fast.revoked()

    app.on_partitions_revoked.connect(on_revoked)


def timer_items_of(app: Any, table: Any) -> dict[int, dict[bytes, int]] | None:
    """`FastRestore.timer_items` of `app`'s bulk restore (None without one)."""
    fast = _RESTORES.get(app)
    return None if fast is None else fast.timer_items(table)


class FastRecovery(Recovery):
    """Faust's recovery, the bulk restore first (see the module docstring)."""

    def bulk_remaining(self) -> int:
        """Changelog records a bulk restore in progress has still to read (0: none running)."""
        fast = _RESTORES.get(self.app)
        return 0 if fast is None else fast.remaining()

    async def _build_offsets(self, consumer: Any, tps: Any, destination: Any, title: str) -> None:
        fast = _RESTORES.get(self.app)
        if fast is not None and title == "active" and tps:
            await fast.run(set(tps), self.active_highwaters, destination)
        await super()._build_offsets(consumer, tps, destination, title)


class FastTableManager(TableManager):
    """Faust's table manager with `FastRecovery` (the app setting `TableManager`)."""

    @property
    def recovery(self) -> Recovery:
        if self._recovery is None:
            self._recovery = FastRecovery(self.app, self, beacon=self.beacon, loop=self.loop)
        return self._recovery
