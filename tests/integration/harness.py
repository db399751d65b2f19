"""Real worker processes and Kafka clients for the integration tests (no mocks on the data path)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

from engine.effective import effective  # what a consumer ends up with (id → alert)
from kafka_io.admin import create_topics
from kafka_io.process import free_port
from kafka_io.producer import make_producer

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Topics:
    events: str
    alerts: str
    dlq: str
    ticks: str
    group: str
    partitions: int = 4
    kpis: str = ""
    kpi_facts: str = ""
    status: str = ""

    @classmethod
    def unique(cls, bootstrap: str, partitions: int = 4) -> Topics:
        tag = uuid.uuid4().hex[:8]
        t = cls(
            f"it-{tag}.events",
            f"it-{tag}.alerts",
            f"it-{tag}.dlq",
            f"it-{tag}.ticks",
            f"it-{tag}",
            partitions,
            f"it-{tag}.kpis",
            f"it-{tag}.kpi-facts",
            f"it-{tag}.status",
        )
        create_topics(
            bootstrap, {t.events: partitions, t.alerts: partitions, t.ticks: partitions, t.dlq: 1}
        )
        create_topics(
            bootstrap,
            {t.kpis: 1, t.kpi_facts: 1, t.status: partitions},
            {"cleanup.policy": "compact"},
        )
        return t


@dataclass
class WorkerProcess:
    """One `sla-engine run --broker …` process with its own data dir and metrics port."""

    bootstrap: str
    topics: Topics
    data_dir: Path
    log_path: Path
    metrics_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    extra: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None  # default: this process's
    proc: subprocess.Popen[bytes] | None = None
    _served: bool = field(default=False, repr=False)  # /metrics answered since the last start

    def start(self) -> WorkerProcess:
        self._served = False
        t = self.topics
        cmd = [
            sys.executable,
            "-m",
            "cli.main",
            "run",
            "--broker",
            self.bootstrap,
            "--data-dir",
            str(self.data_dir),
            "--metrics-port",
            str(self.metrics_port),
            "--group",
            t.group,
            "--events-topic",
            t.events,
            "--alerts-topic",
            t.alerts,
            "--dlq-topic",
            t.dlq,
            "--ticks-topic",
            t.ticks,
            "--kpis-topic",
            t.kpis,
            "--kpi-facts-topic",
            t.kpi_facts,
            "--status-topic",
            t.status,
            "--api-port",
            str(self.api_port),
            "--partitions",
            str(t.partitions),
            "--log-level",
            "INFO",
            *self.extra,
        ]
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**(self.env if self.env is not None else os.environ)},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_tail()}")
            try:
                self.metrics()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"worker did not serve /metrics: {self.log_tail()}")

    def metrics(self) -> str:
        """One HTTP scrape; a worker that has exited is reported with its log, not as a
        refused connection."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
            ) as r:
                body = r.read().decode()
                self._served = True
                return body
        except OSError:
            if self.proc is not None and self._gone():
                raise RuntimeError(
                    f"worker exited ({self.proc.returncode}): {self.log_tail(60)}"
                ) from None
            raise

    def _gone(self) -> bool:
        """Whether the process has exited (a few seconds' grace: it may be on its way out)."""
        assert self.proc is not None
        try:
            self.proc.wait(5 if self._served else 0)
        except subprocess.TimeoutExpired:
            return False
        return True

    def sample(self, name: str) -> float:
        """Sum of a metric's samples (all label sets) from a real HTTP scrape."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_recovered(self, timeout: float = 60) -> WorkerProcess:
        """Until the worker's first table recovery is done (it processes what arrives now)."""
        wait_until(lambda: self.sample("sla_recovery_duration_seconds") > 0, timeout, "recovery")
        return self

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes | None, bytes]]) -> int:
    p = make_producer(bootstrap, linger_ms=10)
    n = 0
    for key, value in messages:
        p.produce(topic, key=key, value=value)
        n += 1
    assert p.flush(30) == 0
    return n


def keyed(events: Iterable[dict[str, Any]]) -> list[tuple[bytes | None, bytes]]:
    return [(e["ticket_id"].encode(), orjson.dumps(e)) for e in events]


def consume(
    bootstrap: str, topic: str, *, until: Any = None, timeout: float = 60, idle: float = 3.0
) -> list[Any]:
    """Every message of `topic` from the beginning: stop when `until(messages)` is true and the
    topic has been quiet for `idle` seconds, or at `timeout`."""
    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"it-read-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    # assign, not subscribe: no group join to wait for; the topic may not exist yet
    partitions: list[int] = []
    start = time.monotonic()
    while not partitions and time.monotonic() - start < timeout:
        meta = c.list_topics(timeout=10).topics.get(topic)
        partitions = sorted(meta.partitions) if meta is not None and not meta.error else []
        if not partitions:
            time.sleep(0.5)
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    out: list[Any] = []
    start = last = time.monotonic()
    try:
        while time.monotonic() - start < timeout:
            msg = c.poll(0.2)
            now = time.monotonic()
            if msg is not None and not msg.error():
                out.append(msg)
                last = now
                continue
            done = until(out) if until is not None else True
            if done and now - last >= idle:
                break
    finally:
        c.close()
    return out


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` until it holds; fail saying `what` did not happen within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.2)


def alerts_of(messages: list[Any]) -> list[dict[str, Any]]:
    return [orjson.loads(m.value()) for m in messages]


DecisionKey = tuple[str, str, int, str, str | None, str]


def key_of(a: dict[str, Any]) -> DecisionKey:
    return (a["ticket_id"], a["clock"], a["cycle"], a["kind"], a["level"], a["due_at"])


def effective_keys(alerts: list[dict[str, Any]]) -> set[DecisionKey]:
    eff = effective(alerts)
    counts = Counter(key_of(a) for a in eff.values())
    dupes = {k for k, n in counts.items() if n > 1}
    assert not dupes, f"one decision under two ids: {sorted(dupes)[:3]}"
    return set(counts)
