"""The two `PartitionStore`s behave the same: the memory store the task tests use and the
RocksDB one the worker uses (real RocksDB partitions in a temporary directory, the changelog
through `Output`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.topologies.fakes import CHANGELOG, FakeProducer, FakeTable
from topologies.output import Output
from topologies.state.memory import MemoryStore
from topologies.state.rocksdb import RocksDBStore
from topologies.state.store import PartitionStore

keys = st.sampled_from([b"T-1", b"T-2", b"T-3", b"\x00", "é".encode()])
values = st.one_of(st.none(), st.binary(max_size=20))
batches = st.lists(
    st.dictionaries(st.integers(0, 3), st.lists(st.tuples(keys, values), max_size=4), max_size=3),
    max_size=6,
)


def contents(store: PartitionStore) -> list[tuple[bytes, bytes]]:
    return sorted(store.items())


@settings(max_examples=25, deadline=None)
@given(batches)
def test_memory_and_rocksdb_stores_agree(
    writes: list[dict[int, list[tuple[bytes, bytes | None]]]],
) -> None:
    memory = MemoryStore()
    with tempfile.TemporaryDirectory() as tmp:
        producer = FakeProducer()
        table = FakeTable(Path(tmp))
        rocks = RocksDBStore(table, Output("unused", producer))
        try:
            for batch in writes:
                memory.write(batch)
                rocks.write(batch)
                for partition, items in batch.items():
                    for key, _ in items:
                        assert memory.get(partition, key) == rocks.get(partition, key)
            assert contents(memory) == contents(rocks)
            producer.poll()
            sent = [(m.partition_, m.key_, m.value_) for m in producer.delivered]
            assert all(m.topic_ == CHANGELOG for m in producer.delivered)
            assert sent == memory.changelog  # the same changelog, message for message
            rocks.persist()
            memory.persist()
            last = {p: n - 1 for p, n in memory.persisted.items()}  # offsets from 0
            assert {tp[1]: o for tp, o in table.data.persisted.items()} == last
        finally:
            table.data.close()
