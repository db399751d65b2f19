"""Disk-backed storage for long replays and audits, so that a month of a large centre's parked
tickets and alerts does not have to fit in memory.

`Spill` is a temporary directory: a SQLite file with two tables, the alerts of both sides of an
audit by ticket and the audit's findings (read back in report order), and a RocksDB of the
parked tickets (idle, no timer: `Processor.parked`; `Parked`), the hot path of a long replay.
It is deleted when closed. SQLite's page cache and RocksDB's memtables are capped, so memory
stays flat whatever the row count.
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
        self.parked = Parked(Path(self._dir.name) / "parked")

    def __enter__(self) -> Spill:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.parked.close()
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

    def alert_count(self) -> int:
        """Alerts added."""
        return self._seq

    def alerts_of(self, ticket_id: str) -> list[dict[str, Any]]:
        """One ticket's alerts (any side), in the order added (a scan: for one ticket, once)."""
        rows = self.db.execute(
            "SELECT body FROM alerts WHERE ticket_id = ? ORDER BY seq", (ticket_id,)
        )
        return [orjson.loads(body) for (body,) in rows]

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
    """`Processor.parked` in a temporary RocksDB (rocksdict) beside the spill file.

    Parking is on the replay's hot path (a large centre parks and unparks each ticket a few
    times), so writes gather in a dict of at most `BATCH` keys and go to RocksDB in one write
    batch without the write-ahead log (a temporary store: nothing to recover); a ticket
    unparked before its batch was written never reaches the disk. Keys are stored in insertion
    batches, the memtable and block cache are capped: memory stays flat whatever the count.
    `len` walks the keys (the replay asks once, at the end)."""

    BATCH = 4096

    def __init__(self, path: Path) -> None:
        from rocksdict import BlockBasedOptions, Options, Rdict, WriteOptions

        opts = Options(raw_mode=True)
        opts.create_if_missing(True)
        table = BlockBasedOptions()
        table.set_bloom_filter(10, False)  # a new ticket's lookup misses without reading blocks
        opts.set_block_based_table_factory(table)
        opts.set_write_buffer_size(16 << 20)
        opts.set_max_write_buffer_number(2)
        self.db = Rdict(str(path), opts)
        wo = WriteOptions()
        setattr(wo, "disable_wal", True)  # noqa: B010 (a property, although the stub says method)
        self.db.set_write_options(wo)
        self._pending: dict[bytes, bytes | None] = {}  # not yet written; None: deleted
        self._last: tuple[bytes, bytes | None] = (b"", None)  # the last key read from RocksDB

    def _flush(self) -> None:
        from rocksdict import WriteBatch

        self._last = (b"", None)
        batch = WriteBatch(raw_mode=True)
        for key, value in self._pending.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        self.db.write(batch)
        self._pending.clear()

    def _get(self, key: bytes) -> bytes | None:
        if key in self._pending:
            return self._pending[key]
        if key == self._last[0]:  # `in` then `pop` of one ticket: one read
            return self._last[1]
        raw: bytes | None = self.db.get(key)
        self._last = (key, raw)
        return raw

    def __getitem__(self, key: str) -> bytes:
        raw = self._get(key.encode())
        if raw is None:
            raise KeyError(key)
        return raw

    def __setitem__(self, key: str, value: bytes) -> None:
        self._pending[key.encode()] = value
        if len(self._pending) >= self.BATCH:
            self._flush()

    def __delitem__(self, key: str) -> None:
        if self.pop(key, None) is None:
            raise KeyError(key)

    def pop(self, key: str, default: Any = None) -> Any:
        """The parked bytes, removed (one read, not `MutableMapping`'s two)."""
        k = key.encode()
        raw = self._get(k)
        if raw is None:
            return default
        self._pending[k] = None
        if len(self._pending) >= self.BATCH:
            self._flush()
        return raw

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._get(key.encode()) is not None

    def __iter__(self) -> Iterator[str]:
        self._flush()
        for key in self.db.keys():  # noqa: SIM118 (an Rdict, not a dict)
            assert isinstance(key, bytes)  # raw mode
            yield key.decode()

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def close(self) -> None:
        self._pending.clear()
        self.db.close()
