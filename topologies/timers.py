"""A per-partition deadline index in RocksDB (rocksdict).

One :class:`TimerIndex` per owned partition answers "which tickets are due at
``now``?" in a few µs per due ticket at 1,000,000 open tickets.

Layout (one RocksDB database, three column families, raw byte keys):

- ``default``: ``deadline (8-byte big-endian µs) + ticket id (UTF-8)`` → empty.
  Keys sort by deadline, then ticket id: the due tickets are a prefix.
- ``rev``: ``ticket id`` → ``deadline (8 bytes)``: the ticket's current entry, so
  moving or removing a ticket's deadline is O(1) without a scan.
- ``meta``: ``count`` → number of open entries (8 bytes).

Every change goes through one ``WriteBatch`` over the three column families,
so the index and the reverse map can never disagree, even after a crash.

The scan never starts at the first key: a queue-like key range fills with
delete tombstones at its head, and ``seek_to_first`` walks them on every tick
(~25× slower in PERF-NOTES). The index keeps a *watermark*: a key below which
no live entry exists. A lookup seeks to it; a deadline set below it lowers it
(so a deadline moved into the past fires on the next lookup); a lookup raises
it to the first live key it meets or past ``now`` when nothing is due.

The index is a derived structure: it can be rebuilt from the ticket table at
any time (:meth:`TimerIndex.rebuild`), see ``docs/streaming-notes.md``.
"""

from __future__ import annotations

import gc
import os
import shutil
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rocksdict import Options, Rdict, ReadOptions, WriteBatch, WriteOptions

__all__ = ["MAX_DUE_US", "TimerIndex", "decode_key", "encode_key"]

_DUE = struct.Struct(">Q")
MAX_DUE_US = 2**64 - 1
_COUNT = b"count"
_WATERMARK = b"watermark"
_CFS = ("rev", "meta")
_BATCH = 10_000


def encode_key(due_us: int, ticket_id: str) -> bytes:
    """The index key of ``ticket_id`` due at ``due_us``: sorts by deadline, then id."""
    return _DUE.pack(_check_due(due_us)) + ticket_id.encode()


def decode_key(key: bytes) -> tuple[int, str]:
    """``(due_us, ticket_id)`` of an index key."""
    return _DUE.unpack_from(key)[0], key[8:].decode()


def _check_due(due_us: int) -> int:
    if not 0 <= due_us <= MAX_DUE_US:
        raise ValueError(f"deadline {due_us} µs is outside 0 .. 2**64-1")
    return due_us


def _options() -> Options:
    opts = Options(raw_mode=True)
    opts.create_if_missing(True)
    opts.create_missing_column_families(True)
    return opts


class TimerIndex:
    """Deadlines of the open tickets of one partition, ordered by deadline.

    Not thread-safe: use it from the worker's event loop only.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        """Open (or create) the index at ``path``.

        ``durable=False`` writes without RocksDB's write-ahead log: faster, but a
        crash loses recent changes. Only for an index that is rebuilt from the
        ticket table whenever its partition is assigned.
        """
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.durable = durable
        self._write_opt = WriteOptions()
        # A property at run time, although rocksdict's stub declares a method.
        setattr(self._write_opt, "disable_wal", not durable)  # noqa: B010
        self._open()

    def _open(self) -> None:
        self._db: Rdict | None = Rdict(
            str(self.path), _options(), column_families={cf: Options(raw_mode=True) for cf in _CFS}
        )
        self._rev = self._db.get_column_family("rev")
        self._rev_cf: Any = self._db.get_column_family_handle("rev")
        self._meta = self._db.get_column_family("meta")
        self._meta_cf: Any = self._db.get_column_family_handle("meta")
        raw = self._meta.get(_COUNT)
        self._count = 0 if raw is None else int(_DUE.unpack(raw)[0])
        # Invariant: no live key sorts below the watermark. The stored one is
        # written in the same batch as every change that lowers it or removes
        # entries below it, so it is valid after a crash too.
        self._watermark = self._meta.get(_WATERMARK) or b""

    @property
    def db(self) -> Rdict:
        if self._db is None:
            raise ValueError(f"timer index {self.path} is closed")
        return self._db

    # -- reading -----------------------------------------------------------

    def __len__(self) -> int:
        """Number of tickets with a deadline."""
        return self._count

    def __contains__(self, ticket_id: object) -> bool:
        return isinstance(ticket_id, str) and self.get(ticket_id) is not None

    def get(self, ticket_id: str) -> int | None:
        """The ticket's current deadline in µs, or None."""
        if self._db is None:
            raise ValueError(f"timer index {self.path} is closed")
        raw = self._rev.get(ticket_id.encode())
        return None if raw is None else int(_DUE.unpack(raw)[0])

    @property
    def watermark_us(self) -> int:
        """Deadline part of the watermark (0 before the first lookup)."""
        return _DUE.unpack_from(self._watermark)[0] if len(self._watermark) >= 8 else 0

    def due(self, now_us: int, limit: int = 1000) -> list[tuple[int, str]]:
        """Up to ``limit`` entries due at ``now_us`` (deadline <= now), earliest first.

        Read only: an entry stays due until it is popped or moved.
        """
        return self._scan(now_us, limit, remove=False)

    def pop_due(self, now_us: int, limit: int = 1000) -> list[tuple[int, str]]:
        """Remove and return up to ``limit`` entries due at ``now_us``, earliest first."""
        return self._scan(now_us, limit, remove=True)

    def _scan(self, now_us: int, limit: int, remove: bool) -> list[tuple[int, str]]:
        db = self.db
        _check_due(now_us)
        if limit <= 0:
            return []
        upper = _DUE.pack(now_us + 1) if now_us < MAX_DUE_US else None
        read_opt = ReadOptions()
        if upper is not None:
            read_opt.set_iterate_upper_bound(upper)  # stop at the bound, not at the next key
        it = db.iter(read_opt)
        it.seek(self._watermark)
        keys: list[bytes] = []
        while it.valid() and len(keys) < limit:
            keys.append(it.key())
            it.next()
        exhausted = not it.valid()  # no further entry due at now_us
        del it
        out = [(int(_DUE.unpack_from(key)[0]), key[8:].decode()) for key in keys]
        if remove and keys:
            batch = WriteBatch(raw_mode=True)
            for key in keys:
                batch.delete(key)
                batch.delete(key[8:], self._rev_cf)
            if exhausted and upper is not None:
                # Nothing live below now + 1 any more.
                self._watermark = max(self._watermark, upper)
            else:
                # Everything up to the last removed key is gone; the smallest
                # key after it is that key + b"\0".
                self._watermark = keys[-1] + b"\0"
            self._count -= len(keys)
            batch.put(_COUNT, _DUE.pack(self._count), self._meta_cf)
            batch.put(_WATERMARK, self._watermark, self._meta_cf)
            db.write(batch, self._write_opt)
        elif keys:
            self._watermark = keys[0]
        elif exhausted and upper is not None:
            self._watermark = max(self._watermark, upper)
        return out

    def next_due(self) -> int | None:
        """The earliest deadline, or None when the index is empty."""
        it = self.db.iter()
        it.seek(self._watermark)
        if not it.valid():
            return None
        key: bytes = it.key()
        self._watermark = key
        return int(_DUE.unpack_from(key)[0])

    def until(self, until_us: int) -> Iterator[tuple[int, str]]:
        """Entries with a deadline <= ``until_us``, earliest first, read lazily from the
        watermark (the at-risk lists: a caller that stops early reads only what it used).
        Read only; do not write to the index while iterating."""
        db = self.db
        read_opt = ReadOptions()
        if until_us < MAX_DUE_US:
            read_opt.set_iterate_upper_bound(_DUE.pack(_check_due(until_us) + 1))
        it = db.iter(read_opt)
        it.seek(self._watermark)
        while it.valid():
            key: bytes = it.key()
            yield _DUE.unpack_from(key)[0], key[8:].decode()
            it.next()

    def items(self) -> Iterator[tuple[int, str]]:
        """All entries, earliest first (for tests and rebuild checks)."""
        it = self.db.iter()
        it.seek(self._watermark)
        while it.valid():
            key: bytes = it.key()
            yield _DUE.unpack_from(key)[0], key[8:].decode()
            it.next()

    # -- writing -----------------------------------------------------------

    def set(self, ticket_id: str, due_us: int | None) -> None:
        """Give ``ticket_id`` the deadline ``due_us`` (replacing its old one); None removes it.

        One write per call: when many tickets change together (a batch of
        events), :meth:`set_many` is several times cheaper per ticket.
        """
        self._apply([(ticket_id.encode(), due_us)], known_absent=False)

    def pop(self, ticket_id: str) -> int | None:
        """Remove the ticket's deadline; return it (None if it had none)."""
        db = self.db
        tid = ticket_id.encode()
        old = self._rev.get(tid)
        if old is None:
            return None
        batch = WriteBatch(raw_mode=True)
        batch.delete(old + tid)
        batch.delete(tid, self._rev_cf)
        self._count -= 1
        batch.put(_COUNT, _DUE.pack(self._count), self._meta_cf)
        db.write(batch, self._write_opt)
        return int(_DUE.unpack(old)[0])

    remove = pop

    def set_many(
        self, items: Iterable[tuple[str, int | None]], *, known_absent: bool = False
    ) -> None:
        """Apply many :meth:`set` in WriteBatches of 10,000; the last one wins per ticket.

        ``known_absent=True`` (the index holds none of these tickets, e.g. right
        after :meth:`clear`) skips the lookup of their old deadlines.
        """
        chunk: list[tuple[bytes, int | None]] = []
        for ticket_id, due_us in items:
            chunk.append((ticket_id.encode(), due_us))
            if len(chunk) >= _BATCH:
                self._apply(chunk, known_absent)
                chunk = []
        if chunk:
            self._apply(chunk, known_absent)

    def _apply(self, chunk: list[tuple[bytes, int | None]], known_absent: bool) -> None:
        db = self.db
        current: dict[bytes, bytes | None]
        if known_absent:
            current = {}
        else:
            tids: list[Any] = list({tid: None for tid, _ in chunk})
            olds: list[bytes | None] = self._rev.get(tids) or []
            current = dict(zip(tids, olds, strict=True))
        batch = WriteBatch(raw_mode=True)
        count = self._count
        low = self._watermark
        for tid, due_us in chunk:
            old = current.get(tid)
            new = None if due_us is None else _DUE.pack(_check_due(due_us))
            if old == new:
                continue
            if old is not None:
                batch.delete(old + tid)
                count -= 1
            if new is None:
                batch.delete(tid, self._rev_cf)
            else:
                key = new + tid
                batch.put(key, b"")
                batch.put(tid, new, self._rev_cf)
                count += 1
                if key < low:
                    low = key
            current[tid] = new
        if len(batch):
            batch.put(_COUNT, _DUE.pack(count), self._meta_cf)
            if low != self._watermark:
                batch.put(_WATERMARK, low, self._meta_cf)
            db.write(batch, self._write_opt)
            self._count, self._watermark = count, low

    def clear(self) -> None:
        """Remove every entry (closes, destroys and recreates the database)."""
        self.close()
        Rdict.destroy(str(self.path), _options())
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True, exist_ok=True)
        self._open()

    def rebuild(self, items: Iterable[tuple[str, int | None]]) -> None:
        """Replace the whole index by ``items`` (ticket id, deadline or None)."""
        self.clear()
        self.set_many(items, known_absent=True)
        self.db.flush()

    def rebuild_raw(self, entries: Mapping[bytes, int]) -> None:
        """Replace the whole index by `entries` (UTF-8 ticket id -> deadline µs), in one pass
        without lookups or str round trips: the bulk restore's form of `rebuild` (the same
        index, count and watermark)."""
        self.clear()
        db, rev_cf, pack = self.db, self._rev_cf, _DUE.pack
        items = list(entries.items())
        for start in range(0, len(items), _BATCH):
            batch = WriteBatch(raw_mode=True)
            for tid, due_us in items[start : start + _BATCH]:
                due = pack(due_us)  # struct.error outside 0 .. 2**64-1
                batch.put(due + tid, b"")
                batch.put(tid, due, rev_cf)
            db.write(batch, self._write_opt)
        self._count = len(items)
        self._meta[_COUNT] = _DUE.pack(self._count)
        db.flush()

    def flush(self) -> None:
        """Flush memtables to SST files (a WAL already makes writes durable)."""
        self.db.flush()

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the database. Safe to call twice."""
        if self._db is None:
            return
        db = self._db
        # Column family handles and views keep the database open: drop them first.
        self._rev.close()
        self._meta.close()
        del self._rev, self._meta
        self._rev_cf = self._meta_cf = None
        self._db = None
        db.close()
        del db
        gc.collect()

    @property
    def closed(self) -> bool:
        return self._db is None

    def __enter__(self) -> TimerIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._db is None else f"{self._count} open"
        return f"<TimerIndex {self.path} {state}>"
