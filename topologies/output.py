"""The worker's one producer (`Output`): every message the worker emits, changelogs included.

A store's changelog offsets are stored once their messages are delivered (`Changelogged`,
`topologies.state.rocksdb`): `poll` and `flush` ask every registered store to persist them.
"""

from __future__ import annotations

from typing import Any, Protocol

from kafka_io.producer import make_producer, send

FLUSH_TIMEOUT_S = 60.0  # the emitted messages must be on the broker before an offset commit


class Changelogged(Protocol):
    """A store whose changelog offsets are stored once delivered."""

    def persist(self) -> None: ...


class DeliveryError(RuntimeError):
    """A message the engine emitted did not reach the broker: no offset may be committed."""


class Output:
    """One confluent-kafka producer for every message the engine emits, ticket changelog
    included.

    `send` only queues (a few µs; librdkafka delivers from its own threads), where a Faust
    `Topic.send` or table write costs ~200 µs of event loop per message. `flush` waits until
    everything queued is on the broker; `BeforeCommit` calls it right before Faust commits
    offsets, so an event counts as done only once its output is delivered (at least once). A
    failed delivery is sticky: every later flush raises, so no offset is committed past a lost
    message."""

    def __init__(self, bootstrap: str, producer: Any = None) -> None:
        self.failures: list[str] = []
        self.writers: list[Changelogged] = []  # whose changelog offsets to store
        # murmur2 (Faust's placement), idempotent: alerts and changelog stay in order per ticket
        self.producer = producer if producer is not None else make_producer(bootstrap)

    def delivered(self, err: Any, msg: Any) -> None:
        if err is not None:
            self.failures.append(f"{msg.topic()}[{msg.partition()}]: {err}")

    def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int = -1,
        on_delivery: Any = None,
    ) -> None:
        """Queue one message (`partition` -1: by the key's murmur2 hash; `value` None: a
        tombstone; `on_delivery(err, msg)` instead of the failure check)."""
        send(
            self.producer, topic, value, key, partition=partition,
            on_delivery=on_delivery or self.delivered, wait=0.01,
        )  # fmt: skip

    def poll(self) -> None:
        """Serve the delivery reports that arrived, without waiting; store the changelog
        offsets they report."""
        self.producer.poll(0)
        for writer in self.writers:
            writer.persist()

    def flush(self, timeout: float = FLUSH_TIMEOUT_S) -> None:
        """Wait until everything queued is on the broker (or raise `DeliveryError`)."""
        left = self.producer.flush(timeout)
        for writer in self.writers:
            writer.persist()
        if left or self.failures:
            raise DeliveryError(
                f"{left} message(s) not delivered in {timeout:g} s; failures: {self.failures[:5]}"
            )
