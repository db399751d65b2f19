"""The seam between the worker and its partitioned key-value state (`PartitionStore`).

The worker reads and writes a table by explicit partition: one write batch per partition,
deletes as `None`, and the changelog offsets persisted once they are delivered. Two
implementations: `topologies.state.rocksdb` (a Faust table's RocksDB partitions and their
changelog, the one file that touches Faust's store internals) and `topologies.state.memory`
(dicts, for tests without a broker).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

Writes = Mapping[int, Sequence[tuple[bytes, bytes | None]]]  # partition -> (key, value or None)


class PartitionStore(Protocol):
    """A table partitioned like its topic, written in batches."""

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value stored under `key` in `partition` (None: absent)."""
        ...

    def write(self, writes: Writes) -> None:
        """`{partition: [(key, value or None to delete), ...]}`, one batch per partition."""
        ...

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value) of the partitions this worker holds."""
        ...

    def persist(self) -> None:
        """Store the changelog offsets delivered since the last call."""
        ...
