"""A real Prometheus server scrapes a real worker fed with demo traffic; every query of the
Grafana dashboard returns data, and the shipped alert rules load (issue 6)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
import yaml

from kafka_io.process import free_port
from tests.docker.conftest import PROMETHEUS, find_prometheus
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, keyed, produce
from topologies.dashboard import queries
from topologies.demo import run_stream

INSTALL_HINT = (
    "prometheus not found: install Debian's `prometheus` package "
    "(`sudo apt-get install prometheus`; scripts/bootstrap does it when run as root), "
    "or set PROMETHEUS_BIN to the server binary"
)
WAIT_S = 150


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    path = find_prometheus()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(INSTALL_HINT)
        pytest.skip(INSTALL_HINT)
    return path


def today_history(now: datetime) -> list[dict[str, Any]]:
    """Tickets of today (reporting zone) that were answered, resolved and surveyed, two teams
    and two complaints among them, so every KPI of the day has a base; and unanswered A tickets
    whose first-response warning falls due a few seconds from now (fired by a timer)."""
    midnight = now.astimezone(ZoneInfo("Asia/Shanghai")).replace(hour=0, minute=0, second=0)
    t0 = max(midnight.astimezone(UTC), now - timedelta(minutes=10))
    step = (now - t0) / 40
    out: list[dict[str, Any]] = []
    for i in range(6):
        tid = f"PROM-{i}"
        base = t0 + step * i
        team = "team-a" if i < 3 else "team-b"
        life = [
            (
                "created",
                base,
                {
                    "priority": "B",
                    "category": "complaint" if i < 2 else "simple",
                    "channel": "phone",
                    "team": team,
                    "agent": f"a-{i}",
                    "supervisor": "s-1",
                    "department": "after-sales",
                    "product_line": "router",
                    "customer": {"id": f"c-{i}"},
                },
            ),
            ("responded", base + step, {}),
            ("resolved", base + 2 * step, {}),
            (
                "survey_submitted",
                base + 3 * step,
                {
                    "survey": dict.fromkeys(
                        (
                            "responsiveness",
                            "problem_solving",
                            "professionalism",
                            "patience",
                            "proactive",
                            "overall",
                            "recommend",
                        ),
                        5 if team == "team-a" else 2,
                    )
                },
            ),
        ]
        for n, (kind, at, fields) in enumerate(life, 1):
            out.append(
                {
                    "event_id": f"{tid}-{n}",
                    "ticket_id": tid,
                    "type": kind,
                    "occurred_at": at.isoformat(),
                    **fields,
                }
            )
    for i in range(3):
        out.append(
            {
                "event_id": f"PROM-DUE-{i}-1",
                "ticket_id": f"PROM-DUE-{i}",
                "type": "created",
                "occurred_at": (now - timedelta(seconds=50)).isoformat(),
                "priority": "A",
                "category": "simple",
                "channel": "phone",
                "team": "team-a",
            }
        )
    return out


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as r:
        body = orjson.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]


def has_data(port: int, expr: str) -> bool:
    """An instant query returns at least one series with a number (not NaN)."""
    result = api(port, "/api/v1/query", query=expr)["result"]
    return any(r["value"][1] not in ("NaN", "+Inf", "-Inf") for r in result)


# Apache Kafka only (CI time): scraping and the dashboard's queries do not depend on the broker.
@pytest.mark.brokers("kafka")
def test_every_dashboard_query_returns_data(
    broker: BrokerHandle, prometheus_bin: str, tmp_path: Path
) -> None:
    topics = Topics.unique(broker.bootstrap)
    worker = WorkerProcess(
        broker.bootstrap,
        topics,
        tmp_path / "data",
        tmp_path / "w.log",
        extra=["--kpi-interval", "1"],
    ).start()
    port = free_port()
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["evaluation_interval"] = "1s"
    for job in config["scrape_configs"]:
        if job["job_name"] == "sla-engine":
            job["static_configs"] = [{"targets": [f"127.0.0.1:{worker.metrics_port}"]}]
        else:
            job["static_configs"] = [{"targets": [f"127.0.0.1:{port}"]}]
    (tmp_path / "rules.yml").write_text((PROMETHEUS / "rules.yml").read_text())
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = (tmp_path / "prometheus.log").open("wb")
    server = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stop = threading.Event()
    demo = threading.Thread(
        target=run_stream, args=(broker.bootstrap, topics.events, stop, 3.0, 7), daemon=True
    )
    missing = set(queries())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                api(port, "/api/v1/status/buildinfo")
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
                time.sleep(0.3)
        demo.start()
        produce(broker.bootstrap, topics.events, keyed(today_history(datetime.now(UTC))))
        produce(broker.bootstrap, topics.events, [(b"PROM-X", b"not json")])
        deadline = time.monotonic() + WAIT_S
        while missing and time.monotonic() < deadline:
            missing = {q for q in missing if not has_data(port, q)}
            time.sleep(2)
        rules = api(port, "/api/v1/rules")["groups"]
    finally:
        stop.set()
        server.terminate()
        server.wait(20)
        worker.stop()
    assert missing == set(), f"queries without data: {sorted(missing)}\n{worker.log_tail()}"
    loaded = [r for g in rules for r in g["rules"]]
    assert len(loaded) == 5
    assert all(r["health"] == "ok" for r in loaded), loaded
