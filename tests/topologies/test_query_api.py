"""The query API's input bounds and bind setting, without a broker (the HTTP tests with real
workers are in tests/integration/test_status_api.py)."""

from __future__ import annotations

import socket

import pytest

from kafka_io.process import free_port
from schemas.openapi import MAX_WITHIN_S, WITHIN_PATTERN
from topologies.query_api import BadRequest, _limit, _within, bind
from topologies.settings import Settings, resolve


@pytest.mark.parametrize(("raw", "us"), [("90s", 90_000_000), ("15m", 900_000_000), ("0", 0)])
def test_windows_in_bounds(raw: str, us: int) -> None:
    assert _within(raw) == us


@pytest.mark.parametrize("raw", ["forever", "-5m", "1.5h", "400d", "10000m", "200h", "1000000"])
def test_windows_out_of_bounds_are_refused(raw: str) -> None:
    with pytest.raises(BadRequest):
        _within(raw)


def test_every_window_the_pattern_admits_is_within_the_bound() -> None:
    import re

    for raw in ("999999", "999999s", "9999m", "199h", "9d"):
        assert re.fullmatch(WITHIN_PATTERN, raw)
        assert _within(raw) <= MAX_WITHIN_S * 1_000_000


def test_limits() -> None:
    assert _limit(None) == 100 and _limit("1000") == 1000
    for raw in ("0", "1001", "-1", "ten", ""):
        with pytest.raises(BadRequest):
            _limit(raw)


def test_loopback_by_default_and_the_advertised_url() -> None:
    s = Settings()
    assert (s.api_host, s.api_port) == ("127.0.0.1", 9110)
    assert s.advertised_api_url == "http://127.0.0.1:9110"
    env = {"SLA_API_HOST": "0.0.0.0", "SLA_API_PORT": "9200"}
    assert resolve(environ=env).advertised_api_url == "http://127.0.0.1:9200"
    env["SLA_API_URL"] = "http://engine-1:9200/"
    assert resolve(environ=env).advertised_api_url == "http://engine-1:9200"


def test_a_port_in_use_stops_the_start_with_a_message() -> None:
    port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        with pytest.raises(SystemExit, match=f"cannot serve the status API on 127.0.0.1:{port}"):
            bind("127.0.0.1", port)
