"""Disk-backed storage for long replays and audits: a temporary SQLite file, so that a month of a
large centre's parked tickets and alerts does not have to fit in memory.

`Spill` holds three tables: parked tickets (closed, no timer: `Processor.parked`), the alerts of
both sides of an audit by ticket, and the audit's findings (read back in report order). It is
deleted when closed. SQLite is the standard library's; its page cache is capped, so memory stays
flat whatever the row count.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator, MutableMapping
from itertools import groupby
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

_SCHEMA = """
CREATE TABLE parked (ticket_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE alerts (ticket_id TEXT, side INTEGER, seq INTEGER, knowable INTEGER, body BLOB);
CREATE TABLE entries (due INTEGER, ticket_id TEXT, clock TEXT, alert_id TEXT, diff TEXT,
                      body BLOB);
"""
_COMMIT_EVERY = 20_000  # rows a transaction: few fsync-free commits, bounded journal


class Spill:
    """A temporary SQLite database (deleted on close); a context manager."""

    def __init__(self, directory: str | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="sla-engine-spill-", dir=directory)
        self.path = Path(self._dir.name) / "spill.sqlite"
        self.db = sqlite3.connect(self.path, isolation_level=None)
        for pragma in (
            "journal_mode = OFF",
            "synchronous = OFF",
            "cache_size = -4096",  # 4 MiB page cache, whatever the size of the file
            "temp_store = FILE",
        ):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.executescript(_SCHEMA)
        self.db.execute("BEGIN")
        self._writes = 0
        self._seq = 0
        self.parked = Parked(self)

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()
        self._dir.cleanup()

    def wrote(self, n: int = 1) -> None:
        """Count writes; commit every so often so the transaction stays small."""
        self._writes += n
        if self._writes >= _COMMIT_EVERY:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")
            self._writes = 0

    def add_alert(self, side: int, alert: dict[str, Any], knowable: int = 0) -> None:
        """An alert of side 0 (replay) or 1 (live), in the order announced."""
        self._seq += 1
        self.db.execute(
            "INSERT INTO alerts VALUES (?, ?, ?, ?, ?)",
            (alert["ticket_id"], side, self._seq, knowable, orjson.dumps(alert)),
        )
        self.wrote()

    def by_ticket(
        self,
    ) -> Iterator[tuple[str, list[tuple[dict[str, Any], int]], list[tuple[dict[str, Any], int]]]]:
        """(ticket, replay alerts with their knowable instant, live alerts with their side),
        ticket by ticket, each side in the order added."""
        self.db.execute("CREATE INDEX alerts_by_ticket ON alerts (ticket_id, side, seq)")
        rows = self.db.execute(
            "SELECT ticket_id, side, knowable, body FROM alerts ORDER BY ticket_id, side, seq"
        )
        for ticket_id, group in groupby(rows, key=lambda r: r[0]):
            replay: list[tuple[dict[str, Any], int]] = []
            live: list[tuple[dict[str, Any], int]] = []
            for _, side, knowable, body in group:
                if side == 0:
                    replay.append((orjson.loads(body), knowable))
                else:
                    live.append((orjson.loads(body), side))
            yield ticket_id, replay, live

    def add_entry(self, due: int, e: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
            (
                due,
                str(e.get("ticket_id")),
                str(e.get("clock")),
                str(e.get("alert_id")),
                e["diff"],
                orjson.dumps(e),
            ),
        )
        self.wrote()

    def entries(self, diffs: tuple[str, ...] | None = None) -> Iterator[bytes]:
        """The findings stored, as JSON, by (due_at, ticket, clock, alert id, class)."""
        where, args = "", list[str]()
        if diffs is not None:
            where, args = f"WHERE diff IN ({', '.join('?' * len(diffs))})", list(diffs)
        query = f"SELECT body FROM entries {where} ORDER BY due, ticket_id, clock, alert_id, diff"
        for (body,) in self.db.execute(query, args):
            yield body


class Parked(MutableMapping[str, bytes]):
    """`Processor.parked` in the spill file."""

    def __init__(self, spill: Spill) -> None:
        self.spill = spill
        self.db = spill.db

    def __getitem__(self, key: str) -> bytes:
        row = self.db.execute("SELECT state FROM parked WHERE ticket_id = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: str, value: bytes) -> None:
        self.db.execute("INSERT OR REPLACE INTO parked VALUES (?, ?)", (key, value))
        self.spill.wrote()

    def __delitem__(self, key: str) -> None:
        cur = self.db.execute("DELETE FROM parked WHERE ticket_id = ?", (key,))
        if cur.rowcount == 0:
            raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        q = "SELECT 1 FROM parked WHERE ticket_id = ?"
        return self.db.execute(q, (key,)).fetchone() is not None

    def __iter__(self) -> Iterator[str]:
        for (key,) in self.db.execute("SELECT ticket_id FROM parked"):
            yield key

    def __len__(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM parked").fetchone()[0])
