"""The "live" alerts of `bench audit`: the replay of the prepared range, split by ticket over
worker processes so that a month of a large centre is replayed on every core.

The replay is the one `replay --topic` of the range does (`engine.replay.Replay`): the events
in the audit's order, stream time their `occurred_at`, each record's timestamp its arrival.
Sharding it does not change an alert: every shard sees every event's instant and moves its
clock with it (`Processor.advance`), so a shard's timers fire at the very instants they fire in
one replay of everything; only its own tickets' events go through the engine. A ticket's
alerts depend on its own events and those instants alone (their ids are content hashes).

Each shard keeps its alerts, stamped with when a live engine publishes them (`detected_at`:
150 ms after they could be known), in a SQLite file; `records` merges the shards' files in
publication order (detection instant, then the event that emitted them, ticket, emission) and
withholds every `drop_every`-th standing decision.
"""

from __future__ import annotations

import heapq
import multiprocessing
import sqlite3
import tempfile
from array import array
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import orjson

from engine.audit import us
from engine.instant import iso

DELAY_US = 150_000  # the "live" engine's delay after an alert could be known
GRACE_US = 600_000_000
IDLE = 50_000  # idle tickets a shard keeps in memory before parking (the audit keeps 2,000)
_BATCH = 4_096  # events a message to a shard

_SCHEMA = """CREATE TABLE live (knowable INTEGER, n INTEGER, ticket_id TEXT, seq INTEGER,
                                alert_id TEXT, standing INTEGER, retracts TEXT, body BLOB)"""


class Shard:
    """One shard's replay: its tickets' events through the engine, every event's instant on its
    clock; its alerts in `db` (a SQLite file)."""

    def __init__(self, since: int, until: int, db: Path) -> None:
        from config.loader import load
        from engine.replay import Replay
        from offline.spill import Spill

        self.since, self.until = since, until
        self.spill = Spill(str(db.parent))
        self.run = Replay.start(load(None), parked=self.spill.parked)
        self.run.processor.idle = IDLE  # parking changes no alert, only memory and time
        self.db = sqlite3.connect(db, isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute(_SCHEMA)
        self.db.execute("BEGIN")
        self.n = 0  # the event being fed (its index in the audit's order)
        self.seq = 0

    def feed(self, at_us: int, raw: bytes | None) -> None:
        """The next event in the audit's order: its instant, and its bytes if it is ours."""
        from engine.history import from_model
        from schemas.parse import parse_event

        if raw is None:
            self._keep(self.run.processor.advance(at_us))
        else:
            event = parse_event(raw)
            ev = from_model(event)
            self._keep(self.run.feed(event.ticket_id, ev, at_us // 1000 * 1000))
        self.n += 1

    def finish(self) -> None:
        """The end of the range: the timers due by `until + grace` fire; the file is complete."""
        self._keep(self.run.finish(self.until + GRACE_US))
        self.db.execute("COMMIT")
        self.db.close()
        self.spill.close()

    def _keep(self, alerts: list[dict[str, Any]]) -> None:
        rows = []
        for alert in alerts:
            due = us(alert["due_at"])
            if not self.since <= due < self.until:
                continue
            ticket_id = alert["ticket_id"]
            arrived = self.run.arrival(ticket_id)
            detected = max(due, arrived or due) + DELAY_US
            kind = alert["kind"]
            body = orjson.dumps(alert | {"detected_at": iso(detected)})
            self.seq += 1
            row = (detected, self.n, ticket_id, self.seq, alert["alert_id"],
                   kind != "retraction", alert.get("retracts"), body)  # fmt: skip
            rows.append(row)
        if rows:
            self.db.executemany("INSERT INTO live VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _serve(conn: Connection, since: int, until: int, db: str) -> None:
    """A shard process: batches of (instants, [(index, bytes) of ours]) until None."""
    shard = Shard(since, until, Path(db))
    while (msg := conn.recv()) is not None:
        instants, own = msg
        ats = array("q")
        ats.frombytes(instants)
        mine = dict(own)
        for i, at in enumerate(ats):
            shard.feed(at, mine.get(i))
    shard.finish()
    conn.send("done")
    conn.close()


class LiveAlerts:
    """The live alerts of a range, replayed by `workers` shard processes (0: one shard in this
    process). `feed` takes the events in the audit's order; `records` yields the alerts to
    publish. A context manager (its files are deleted on exit)."""

    def __init__(self, since: int, until: int, drop_every: int, workers: int = 2) -> None:
        self.since, self.until, self.drop_every = since, until, drop_every
        self.dropped = 0
        self._dir = tempfile.TemporaryDirectory(prefix="bench-audit-live-")
        self.dbs = [Path(self._dir.name) / f"shard-{k}.sqlite" for k in range(max(workers, 1))]
        self._local = Shard(since, until, self.dbs[0]) if workers == 0 else None
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        ctx = multiprocessing.get_context("spawn")  # not fork: the caller may hold a producer
        for db in self.dbs if workers else []:
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(theirs, since, until, str(db)), daemon=True)
            proc.start()
            theirs.close()
            self._conns.append(ours)
            self._procs.append(proc)
        self._ats = array("q")
        self._own: list[list[tuple[int, bytes]]] = [[] for _ in self._conns]

    def __enter__(self) -> LiveAlerts:
        return self

    def __exit__(self, *_: object) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        self._dir.cleanup()

    def feed(self, at_us: int, ticket_key: int, raw: bytes) -> None:
        """The next event in the audit's order (`ticket_key`: an int of its ticket, the shard)."""
        if self._local is not None:
            self._local.feed(at_us, raw)
            return
        self._own[ticket_key % len(self._conns)].append((len(self._ats), raw))
        self._ats.append(at_us)
        if len(self._ats) >= _BATCH:
            self._send()

    def _send(self) -> None:
        instants = self._ats.tobytes()
        for conn, own in zip(self._conns, self._own, strict=True):
            conn.send((instants, own))
        self._ats = array("q")
        self._own = [[] for _ in self._conns]

    def _finish(self) -> None:
        if self._local is not None:
            self._local.finish()
            return
        if self._ats:
            self._send()
        for conn in self._conns:
            conn.send(None)
        for conn, proc in zip(self._conns, self._procs, strict=True):
            if conn.recv() != "done":
                raise RuntimeError("a live-alert shard failed")
            proc.join()

    def records(self) -> Iterator[tuple[bytes, bytes, int, int]]:
        """End the replay; the alerts as a live engine publishes them, by detection, the
        withheld ones left out: (key, value, timestamp ms, partition -1: the key's)."""
        self._finish()
        dbs = [sqlite3.connect(db) for db in self.dbs]
        retracted: set[str] = set()
        for db in dbs:
            rows = db.execute("SELECT retracts FROM live WHERE retracts IS NOT NULL")
            retracted.update(r for (r,) in rows)
        order = (
            "SELECT knowable, n, ticket_id, seq, alert_id, standing, body FROM live"
            " ORDER BY knowable, n, ticket_id, seq"
        )
        merged = heapq.merge(*(db.execute(order) for db in dbs))
        standing = 0
        for knowable, _, ticket_id, _, alert_id, is_decision, body in merged:
            if is_decision and alert_id not in retracted:
                standing += 1
                if standing % self.drop_every == 0:
                    self.dropped += 1
                    continue
            yield ticket_id.encode(), body, knowable // 1000, -1
        for db in dbs:
            db.close()
