"""The tansu work-arounds are switched on only for tansu: on Apache Kafka the worker runs with
Faust's recovery consistency check on and without the end-offset and fetch-wait patches."""

from __future__ import annotations

import pytest

from tests.integration.conftest import BrokerHandle
from topologies.app import consistency_check, on_tansu
from topologies.settings import Settings


def test_work_arounds_only_on_tansu(broker: BrokerHandle) -> None:
    if broker.kind == "external":
        pytest.skip("an external broker may be of either kind")
    settings = Settings(broker=broker.bootstrap)
    tansu = on_tansu(settings)
    assert tansu == (broker.kind == "tansu")
    assert consistency_check(settings, tansu) == (broker.kind != "tansu")
