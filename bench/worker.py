"""One `sla-engine run` under a benchmark: its own topics, data dir, metrics and API ports."""

from __future__ import annotations

import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.figures import metric_sum
from bench.procs import Child, rss_bytes


@dataclass
class Worker:
    """One `sla-engine run --broker …` with its own topics, data dir and metrics port."""

    bootstrap: str
    tag: str
    work: Path
    partitions: int = 4
    profile: Path | None = None
    child: Child | None = None
    metrics_port: int = 0
    api_port: int = 0
    launcher: Sequence[str] = ()  # how to run `sla-engine`; default: this Python, cli.main
    extra: Sequence[str] = ()  # more `sla-engine run` flags (e.g. --restore, --log-level)
    role: str = "all"  # `--role`: workers of one tag share its topics, each its own data dir

    def __post_init__(self) -> None:
        if not self.metrics_port:
            from kafka_io.process import free_port

            self.metrics_port = free_port()
        if not self.api_port:
            from kafka_io.process import free_port

            self.api_port = free_port()

    @property
    def events_topic(self) -> str:
        return f"bench-{self.tag}.events"

    @property
    def alerts_topic(self) -> str:
        return f"bench-{self.tag}.alerts"

    @property
    def name(self) -> str:
        """The tag, with the role unless it is `all` (data dir and log names)."""
        return self.tag if self.role == "all" else f"{self.tag}-{self.role}"

    @property
    def data_dir(self) -> Path:
        return self.work / f"engine-{self.name}"

    def command(self) -> list[str]:
        t = f"bench-{self.tag}"
        return [
            "run",
            "--broker",
            self.bootstrap,
            "--group",
            t,
            "--events-topic",
            self.events_topic,
            "--alerts-topic",
            self.alerts_topic,
            "--dlq-topic",
            f"{t}.dlq",
            "--ticks-topic",
            f"{t}.ticks",
            # Its own KPI topics: a worker's aggregator reads its facts topic from the start,
            # so a shared one would make each worker also fold the facts of the previous ones.
            "--kpis-topic",
            f"{t}.kpis",
            "--kpi-facts-topic",
            f"{t}.kpi-facts",
            "--status-topic",
            f"{t}.status",
            "--api-port",
            str(self.api_port),
            "--partitions",
            str(self.partitions),
            "--data-dir",
            str(self.data_dir),
            "--metrics-port",
            str(self.metrics_port),
            *self.extra,
            *(["--role", self.role] if self.role != "all" else []),
        ]

    def create_topics(self) -> None:
        from kafka_io.admin import create_topics

        t = f"bench-{self.tag}"
        create_topics(
            self.bootstrap,
            {
                self.events_topic: self.partitions,
                self.alerts_topic: self.partitions,
                f"{t}.ticks": self.partitions,
                f"{t}.dlq": 1,
            },
        )
        create_topics(
            self.bootstrap,
            {f"{t}.kpis": 1, f"{t}.kpi-facts": 1, f"{t}.status": self.partitions},
            {"cleanup.policy": "compact"},
        )

    def start(self, timeout: float = 60.0) -> Worker:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        launcher = list(self.launcher) or [sys.executable, "-m", "cli.main"]
        cmd = [*launcher, *self.command()]
        self.child = Child(cmd, self.work / f"worker-{self.name}.log", self.profile).start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.child.alive():
                raise RuntimeError(f"the worker exited: {self.child.log_tail()}")
            try:
                self.scrape()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"the worker serves no /metrics: {self.child.log_tail()}")

    def scrape(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as r:
            text: str = r.read().decode()
            return text

    def sample(self, name: str) -> float | None:
        return metric_sum(self.scrape(), name)

    def wait_events(
        self, target: float, timeout: float, interval: float = 1.0
    ) -> list[tuple[float, float]]:
        """Poll ``sla_events_consumed_total`` until it reaches ``target``; the samples.

        A scrape costs the worker's GIL time (its exposition is large): poll once a second."""
        samples: list[tuple[float, float]] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                value = self.sample("sla_events_consumed_total") or 0.0
            except OSError:
                value = samples[-1][1] if samples else 0.0
            samples.append((time.monotonic(), value))
            if value >= target:
                return samples
            if self.child is None or not self.child.alive():
                raise RuntimeError(f"the worker exited: {self.child and self.child.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker consumed {value:.0f} of {target} in {timeout} s")
            time.sleep(interval)

    def wait_gauge(self, name: str, target: float, timeout: float) -> float | None:
        """The gauge once it equals ``target`` (it is set every timer scan); at timeout, the
        largest value seen."""
        deadline = time.monotonic() + timeout
        seen = [self.sample(name)]
        while seen[-1] != target and time.monotonic() < deadline:
            time.sleep(0.5)
            seen.append(self.sample(name))
        if seen[-1] == target:
            return target
        values = [v for v in seen if v is not None]
        return max(values) if values else None

    def pid(self) -> int:
        assert self.child is not None
        return self.child.pid

    def rss(self) -> int | None:
        return rss_bytes(self.child.pid) if self.child else None

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()
