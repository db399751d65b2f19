"""`PartitionStore` on a Faust table: its partitions' RocksDBs, its changelog through `Output`.

The only module that touches Faust's store internals (`topologies.faust_internals` lists them);
`partition_db` hands one partition's RocksDB to the bulk restore (`topologies.state.restore`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from faust.types import TP
from rocksdict import WriteBatch

from topologies.output import Output
from topologies.state.store import Writes


class RocksDBStore:
    """Reads and writes of a Faust `Table` with explicit partitions, its changelog through
    `Output`, in the order of Faust's own `Table`: the partition's RocksDB first (one
    WriteBatch per partition), then one changelog message per key (same topic, key and raw
    value; a delete is a tombstone); once a changelog message is delivered, its offset is
    stored in that RocksDB (`persist`, what `Collection._on_changelog_sent` does), so a
    restart with the same data directory reads the changelog from there on.

    Why not `table[key] = value`: a `Table` takes the partition of a write, and of its
    changelog message, from `faust.current_event()`, which is unset while a batch is
    processed, and sends through Faust's producer (~200 µs a message);
    `Collection.send_changelog(partition, ...)` is public but uses that same producer.
    Private API: `Store._db_for_partition` (faust/stores/rocksdb.py, faust-streaming 0.15.3);
    see docs/streaming-notes.md, 2 (g)."""

    def __init__(self, table: Any, output: Output) -> None:
        self.table = table
        self.output = output
        self.changelog = table.changelog_topic.get_topic_name()
        self.delivered: dict[int, int] = {}  # partition -> last changelog offset delivered
        output.writers.append(self)

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value in that partition's RocksDB (what a `Table` read inside an agent reads:
        one DB, not a lookup in each)."""
        value: bytes | None = self.table.data._db_for_partition(partition).get(key)
        return value

    def write(self, writes: Writes) -> None:
        """`{partition: [(key, value or None to delete), ...]}`."""
        store = self.table.data
        for partition, items in writes.items():
            batch = WriteBatch(raw_mode=True)
            for key, value in items:
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
            store._db_for_partition(partition).write(batch)
            for key, value in items:
                self.output.send(self.changelog, key, value, partition, self._changelogged)

    def _changelogged(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.output.delivered(err, msg)
        elif msg.offset() > self.delivered.get(msg.partition(), -1):
            self.delivered[msg.partition()] = msg.offset()

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """The table's items in the partitions this worker holds (Faust's public iteration)."""
        items: Iterator[tuple[bytes, bytes]] = iter(self.table.items())
        return items

    def persist(self) -> None:
        """Store the offsets of the changelog messages delivered since the last call."""
        delivered, self.delivered = self.delivered, {}
        for partition, offset in delivered.items():
            self.table.data.set_persisted_offset(TP(self.changelog, partition), offset)


def partition_db(table: Any, partition: int) -> Any:
    """The `rocksdict.Rdict` of one partition of a Faust table (opened if it was not), for the
    bulk restore (`topologies.state.restore`) to write into."""
    return table.data._db_for_partition(partition)
