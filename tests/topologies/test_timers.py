"""The per-partition deadline index on a real RocksDB (rocksdict) in tmp_path."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from topologies.timers import MAX_DUE_US, TimerIndex, decode_key, encode_key

S = 1_000_000  # µs per second
T0 = 1_800_000_000 * S


@pytest.fixture
def index(tmp_path: Path) -> Iterator[TimerIndex]:
    with TimerIndex(tmp_path / "timers") as idx:
        yield idx


def test_keys_sort_by_deadline_then_ticket() -> None:
    keys = [
        encode_key(T0 + 5, "A"),
        encode_key(T0, "Z"),
        encode_key(T0, "B"),
        encode_key(2**40, ""),
    ]
    assert [decode_key(k) for k in sorted(keys)] == [
        (2**40, ""),
        (T0, "B"),
        (T0, "Z"),
        (T0 + 5, "A"),
    ]
    assert decode_key(encode_key(MAX_DUE_US, "T-é")) == (MAX_DUE_US, "T-é")
    with pytest.raises(ValueError):
        encode_key(-1, "x")


def test_due_returns_deadlines_in_order_up_to_now(index: TimerIndex) -> None:
    index.set("T-3", T0 + 3 * S)
    index.set("T-1", T0 + 1 * S)
    index.set("T-2b", T0 + 2 * S)
    index.set("T-2a", T0 + 2 * S)
    index.set("T-9", T0 + 9 * S)
    assert len(index) == 5
    assert index.due(T0) == []
    assert index.due(T0 + 2 * S) == [(T0 + S, "T-1"), (T0 + 2 * S, "T-2a"), (T0 + 2 * S, "T-2b")]
    # Read only: still due.
    assert index.due(T0 + 2 * S, limit=2) == [(T0 + S, "T-1"), (T0 + 2 * S, "T-2a")]
    assert index.due(T0 + 3 * S - 1) == index.due(T0 + 2 * S)
    assert index.next_due() == T0 + S
    assert len(index) == 5


def test_pop_due_removes_what_fired(index: TimerIndex) -> None:
    for i in range(10):
        index.set(f"T-{i}", T0 + i * S)
    assert index.pop_due(T0 + 4 * S, limit=3) == [(T0 + i * S, f"T-{i}") for i in range(3)]
    assert index.pop_due(T0 + 4 * S) == [(T0 + 3 * S, "T-3"), (T0 + 4 * S, "T-4")]
    assert index.pop_due(T0 + 4 * S) == []
    assert len(index) == 5
    assert index.get("T-2") is None
    assert index.get("T-5") == T0 + 5 * S
    assert [t for _, t in index.items()] == [f"T-{i}" for i in range(5, 10)]


def test_moves_later_and_earlier(index: TimerIndex) -> None:
    index.set("A", T0 + 10 * S)
    index.set("B", T0 + 20 * S)
    index.set("A", T0 + 30 * S)  # later: a warning fired, the breach is next
    assert index.due(T0 + 25 * S) == [(T0 + 20 * S, "B")]
    index.set("B", T0 + 40 * S)
    index.set("A", T0 + 5 * S)  # earlier: a priority change shortened the target
    assert list(index.items()) == [(T0 + 5 * S, "A"), (T0 + 40 * S, "B")]
    assert index.get("A") == T0 + 5 * S
    assert len(index) == 2
    index.set("A", T0 + 5 * S)  # unchanged: no-op
    assert len(index) == 2


def test_deadline_moved_before_the_watermark_is_still_found(index: TimerIndex) -> None:
    for i in range(100):
        index.set(f"T-{i:03d}", T0 + (i + 1) * S)
    assert len(index.pop_due(T0 + 50 * S)) == 50
    assert index.due(T0 + 60 * S)  # the watermark is now past T0 + 50 s
    assert index.watermark_us > T0 + 50 * S
    # A late event moves a ticket's deadline to long before the watermark.
    index.set("T-099", T0 + 7 * S)
    index.set("NEW", T0 + 1)
    assert index.watermark_us <= T0 + 1
    assert index.due(T0 + 50 * S) == [(T0 + 1, "NEW"), (T0 + 7 * S, "T-099")]
    assert index.pop_due(T0 + 51 * S) == [
        (T0 + 1, "NEW"),
        (T0 + 7 * S, "T-099"),
        (T0 + 51 * S, "T-050"),
    ]


def test_watermark_moves_past_an_idle_now_and_back(index: TimerIndex) -> None:
    index.set("late", T0 + 100 * S)
    assert index.due(T0 + 10 * S) == []
    assert index.watermark_us == T0 + 10 * S + 1
    index.set("earlier", T0 + 10 * S)  # exactly the last `now`, below the watermark
    assert index.due(T0 + 10 * S) == [(T0 + 10 * S, "earlier")]


def test_remove(index: TimerIndex) -> None:
    index.set("A", T0 + S)
    index.set("B", T0 + 2 * S)
    assert index.pop("A") == T0 + S
    assert index.pop("A") is None
    index.set("B", None)
    index.set("C", None)  # absent: no-op
    assert len(index) == 0
    assert index.due(T0 + 10 * S) == []
    assert "B" not in index
    assert index.next_due() is None


def test_set_many_last_write_wins_and_matches_a_model(index: TimerIndex) -> None:
    rng = random.Random(7)
    model: dict[str, int] = {}
    ops: list[tuple[str, int | None]] = []
    for _ in range(30_000):
        ticket = f"T-{rng.randrange(5_000)}"
        due = None if rng.random() < 0.1 else T0 + rng.randrange(1_000) * S
        ops.append((ticket, due))
        if due is None:
            model.pop(ticket, None)
        else:
            model[ticket] = due
    index.set_many(ops)  # three WriteBatches, repeated tickets inside one batch
    assert len(index) == len(model)
    assert list(index.items()) == sorted((d, t) for t, d in model.items())
    assert all(index.get(t) == d for t, d in model.items())


def test_many_keys_drain_in_ticks_like_the_worker(index: TimerIndex) -> None:
    rng = random.Random(3)
    model = {f"T-{i}": T0 + rng.randrange(3_600) * S for i in range(50_000)}
    index.rebuild(model.items())
    assert len(index) == 50_000
    fired: list[tuple[int, str]] = []
    now = T0
    while now < T0 + 3_600 * S:
        now += 10 * S
        # Events move some open tickets meanwhile, a few of them into the past.
        for _ in range(20):
            ticket = f"T-{rng.randrange(50_000)}"
            if ticket in model:
                model[ticket] = now + rng.randrange(-60, 600) * S
                index.set(ticket, model[ticket])
        got = index.pop_due(now, limit=100_000)
        assert got == sorted(got)
        assert all(due <= now for due, _ in got)
        for due, ticket in got:
            assert model.pop(ticket) == due
        fired += got
        assert all(d > now for d in model.values())  # nothing due is left behind
    assert len(index) == len(model)
    assert len(fired) + len(model) == 50_000


def test_reopen_from_disk(tmp_path: Path) -> None:
    path = tmp_path / "p3"
    idx = TimerIndex(path)
    for i in range(1_000):
        idx.set(f"T-{i}", T0 + i * S)
    assert len(idx.pop_due(T0 + 99 * S)) == 100
    idx.set("T-500", T0 + S)  # moved before the watermark
    idx.close()
    idx.close()  # twice is fine
    with pytest.raises(ValueError):
        idx.get("T-1")

    with TimerIndex(path) as again:
        assert len(again) == 900
        assert again.get("T-500") == T0 + S
        assert again.get("T-5") is None
        assert again.due(T0 + 100 * S) == [(T0 + S, "T-500"), (T0 + 100 * S, "T-100")]
        assert again.watermark_us <= T0 + S


def test_rebuild_replaces_everything(index: TimerIndex) -> None:
    index.set("old", T0)
    index.pop_due(T0)
    index.set("stale", T0 + S)
    index.rebuild([("a", T0 + 2 * S), ("b", None), ("c", T0 + S)])
    assert list(index.items()) == [(T0 + S, "c"), (T0 + 2 * S, "a")]
    assert len(index) == 2
    assert index.due(T0) == []


def test_index_without_wal_works_the_same(tmp_path: Path) -> None:
    with TimerIndex(tmp_path / "nowal", durable=False) as idx:
        idx.set("A", T0 + S)
        idx.set_many([("B", T0), ("C", T0 + 2 * S)])
        assert idx.pop_due(T0 + S) == [(T0, "B"), (T0 + S, "A")]
        assert len(idx) == 1
