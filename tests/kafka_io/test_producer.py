"""The one producer configuration: murmur2 placement as Java and Faust, idempotence, back-pressure,
and no confluent-kafka producer made anywhere else in the tree."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from kafka_io import producer
from kafka_io.producer import PARTITIONER, partition_for, producer_config, send

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("engine", "schemas", "config", "kafka_io", "topologies", "cli", "bench", "tests")
HOME = ROOT / "kafka_io" / "producer.py"

# Kafka's own test vectors for `Utils.murmur2` (clients/.../utils/UtilsTest.java, testMurmur2).
JAVA_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


def _java_murmur2(data: bytes) -> int:
    """Kafka's `Utils.murmur2`, transcribed from the Java source (seed 0x9747b28c), unsigned."""
    m, length = 0x5BD1E995, len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * m) & 0xFFFFFFFF
        k = ((k ^ (k >> 24)) * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    rest = data[length - length % 4 :]
    for i in reversed(range(len(rest))):
        h ^= rest[i] << (8 * i)
    if rest:
        h = (h * m) & 0xFFFFFFFF
    h = ((h ^ (h >> 13)) * m) & 0xFFFFFFFF
    return h ^ (h >> 15)


def test_the_reference_is_kafkas_murmur2() -> None:
    for key, signed in JAVA_MURMUR2.items():
        assert _java_murmur2(key) == signed & 0xFFFFFFFF, key


@pytest.mark.parametrize("partitions", [1, 3, 4, 12, 32, 1000])
def test_partition_for_places_keys_as_java_and_faust(partitions: int) -> None:
    """Java's `Utils.toPositive(murmur2(key)) % n`, for Kafka's vectors and 2,000 ticket ids."""
    keys = [*JAVA_MURMUR2, *(f"T-{i:06d}".encode() for i in range(2000)), b"DEMO-1a2b-OLD-007"]
    for key in keys:
        assert partition_for(key, partitions) == (_java_murmur2(key) & 0x7FFFFFFF) % partitions
    if 1 < partitions <= 32:
        assert len({partition_for(k, partitions) for k in keys}) == partitions


def test_the_configuration_sets_murmur2_and_idempotence() -> None:
    conf = producer_config("127.0.0.1:9092", linger_ms=20, **{"message.max.bytes": 1234})
    assert conf["partitioner"] == PARTITIONER == "murmur2_random"
    assert conf["enable.idempotence"] is True
    assert (conf["bootstrap.servers"], conf["linger.ms"], conf["message.max.bytes"]) == (
        "127.0.0.1:9092",
        20,
        1234,
    )


@pytest.mark.parametrize(
    "override", [{"partitioner": "consistent_random"}, {"enable.idempotence": False}]
)
def test_the_settings_correctness_depends_on_cannot_be_overridden(
    override: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="partitioning or ordering"):
        producer_config("127.0.0.1:9092", **override)


class FullQueue:
    """A producer whose queue is full for the first `full` calls (librdkafka: `BufferError`)."""

    def __init__(self, full: int) -> None:
        self.full, self.polls, self.sent = full, 0, list[tuple[Any, ...]]()

    def produce(self, *args: Any, **kwargs: Any) -> None:
        if self.full:
            self.full -= 1
            raise BufferError("Local: Queue full")
        self.sent.append((*args, kwargs))

    def poll(self, timeout: float) -> int:
        self.polls += 1
        return 0


def test_send_waits_out_a_full_queue_and_loses_nothing() -> None:
    p, checks = FullQueue(full=3), []
    send(p, "t", b"v", b"k", timestamp=7, while_full=lambda: checks.append(1))
    assert p.sent == [("t", b"v", b"k", -1, None, {"timestamp": 7})]
    assert p.polls == 3 and len(checks) == 3


_MADE = re.compile(r"(?<!\w)(?:confluent_kafka\.|aiokafka\.)?(?:AIOKafka)?Producer\(")
_IMPORTED = re.compile(
    r"from confluent_kafka import [^\n]*\bProducer\b|from aiokafka import [^\n]*AIOKafkaProducer"
)
_PLACED = re.compile(r"\"partitioner\"\s*:|\bmurmur2\(|import murmur2")


def _sources() -> list[Path]:
    return [
        path
        for top in SOURCES
        if (ROOT / top).is_dir()
        for path in sorted((ROOT / top).rglob("*.py"))
        if ".venv" not in path.parts and path.resolve() not in (HOME, Path(__file__).resolve())
    ]


def test_no_producer_is_made_outside_kafka_io_producer() -> None:
    """A producer built by hand forgets the partitioner (tickets on the wrong partition) or
    idempotence (reordered partitions): every one comes from `kafka_io.producer`."""
    offenders = []
    for path in _sources():
        text = path.read_text()
        for pattern in (_MADE, _IMPORTED, _PLACED):
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.relative_to(ROOT)}:{line}: {match.group(0)}")
    assert not offenders, "make producers with kafka_io.producer.make_producer:\n" + "\n".join(
        offenders
    )


def test_the_scan_sees_a_producer_made_by_hand(tmp_path: Path) -> None:
    """The scan's patterns catch the forms a hand-made producer takes."""
    for text in (
        'p = Producer({"bootstrap.servers": b})',
        "from confluent_kafka import Consumer, Producer",
        "p = confluent_kafka.Producer(conf)",
        "aiokafka.AIOKafkaProducer(bootstrap_servers=b)",
        "from aiokafka.partitioner import murmur2",
        "p = murmur2(key) % n",
        '{"partitioner": "murmur2_random"}',
    ):
        assert any(p.search(text) for p in (_MADE, _IMPORTED, _PLACED)), text
    assert not _MADE.search("FakeProducer()") and not _MADE.search("make_producer(b)")
    assert producer.__file__ is not None and Path(producer.__file__).resolve() == HOME
