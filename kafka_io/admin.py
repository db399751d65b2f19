"""Administration of any Kafka-protocol broker: readiness, access, topics, end offsets, kind.

Works against the embedded tansu broker and Apache Kafka alike; where tansu differs (its listed
end offsets, its cluster id) the function says so.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from kafka_io import client

if TYPE_CHECKING:
    from confluent_kafka import Consumer
    from confluent_kafka.admin import AdminClient

__all__ = [
    "EMBEDDED_CLUSTER_ID",
    "BrokerError",
    "assigned_consumer",
    "broker_kind",
    "check_access",
    "create_topics",
    "end_offsets",
    "wait_until_ready",
]

# The cluster id the embedded tansu broker answers in every metadata response.
EMBEDDED_CLUSTER_ID = "tansu_cluster"


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or reached."""


def admin_client(bootstrap: str, **extra: Any) -> AdminClient:
    """An admin client of `bootstrap` with the process's security settings, librdkafka quiet."""
    from confluent_kafka.admin import AdminClient

    return AdminClient(client.conf(bootstrap, **{"log_level": 0, **extra}))


def assigned_consumer(bootstrap: str, group: str, **extra: Any) -> Consumer:
    """A consumer that only `assign()`s partitions (never joins `group`, never commits) and says
    when it reaches the end of a partition: what reading known offsets needs."""
    from confluent_kafka import Consumer

    return Consumer(
        client.conf(
            bootstrap,
            **{
                "group.id": group,
                "enable.auto.commit": False,
                "enable.partition.eof": True,
                "fetch.wait.max.ms": 10,
                "log_level": 0,
                **extra,
            },
        )
    )


def wait_until_ready(bootstrap: str, timeout: float = 20.0) -> None:
    """Block until a Kafka broker at ``bootstrap`` answers a metadata request."""
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=0.5):
                pass
            admin = admin_client(bootstrap)
            admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic())))
            return
        except Exception as exc:  # connection refused, metadata timeout
            last = exc
            time.sleep(0.05)
    raise BrokerError(f"no Kafka broker answers at {bootstrap} after {timeout:.0f} s: {last}")


def check_access(bootstrap: str, timeout: float = 15.0) -> None:
    """Raise one `BrokerError` line when the broker does not answer or refuses this client
    (TLS or SASL settings, credentials): what a worker must say before it retries forever."""
    errors: list[str] = []
    admin = admin_client(bootstrap, error_cb=lambda e: errors.append(e.str()))
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin.list_topics(timeout=min(1.0, max(0.1, deadline - time.monotonic())))
            return
        except Exception as exc:  # KafkaException: timed out, refused, rejected
            admin.poll(0.1)  # serve error_cb: the reason (authentication, TLS) comes that way
            refused = [e for e in errors if "uthenticat" in e or "SSL" in e]
            if refused or time.monotonic() >= deadline:
                reason = (refused or errors or [str(exc)])[0]
                raise BrokerError(f"cannot use the Kafka broker at {bootstrap}: {reason}") from None


def broker_kind(bootstrap: str, timeout: float = 10.0) -> Literal["tansu", "kafka"]:
    """`tansu` when the broker is the embedded tansu (its cluster id says so), else `kafka`."""
    meta = admin_client(bootstrap).list_topics(timeout=timeout)
    return "tansu" if meta.cluster_id == EMBEDDED_CLUSTER_ID else "kafka"


def create_topics(
    bootstrap: str,
    topics: Mapping[str, int],
    config: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> None:
    """Create topics ``{name: partitions}`` with replication factor 1 if they do not exist.

    Idempotent: an existing topic is left as it is (its partition count is not changed).
    Works against any Kafka-protocol broker, embedded or external.
    """
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.cimpl import NewTopic

    if not topics:
        return
    admin = admin_client(bootstrap)
    new = [
        NewTopic(name, num_partitions=partitions, replication_factor=1, config=dict(config or {}))
        for name, partitions in topics.items()
    ]
    futures = admin.create_topics(new, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise BrokerError(f"cannot create topic {name!r}: {exc}") from exc


def end_offsets(
    bootstrap: str, partitions: Iterable[tuple[str, int]], timeout: float = 10.0
) -> dict[tuple[str, int], int]:
    """The true end offset (offset of the last record + 1) of each ``(topic, partition)``.

    tansu answers ``ListOffsets(latest)`` with the base offset of the last record
    batch + 1, which is short of the end whenever a producer batched. Its fetch
    responses carry the right high watermark, so this reads from one offset
    before the listed end to the end of the partition (at most one batch) and
    takes the offset the consumer reaches. On Apache Kafka the listed end is
    already right and this reads one record per partition.
    """
    from confluent_kafka import KafkaError, TopicPartition

    wanted = list(dict.fromkeys(partitions))
    if not wanted:
        return {}
    consumer = assigned_consumer(bootstrap, "sla-engine-end-offsets")
    try:
        result: dict[tuple[str, int], int] = {}
        start: list[TopicPartition] = []
        for topic, partition in wanted:
            low, listed = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout
            )
            result[(topic, partition)] = listed
            if listed > low:
                start.append(TopicPartition(topic, partition, max(low, listed - 1)))
        if not start:
            return result
        consumer.assign(start)
        pending = {(tp.topic, tp.partition) for tp in start}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.1):
                key = (str(msg.topic()), int(msg.partition() or 0))
                offset = int(msg.offset() or 0)
                err = msg.error()
                if err is not None and err.code() == KafkaError._PARTITION_EOF:
                    result[key] = max(result[key], offset)
                    pending.discard(key)
                elif err is None:
                    result[key] = max(result[key], offset + 1)
                else:
                    raise BrokerError(f"reading the end of {key}: {err}")
        if pending:
            raise BrokerError(f"no end of partition(s) {sorted(pending)} within {timeout} s")
        return result
    finally:
        consumer.close()
