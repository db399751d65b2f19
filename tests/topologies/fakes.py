"""Test doubles of the worker's surroundings: librdkafka's producer, the clock, Faust's records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from rocksdict import Options, Rdict

CHANGELOG = "g-tickets-changelog"


@dataclass
class FakeMsg:
    topic_: str
    partition_: int
    key_: bytes | None
    value_: bytes | None
    offset_: int = -1

    def topic(self) -> str:
        return self.topic_

    def partition(self) -> int:
        return self.partition_

    def key(self) -> bytes | None:
        return self.key_

    def value(self) -> bytes | None:
        return self.value_

    def offset(self) -> int:
        return self.offset_


@dataclass
class FakeProducer:
    """librdkafka's contract as `Output` uses it: produce queues, poll/flush deliver."""

    fail: set[str] = field(default_factory=set)  # topics whose messages fail
    stuck: bool = False  # flush leaves everything undelivered
    queued: list[tuple[FakeMsg, Any]] = field(default_factory=list)
    delivered: list[FakeMsg] = field(default_factory=list)
    offsets: dict[tuple[str, int], int] = field(default_factory=dict)

    def produce(self, topic: str, value: Any, key: Any, partition: int, on_delivery: Any) -> None:
        self.queued.append((FakeMsg(topic, partition, key, value), on_delivery))

    def poll(self, timeout: float = 0) -> int:
        served = 0
        while self.queued:
            msg, callback = self.queued.pop(0)
            if msg.topic_ in self.fail:
                callback("KafkaError{code=MSG_TIMED_OUT}", msg)
            else:
                slot = (msg.topic_, msg.partition_)
                msg.offset_ = self.offsets.get(slot, -1) + 1
                self.offsets[slot] = msg.offset_
                self.delivered.append(msg)
                callback(None, msg)
            served += 1
        return served

    def flush(self, timeout: float = 0) -> int:
        if self.stuck:
            return len(self.queued)
        self.poll()
        return 0


@dataclass
class FakeClock:
    """A wall clock (µs) and a monotonic clock (s) that move only when told."""

    wall: int
    mono: float = 1_000.0

    def wall_us(self) -> int:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += int(seconds * 1_000_000)
        self.mono += seconds


def record(topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None) -> Any:
    """A Faust event as the agents see it: `.message` with its place, key and value."""
    message = SimpleNamespace(
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        value=value,
        tp=(topic, partition),
        generation_id=1,
    )
    return SimpleNamespace(message=message)


class FakeStore:
    """The two methods of Faust's RocksDB `Store` the worker uses, on real RocksDBs (one per
    partition)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dbs: dict[int, Rdict] = {}
        self.persisted: dict[tuple[str, int], int] = {}

    def _db_for_partition(self, partition: int) -> Rdict:
        if partition not in self.dbs:
            self.dbs[partition] = Rdict(str(self.root / f"t-{partition}"), Options(raw_mode=True))
        return self.dbs[partition]

    def set_persisted_offset(self, tp: Any, offset: int) -> None:
        self.persisted[(tp.topic, tp.partition)] = offset

    def close(self) -> None:
        for db in self.dbs.values():
            db.close()


class FakeTable:
    def __init__(self, root: Path) -> None:
        self.data = FakeStore(root)
        self.changelog_topic = SimpleNamespace(get_topic_name=lambda: CHANGELOG)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        for db in self.data.dbs.values():
            yield from db.items()
