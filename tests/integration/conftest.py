"""Fixtures for tests against a real Kafka-protocol broker.

By default one embedded ``tansu`` broker (in-memory storage, free loopback port)
is started for the whole session. Set ``SLA_TEST_BOOTSTRAP=host:port`` to run the
same tests against an external broker (e.g. the Apache Kafka of ``docker/``).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from topologies.broker import EmbeddedBroker, create_topics, wait_until_ready

EXTERNAL_BOOTSTRAP_ENV = "SLA_TEST_BOOTSTRAP"


@dataclass(frozen=True)
class BrokerHandle:
    """What a test needs to know about the broker it runs against."""

    bootstrap: str
    embedded: bool  # True: the embedded tansu broker, with its known limits
    log_path: Path | None = None

    def create_topics(
        self, topics: Mapping[str, int], config: Mapping[str, str] | None = None
    ) -> None:
        create_topics(self.bootstrap, topics, config)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerHandle]:
    """A Kafka-protocol broker for the whole test session."""
    external = os.environ.get(EXTERNAL_BOOTSTRAP_ENV)
    if external:
        wait_until_ready(external, timeout=30)
        yield BrokerHandle(bootstrap=external, embedded=False)
        return
    log_dir = tmp_path_factory.mktemp("broker")
    embedded = EmbeddedBroker(log_dir=log_dir)
    embedded.start()
    try:
        yield BrokerHandle(bootstrap=embedded.bootstrap, embedded=True, log_path=embedded.log_path)
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
