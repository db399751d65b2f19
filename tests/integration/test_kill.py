"""kill -9 of the worker, with and without the broker paused: no alert is lost (issue 11, 1).

Each test has its own embedded broker, so pausing it (SIGSTOP) disturbs no other test. The
worker is killed while it has processed records whose alerts are not on the broker yet; a new
worker on the same data dir must then announce every decision a replay of the events makes
(by decision and by alert id, none with two contents)."""

from __future__ import annotations

import os
import signal
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.instant import to_us
from kafka_io.embedded import EmbeddedBroker
from tests.integration.harness import (
    Topics,
    WorkerProcess,
    alerts_of,
    consume,
    effective_keys,
    key_of,
    keyed,
    produce,
)
from tests.integration.test_worker import created, due_by, replay_keys

N_TICKETS = 2000


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(log_dir=tmp_path / "broker").start()
    try:
        yield broker
    finally:
        os.kill(broker.pid, signal.SIGCONT)  # never leave it stopped
        broker.stop()


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def one_content_per_id(alerts: list[dict[str, Any]]) -> None:
    contents: dict[str, set[Any]] = defaultdict(set)
    for a in alerts:
        contents[a["alert_id"]].add((*key_of(a), a.get("retracts")))
    two = {i: c for i, c in contents.items() if len(c) > 1}
    assert not two, f"alert ids with two contents: {list(two.items())[:3]}"


@pytest.mark.parametrize(
    ("phase", "paused"),
    [("consuming", True), ("emitting", True), ("emitting", False)],
)
def test_sigkill_loses_no_alert(
    own_broker: EmbeddedBroker, tmp_path: Path, phase: str, paused: bool
) -> None:
    bootstrap = own_broker.bootstrap
    topics = Topics.unique(bootstrap)
    now = datetime.now(UTC)
    if phase == "consuming":
        # every created is late: warning, breach and escalation fire as it is processed
        events = [created(f"C{i:04d}", now - timedelta(seconds=200)) for i in range(N_TICKETS)]
    else:
        # warnings on arrival; the breaches (120 s) fall due ~10-14 s from now, from the timers
        events = [
            created(f"E{i:04d}", now - timedelta(seconds=106 + i % 5)) for i in range(N_TICKETS)
        ]
    data = tmp_path / "data"
    w1 = WorkerProcess(bootstrap, topics, data, tmp_path / "w1.log").start()
    produce(bootstrap, topics.events, keyed(events))
    if phase == "consuming":
        wait_for(lambda: w1.sample("sla_events_consumed_total") >= 300, 90, "events consumed")
    else:
        wait_for(lambda: _breaches(w1) >= 200, 120, "breaches from the timers")
    if paused:
        os.kill(own_broker.pid, signal.SIGSTOP)
        time.sleep(1.5)  # the fault: the worker goes on with what it fetched, nothing delivered
    killed_at = to_us(datetime.now(UTC))
    w1.kill()
    if paused:
        os.kill(own_broker.pid, signal.SIGCONT)
    w2 = WorkerProcess(bootstrap, topics, data, tmp_path / "w2.log").start()
    try:
        lines = [orjson.dumps(e) + b"\n" for e in events]
        until = killed_at  # everything due by the kill: what the killed worker may have lost
        want = due_by(replay_keys(lines, until), until)

        def complete(msgs: list[Any]) -> bool:
            return due_by(effective_keys(alerts_of(msgs)), until) >= want

        got_all = alerts_of(consume(bootstrap, topics.alerts, until=complete, timeout=90, idle=2))
        got = due_by(effective_keys(got_all), until)
        assert len(want) > N_TICKETS and any(k[3] == "breach" for k in want)
        missing = want - got
        assert not missing, f"{len(missing)} decisions never announced, e.g. {sorted(missing)[:3]}"
        assert got == want
        one_content_per_id(got_all)
    finally:
        w2.stop()


def _breaches(worker: WorkerProcess) -> float:
    total = 0.0
    for line in worker.metrics().splitlines():
        if line.startswith("sla_alerts_total{") and 'kind="breach"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total
