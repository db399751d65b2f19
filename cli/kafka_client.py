"""Kafka clients for the live commands: a dead broker is one clear message and exit 2, never a
flood of librdkafka lines or a traceback."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from cli.invocation import self_command
from kafka_io import client as kafka_client
from kafka_io.admin import BrokerError, check_access
from kafka_io.range_locate import RangeError, check_reachable, partitions_of

# librdkafka's own log lines (`FAIL … Connection refused`, one per retry) go to this logger,
# silent unless a handler and level are configured for it; the commands say once what is wrong.
KAFKA_LOG = logging.getLogger("sla_engine.kafka")
KAFKA_LOG.setLevel(logging.CRITICAL)
KAFKA_LOG.propagate = False
KAFKA_LOG.addHandler(logging.NullHandler())

DEFAULT_CONNECT_TIMEOUT = 10.0


def broker_hint() -> str:
    """What to do when no broker answers: the flag, the variable, the commands that start one."""
    cmd = self_command()
    return (
        f"check --broker / SLA_BROKER (`{cmd} run` and `{cmd} broker` print the embedded "
        "broker's address)"
    )


def fail(command: str, message: str) -> SystemExit:
    """Print `sla-engine COMMAND: message` on stderr; the SystemExit(2) to raise."""
    print(f"sla-engine {command}: {message}", file=sys.stderr, flush=True)
    return SystemExit(2)


def config(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """Client settings: the process's security settings (TLS, SASL: `kafka_io.client`),
    librdkafka logs through `logging` (silent by default)."""
    return kafka_client.conf(bootstrap, **{"logger": KAFKA_LOG, **extra})


def require_broker(bootstrap: str, command: str, timeout: float) -> None:
    """Exit 2 with the address when nothing answers Kafka requests there within `timeout`."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    try:
        check_reachable(bootstrap, min(2.0, timeout))  # refused: say so now, not in 10 s
        check_access(bootstrap, timeout)  # refused by TLS or SASL: one line with the reason
        AdminClient(config(bootstrap)).list_topics(timeout=timeout)
    except (RangeError, BrokerError) as e:
        raise fail(command, str(e)) from None
    except KafkaException as e:
        raise fail(
            command,
            f"no Kafka broker answers at {bootstrap} within {timeout:g} s ({e.args[0]}); "
            "check --broker / SLA_BROKER",
        ) from None


def topic_partitions(consumer: Any, bootstrap: str, topic: str, command: str) -> list[int]:
    """The topic's partitions; exit 2 listing the likely topic when it does not exist."""
    try:
        return partitions_of(consumer, bootstrap, topic, DEFAULT_CONNECT_TIMEOUT)
    except RangeError as e:
        raise fail(command, str(e)) from None


class Outage:
    """Says once that the broker stopped answering and gives up after `timeout` seconds of it."""

    def __init__(self, command: str, bootstrap: str, timeout: float) -> None:
        self.command = command
        self.bootstrap = bootstrap
        self.timeout = timeout
        self.since: float | None = None

    def error_cb(self, err: Any) -> None:
        """librdkafka's error callback: every broker down (or unreachable) starts the outage."""
        from confluent_kafka import KafkaError

        down = err.code() in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT)
        if down and self.since is None:
            self.since = time.monotonic()
            print(
                f"sla-engine {self.command}: the broker at {self.bootstrap} does not answer; "
                f"giving up after {self.timeout:g} s (--connect-timeout)",
                file=sys.stderr,
                flush=True,
            )

    def alive(self) -> None:
        """A message arrived: the outage (if any) is over."""
        if self.since is not None:
            self.since = None
            print(f"sla-engine {self.command}: the broker answers again", file=sys.stderr)

    def check(self, client: Any) -> None:
        """During an outage, ask `client` for metadata (the outage ends when it answers); raise
        SystemExit(2) once it lasted longer than the timeout."""
        from confluent_kafka import KafkaException

        if self.since is None:
            return
        try:
            client.list_topics(timeout=0.5)
        except KafkaException:
            pass
        else:
            self.alive()
            return
        if time.monotonic() - self.since > self.timeout:
            raise fail(
                self.command,
                f"no Kafka broker answers at {self.bootstrap} for {self.timeout:g} s; giving up",
            )
