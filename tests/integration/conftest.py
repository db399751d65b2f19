"""Fixtures for tests against real Kafka-protocol brokers.

Every test that takes the ``broker`` fixture runs twice: on the embedded ``tansu`` broker
(in-memory, its known quirks) and on Apache Kafka (KRaft, one node, started by
``kafka_io.apache``). One broker of each kind serves the whole session.
``SLA_TEST_BROKERS=tansu`` (or ``kafka``) runs on one kind only. A test marked
``@pytest.mark.brokers("kafka")`` runs on the listed kinds only: the slow end-to-end checks of a
guarantee that does not depend on the broker's quirks run on the production broker, to keep CI
short. ``SLA_TEST_BOOTSTRAP=host:port``
runs the same tests against an external broker instead (e.g. the Apache Kafka of ``docker/``).
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from kafka_io.admin import create_topics, wait_until_ready
from kafka_io.embedded import EmbeddedBroker
from tests.conftest import KIND_PROPERTY

EXTERNAL_BOOTSTRAP_ENV = "SLA_TEST_BOOTSTRAP"
BROKERS_ENV = "SLA_TEST_BROKERS"
KINDS = ("tansu", "kafka")
JAVA_HINT = (
    "Apache Kafka needs Java 17+ and Maven: run scripts/bootstrap as root, or "
    "apt-get install openjdk-17-jre-headless maven (SLA_TEST_BROKERS=tansu skips Kafka)"
)


def broker_kinds() -> list[str]:
    """The broker kinds this session runs the integration tests on."""
    if os.environ.get(EXTERNAL_BOOTSTRAP_ENV):
        return ["external"]
    raw = os.environ.get(BROKERS_ENV, ",".join(KINDS))
    kinds = [k.strip() for k in raw.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise pytest.UsageError(f"{BROKERS_ENV}: unknown broker kind(s) {unknown}; use {KINDS}")
    return kinds


@dataclass(frozen=True)
class BrokerHandle:
    """What a test needs to know about the broker it runs against."""

    bootstrap: str
    embedded: bool  # True: the embedded tansu broker, with its known limits
    log_path: Path | None = None
    kind: str = "tansu"  # tansu | kafka | external

    def create_topics(
        self, topics: Mapping[str, int], config: Mapping[str, str] | None = None
    ) -> None:
        create_topics(self.bootstrap, topics, config)


def need_kafka() -> None:
    """Skip (fail on CI) when Java or Maven is missing."""
    if shutil.which("java") and shutil.which("mvn"):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(JAVA_HINT)
    pytest.skip(JAVA_HINT)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark integration tests, note each test's broker kind, and deselect the runs a
    `brokers(...)` mark leaves out (an external broker runs everything)."""
    here = Path(__file__).parent
    kept, dropped = [], []
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)
        callspec = getattr(item, "callspec", None)
        kind = callspec.params.get("broker") if callspec is not None else None
        only = item.get_closest_marker("brokers")
        if only is not None and kind in KINDS and kind not in only.args:
            dropped.append(item)
            continue
        kept.append(item)
        if kind is None and item.get_closest_marker("kafka_only"):
            kind = "kafka"
        if kind is not None:
            # The kind travels with the report: xdist's controller never collects.
            item.user_properties.append((KIND_PROPERTY, str(kind)))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", params=broker_kinds())
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[BrokerHandle]:
    """A Kafka-protocol broker of one kind for the whole test session."""
    kind = str(request.param)
    if kind == "external":
        external = os.environ[EXTERNAL_BOOTSTRAP_ENV]
        wait_until_ready(external, timeout=30)
        yield BrokerHandle(bootstrap=external, embedded=False, kind=kind)
        return
    if kind == "kafka":
        need_kafka()
        from kafka_io.apache import KafkaBroker

        kafka = KafkaBroker(data_dir=tmp_path_factory.mktemp("kafka"))
        kafka.start()
        try:
            yield BrokerHandle(kafka.bootstrap, False, kafka.data_dir / "kafka.log", kind)
        finally:
            kafka.stop()
        return
    log_dir = tmp_path_factory.mktemp("broker")
    embedded = EmbeddedBroker(log_dir=log_dir)
    embedded.start()
    try:
        yield BrokerHandle(embedded.bootstrap, True, embedded.log_path, kind)
    finally:
        embedded.stop()


TopicFactory = Callable[..., str]


@pytest.fixture
def make_topic(broker: BrokerHandle, request: pytest.FixtureRequest) -> TopicFactory:
    """Create a topic with a name unique to this test: ``make_topic(partitions=4)``."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:150]

    def factory(
        partitions: int = 4, suffix: str = "", config: Mapping[str, str] | None = None
    ) -> str:
        name = f"{base}{'-' + suffix if suffix else ''}-{uuid.uuid4().hex[:8]}"
        broker.create_topics({name: partitions}, config)
        return name

    return factory
