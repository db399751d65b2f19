"""The bulk restore's pure parts: the timer entries it collects in its pass over the changelog
are what `PartitionState.rebuild` reads from the table the changelog leaves behind, and the
bench pre-load builds exactly the engine's stored tickets. (The restore against real brokers and
Faust's recovery: tests/integration/test_bulk_restore.py.)"""

from __future__ import annotations

import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.preload import records, stored, ticket_id
from config.loader import load
from kafka_io.producer import partition_for
from topologies.state import codec, restore
from topologies.timers import TimerIndex

keys = st.sampled_from([b"T-1", b"T-2", b"T-3"])
dues = st.one_of(st.none(), st.integers(0, 2**40))
changelog = st.lists(
    st.tuples(keys, st.one_of(st.none(), dues.map(lambda d: ("v", d)))), max_size=30
)
PARTITION = {b"T-1": 0, b"T-2": 1, b"T-3": 0}  # a key lives in one partition


@settings(max_examples=100, deadline=None)
@given(changelog)
def test_timer_entries_are_what_a_scan_of_the_restored_table_finds(
    records_: list[tuple[bytes, tuple[str, int | None] | None]],
) -> None:
    entries, observe = restore.timer_entries()
    table: dict[int, dict[bytes, bytes]] = {0: {}, 1: {}}
    for key, value in records_:
        partition = PARTITION[key]
        raw = None if value is None else codec.frame(value[1], partition, b"{}")
        observe(partition, [(key, raw)])
        if raw is None:
            table[partition].pop(key, None)  # a tombstone deletes
        else:
            table[partition][key] = raw
    scanned = {
        p: {k: d for k, v in part.items() if (d := codec.peek(v)[0]) is not None}
        for p, part in table.items()
    }
    assert {p: e for p, e in entries.items() if e} == {p: s for p, s in scanned.items() if s}


def test_a_job_is_done_when_it_reached_its_end_or_had_nothing_to_read() -> None:
    job = restore.Job("t", 0, None, start=5, end=4, offset_key=b"k")
    assert job.done
    job = restore.Job("t", 0, None, start=0, end=9, offset_key=b"k")
    assert not job.done
    job.last = 9
    assert job.done


def test_remaining_counts_the_offsets_a_running_restore_has_still_to_read() -> None:
    """What the status line's restore bar shows while the bulk restore runs."""
    from topologies.state.recovery_hook import FastRestore

    fast = FastRestore("127.0.0.1:1")
    assert fast.remaining() == 0  # none running
    a = restore.Job("t", 0, None, 0, 99, b"k")
    b = restore.Job("t", 1, None, 10, 59, b"k")
    nothing = restore.Job("t", 2, None, 5, 4, b"k")
    fast.reading = [a, b, nothing]
    assert fast.remaining() == 150
    a.last, b.last = 39, 59
    assert fast.remaining() == 60
    a.last = 99
    assert fast.remaining() == 0


def test_preloaded_tickets_are_the_engines_open_tickets_on_their_partitions() -> None:
    now = time.time_ns() // 1000
    policy = load(None)
    got = list(records(25, 4, now))
    assert [k for k, _ in got] == [ticket_id(i).encode() for i in range(25)]
    for i, (key, value) in enumerate(got):
        assert value == stored(i, now, 4, policy)
        due, partition = codec.peek(value)
        assert partition == partition_for(key, 4)
        assert due is not None and due > now + 3600 * 1_000_000  # open, hours away
        ticket = codec.decode(value, policy)
        assert ticket.ticket_id == key.decode() and not ticket.is_closed()


def test_rebuild_raw_makes_the_index_rebuild_makes(tmp_path: Path) -> None:
    ids = ["T-1", "é-2", "a", "B0000007", *(f"X{i}" for i in range(300))]
    entries = {t: (i * 7_919) % 1_000 * 1_000_000 for i, t in enumerate(ids)}
    entries["max"] = 2**64 - 1
    for case, want in (("some", entries), ("none", {})):
        a = TimerIndex(tmp_path / case / "a", durable=False)
        b = TimerIndex(tmp_path / case / "b", durable=False)
        a.set("stale", 5)
        b.set("stale", 5)
        a.rebuild(list(want.items()))
        b.rebuild_raw({k.encode(): d for k, d in want.items()})
        a.close()
        b.close()
        a, b = TimerIndex(tmp_path / case / "a"), TimerIndex(tmp_path / case / "b")  # as stored
        assert list(b.items()) == list(a.items()) and len(b) == len(a) == len(want)
        assert b.watermark_us == a.watermark_us and b.get("stale") is None
        assert all(b.get(k) == a.get(k) == d for k, d in want.items())
        assert b.pop_due(2**64 - 1, limit=100) == a.pop_due(2**64 - 1, limit=100)
        a.close()
        b.close()
