"""Locating a range without a broker: an unreachable broker is one line that says what to do.
(Locating in real topics: tests/integration/test_replay_topic.py.)"""

from __future__ import annotations

import pytest

from kafka_io import range_locate
from kafka_io.process import free_port
from kafka_io.range_locate import RangeError, check_reachable


def test_an_unreachable_broker_names_the_address_and_the_hint() -> None:
    dead = f"127.0.0.1:{free_port()}"
    with pytest.raises(RangeError, match=f"no Kafka broker answers at {dead} .*broker's address"):
        check_reachable(dead, 1.0)
    range_locate.set_unreachable_hint(lambda: "try --broker")
    try:
        with pytest.raises(RangeError, match=r"; try --broker$"):
            check_reachable(dead, 1.0)
    finally:
        range_locate.set_unreachable_hint(range_locate._default_hint)
    with pytest.raises(RangeError, match="not HOST:PORT"):
        check_reachable("localhost", 1.0)
