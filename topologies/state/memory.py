"""`PartitionStore` in memory: the worker's task driven in process, without Faust or a broker.

Its changelog is a list (`changelog`: partition, key, value) and `persist` counts the
messages written so far as delivered (`persisted`: partition -> their number), so a test sees
what a write would have sent and stored.
"""

from __future__ import annotations

from collections.abc import Iterator

from topologies.state.store import Writes


class MemoryStore:
    """One dict per partition."""

    def __init__(self) -> None:
        self.partitions: dict[int, dict[bytes, bytes]] = {}
        self.changelog: list[tuple[int, bytes, bytes | None]] = []
        self.persisted: dict[int, int] = {}

    def get(self, partition: int, key: bytes) -> bytes | None:
        """The value stored under `key` in `partition` (None: absent)."""
        return self.partitions.get(partition, {}).get(key)

    def write(self, writes: Writes) -> None:
        """`{partition: [(key, value or None to delete), ...]}`."""
        for partition, items in writes.items():
            data = self.partitions.setdefault(partition, {})
            for key, value in items:
                if value is None:
                    data.pop(key, None)
                else:
                    data[key] = value
                self.changelog.append((partition, key, value))

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value), partition by partition."""
        for partition in sorted(self.partitions):
            yield from self.partitions[partition].items()

    def persist(self) -> None:
        """Count every changelog message written so far as delivered."""
        for partition, _key, _value in self.changelog[sum(self.persisted.values()) :]:
            self.persisted[partition] = self.persisted.get(partition, 0) + 1
