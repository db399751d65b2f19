"""`sla-engine bench stream`: the live path side by side with its baselines, in one run.

On one embedded broker, with the same pre-loaded events (4 partitions, keyed by ticket id,
``occurred_at`` in the past), one consumer process at a time:

(a) ``raw``: a confluent-kafka consumer that only decodes JSON (in this process);
(b) ``faust``: a Faust pass-through agent that decodes JSON, with the Faust settings of
    :func:`topologies.app.build_app` (a subprocess: ``python -m topologies.bench_stream``);
(c) ``engine``: the real worker, ``sla-engine run`` (a subprocess), timed from its own
    ``sla_events_consumed_total`` counter scraped over HTTP.

Each rate runs from the first event read to the last, so start-up and group joins are left out.

Then timers, on a fresh worker with fresh topics and state: open tickets (``created`` then
``responded``: their next deadline is hours away) to hold the index, then ``due`` tickets whose
first-response warning (priority A, 60 s) falls due spread over a short window a few seconds
after they are loaded. The warnings' ``detected_at - due_at`` gives the timer latency; the
worker's RSS and the bytes of its data directory are divided by the open tickets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

S_US = 1_000_000
WARNING_AFTER_S = 60
RESULT_MARK = b"bench-stream-result "  # priority A first_response target in the default policy

# -- pure helpers (unit-tested) -------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def lag_summary(lags_s: Sequence[float]) -> dict[str, float | int]:
    """Count, p50, p99 and max of latencies in seconds (rounded to ms)."""
    if not lags_s:
        return {"count": 0, "p50_s": math.nan, "p99_s": math.nan, "max_s": math.nan}
    return {
        "count": len(lags_s),
        "p50_s": round(percentile(lags_s, 50), 3),
        "p99_s": round(percentile(lags_s, 99), 3),
        "max_s": round(max(lags_s), 3),
    }


def rate_from_samples(samples: Sequence[tuple[float, float]], target: float) -> float | None:
    """Events/s of a counter that climbs from 0 to ``target``, from ``(time, count)`` samples.

    From the first sample with a count > 0 (the group join and start-up before it are left
    out) to the last sample below ``target``: both fall inside the run, so the time between the
    true end and the sample that saw it is left out too. With no sample between them, the
    first sample that reached ``target`` ends the interval. None if ``target`` was never seen."""
    start = next(((t, c) for t, c in samples if c > 0), None)
    reached = next(((t, c) for t, c in samples if c >= target), None)
    if start is None or reached is None:
        return None
    inner = [(t, c) for t, c in samples if start[0] < t < reached[0] and c < target]
    end = inner[-1] if inner else reached
    if end[0] <= start[0]:
        return None
    return (end[1] - start[1]) / (end[0] - start[0])


def metric_sum(text: str, name: str) -> float | None:
    """Sum of every sample of metric ``name`` in a Prometheus text exposition (None: absent)."""
    total, found = 0.0, False
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
            found = True
    return total if found else None


def due_schedule(start_us: int, n: int, lead_s: float, window_s: float) -> list[int]:
    """``n`` deadlines (µs) spread evenly over ``[start + lead, start + lead + window)``."""
    first = start_us + int(lead_s * S_US)
    step = window_s * S_US / max(n, 1)
    return [first + int(i * step) for i in range(n)]


def lags_of(alerts: Iterable[dict[str, Any]], prefix: str) -> list[float]:
    """``detected_at - due_at`` (s) of the first-response warnings of tickets named ``prefix*``."""
    out = []
    for a in alerts:
        if (
            a.get("kind") == "warning"
            and a.get("clock") == "first_response"
            and str(a.get("ticket_id", "")).startswith(prefix)
        ):
            due = datetime.fromisoformat(a["due_at"])
            detected = datetime.fromisoformat(a["detected_at"])
            out.append((detected - due).total_seconds())
    return out


def per(value: float | None, n: float | None) -> float | None:
    """``value / n`` rounded, or None when either is missing or n is 0."""
    if value is None or not n:
        return None
    return round(value / n, 1)


def ratio(num: float | None, den: float | None) -> float | None:
    if num is None or not den:
        return None
    return round(num / den, 4)


def assemble(
    config: dict[str, Any],
    rates: dict[str, float | None],
    timers: dict[str, Any] | None,
) -> dict[str, Any]:
    """The report: events/s of raw (a), faust (b), engine (c), ratios c/a and c/b, timers."""
    a, b, c = rates.get("raw"), rates.get("faust"), rates.get("engine")
    out: dict[str, Any] = {
        **config,
        "events_per_s": {k: None if v is None else round(v) for k, v in rates.items()},
        "ratio_c_a": ratio(c, a),
        "ratio_c_b": ratio(c, b),
        "goal_c_b": 0.5,
    }
    if timers is not None:
        out["timers"] = timers
    return out


def _fmt(v: Any, spec: str) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def summary_line(result: dict[str, Any]) -> str:
    """One human line for stderr."""
    r = result.get("events_per_s", {})
    parts = [
        f"{result.get('broker', 'broker')}, {result.get('events', 0):,} events: "
        f"raw {_fmt(r.get('raw'), ',')}/s",
        f"faust {_fmt(r.get('faust'), ',')}/s",
        f"engine {_fmt(r.get('engine'), ',')}/s",
        f"c/a {_fmt(result.get('ratio_c_a'), '.3f')}",
        f"c/b {_fmt(result.get('ratio_c_b'), '.3f')} (goal >= 0.5)",
    ]
    t = result.get("timers")
    if t:
        lat = t.get("latency", {})
        parts.append(
            f"timers at {_fmt(t.get('open_tickets'), ',')} open: "
            f"p50 {_fmt(lat.get('p50_s'), '.3f')} s p99 {_fmt(lat.get('p99_s'), '.3f')} s "
            f"({lat.get('count', 0)}/{t.get('due_tickets')} warnings), "
            f"RSS {_fmt(t.get('rss_bytes_per_open_ticket'), ',')} B/ticket, "
            f"disk {_fmt(t.get('disk_bytes_per_open_ticket'), ',')} B/ticket"
        )
    return "; ".join(parts)


def dir_bytes(path: Path) -> int:
    """Bytes of every file under ``path``."""
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            if entry.is_file():
                total += entry.stat().st_size
    return total


def rss_bytes(pid: int) -> int | None:
    """VmRSS of process ``pid`` in bytes (None when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


# -- Kafka clients --------------------------------------------------------------------------


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Publish ``(key, value)`` pairs and wait until every one is delivered."""
    from kafka_io.producer import publish

    pairs = ((key, value, 0) for key, value in messages)
    return publish(bootstrap, topic, pairs, **{"queue.buffering.max.messages": 1_000_000})


def keyed_lines(lines: Iterable[bytes]) -> Iterable[tuple[bytes, bytes]]:
    for line in lines:
        value = line.rstrip(b"\n")
        yield orjson.loads(value)["ticket_id"].encode(), value


def bench_raw(bootstrap: str, topic: str, n: int, timeout: float = 120.0) -> float:
    """(a) A plain confluent-kafka consumer: consume(10000) + orjson.loads until ``n`` read."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        count, first = 0, None
        deadline = time.monotonic() + timeout
        while count < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"raw consumer read {count} of {n} in {timeout} s")
            batch = c.consume(10_000, 1.0)
            if not batch:
                continue
            if first is None:
                first = time.perf_counter()
            for msg in batch:
                if msg.error() is None:
                    orjson.loads(msg.value() or b"null")
                    count += 1
        assert first is not None
        return count / (time.perf_counter() - first)
    finally:
        c.close()


def read_topic(
    bootstrap: str, topic: str, until: Callable[[list[dict[str, Any]]], bool], timeout: float
) -> list[dict[str, Any]]:
    """Decoded JSON values of ``topic`` from the beginning until ``until(values)`` or timeout."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-read-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "log_level": 0,
        }
    )
    out: list[dict[str, Any]] = []
    try:
        meta = c.list_topics(topic, timeout=10).topics[topic]
        c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in meta.partitions])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batch = c.consume(10_000, 0.5)
            out.extend(
                orjson.loads(v) for m in batch if m.error() is None and (v := m.value()) is not None
            )
            if until(out):
                break
    finally:
        c.close()
    return out


# -- subprocesses ---------------------------------------------------------------------------


@dataclass
class Child:
    """A subprocess in its own process group, optionally under ``py-spy record``."""

    cmd: list[str]
    log_path: Path
    profile: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    stdout: bool = False
    _log: Any = field(default=None, repr=False)

    def start(self) -> Child:
        cmd = self.cmd
        if self.profile is not None:
            cmd = [
                *_py_spy(),
                "record",
                "--rate",
                "100",
                "--format",
                "raw",
                "--nonblocking",
                "-o",
                str(self.profile),
                "--",
                *cmd,
            ]
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE if self.stdout else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The pid of the Python process (py-spy's child when profiled)."""
        assert self.proc is not None
        if self.profile is None:
            return self.proc.pid
        try:
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            return int(kids.split()[0])
        except (OSError, IndexError, ValueError):
            return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            # SIGINT: Faust shuts down cleanly and py-spy writes its profile.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _py_spy() -> list[str]:
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(exe).exists():
        raise SystemExit("bench stream --profile-dir needs py-spy (pip install py-spy)")
    return [exe]


def bench_faust(
    bootstrap: str, topic: str, n: int, partitions: int, work: Path, profile: Path | None
) -> float:
    """(b) The pass-through agent in a subprocess; its JSON line on stdout has the rate."""
    cmd = [
        sys.executable,
        "-m",
        "topologies.bench_stream",
        "passthrough",
        "--broker",
        bootstrap,
        "--topic",
        topic,
        "--events",
        str(n),
        "--partitions",
        str(partitions),
        "--data-dir",
        str(work / "faust-passthrough"),
    ]
    child = Child(cmd, work / "passthrough.log", profile, stdout=True).start()
    try:
        assert child.proc is not None and child.proc.stdout is not None
        # Blocks until the agent has read n events (or exits). Faust may print a banner first.
        for line in child.proc.stdout:
            at = line.find(RESULT_MARK)  # mode's spinner may precede it on the line
            if at >= 0:
                rate: float = orjson.loads(line[at + len(RESULT_MARK) :])["events_per_s"]
                return rate
        raise RuntimeError(f"the pass-through agent exited: {child.log_tail()}")
    finally:
        child.stop()


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
    def data_dir(self) -> Path:
        return self.work / f"engine-{self.tag}"

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
        self.child = Child(cmd, self.work / f"worker-{self.tag}.log", self.profile).start()
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

    def rss(self) -> int | None:
        return rss_bytes(self.child.pid) if self.child else None

    def stop(self) -> None:
        if self.child is not None:
            self.child.stop()


# -- the phases -----------------------------------------------------------------------------


def preload(bootstrap: str, topic: str, events: int, seed: int) -> dict[str, Any]:
    """Generate ``events`` workload events, all in the past, and produce them keyed by ticket."""
    from cli import workload

    start = datetime.now(UTC) - timedelta(days=30)
    tickets = max(1, events // 6) + 1
    lines: list[bytes] = []
    while len(lines) < events:
        lines = workload.lines(tickets, seed, start=start)
        tickets = int(tickets * 1.2) + 1
    lines = lines[:events]
    t0 = time.perf_counter()
    n = produce(bootstrap, topic, keyed_lines(lines))
    return {"events": n, "produce_per_s": round(n / (time.perf_counter() - t0))}


def created(ticket: str, at_us: int, priority: str = "A") -> dict[str, Any]:
    return {
        "event_id": f"{ticket}-1",
        "ticket_id": ticket,
        "type": "created",
        "occurred_at": _iso(at_us),
        "priority": priority,
        "category": "simple",
        "channel": "phone",
        "team": "team-1",
        "agent": "a-1",
        "supervisor": "s-1",
        "department": "after-sales",
        "product_line": "router",
    }


def responded(ticket: str, at_us: int) -> dict[str, Any]:
    return {
        "event_id": f"{ticket}-2",
        "ticket_id": ticket,
        "type": "responded",
        "occurred_at": _iso(at_us),
    }


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / S_US, UTC).isoformat()


def _now_us() -> int:
    return time.time_ns() // 1000


def background_events(n: int) -> Iterable[tuple[bytes, bytes]]:
    """Open tickets that hold the index: created 20 s ago, answered 15 s ago, so their next
    deadline is the resolution target, hours away. Stamped when produced."""
    for i in range(n):
        tid = f"B{i:07d}"
        now = _now_us()
        yield tid.encode(), orjson.dumps(created(tid, now - 20 * S_US))
        yield tid.encode(), orjson.dumps(responded(tid, now - 15 * S_US))


def bench_timers(
    bootstrap: str,
    work: Path,
    open_tickets: int,
    due_tickets: int,
    lead_s: float,
    window_s: float,
    partitions: int,
    profile: Path | None = None,
    launcher: Sequence[str] = (),
) -> dict[str, Any]:
    """Timer latency with ``open_tickets`` open, of which ``due_tickets`` fall due in the window."""
    due_tickets = min(due_tickets, open_tickets)
    background = open_tickets - due_tickets
    w = Worker(
        bootstrap, f"timers-{uuid.uuid4().hex[:6]}", work, partitions, profile, launcher=launcher
    )
    w.create_topics()
    w.start()
    try:
        w.wait_events(0, timeout=10)
        rss0 = w.rss()
        t0 = time.monotonic()
        produce(bootstrap, w.events_topic, background_events(background))
        samples = w.wait_events(2 * background, timeout=600 + background / 100)
        load_s = time.monotonic() - t0
        background_rate = rate_from_samples(samples, 2 * background) if background else None
        # The due tickets: first-response warnings spread over [now + lead, now + lead + window).
        start = _now_us()
        dues = due_schedule(start, due_tickets, lead_s, window_s)
        t1 = time.monotonic()
        produce(
            bootstrap,
            w.events_topic,
            (
                (
                    f"D{i:07d}".encode(),
                    orjson.dumps(created(f"D{i:07d}", due - WARNING_AFTER_S * S_US)),
                )
                for i, due in enumerate(dues)
            ),
        )
        w.wait_events(2 * background + due_tickets, timeout=lead_s + 600)
        due_load_s = time.monotonic() - t1
        # Before the first due ticket fires (a popped timer leaves the index until its tick).
        first_due_s = (dues[0] - _now_us()) / S_US if dues else 0.0
        open_now = w.wait_gauge("sla_open_tickets", open_tickets, timeout=min(first_due_s, 10))
        rss = w.rss()
        disk_table, disk_timers = dir_bytes(w.data_dir / "faust"), dir_bytes(w.data_dir / "timers")
        disk = dir_bytes(w.data_dir)

        def all_warned(alerts: list[dict[str, Any]]) -> bool:
            return len(lags_of(alerts, "D")) >= due_tickets

        left_s = (start + int((lead_s + window_s) * S_US) - _now_us()) / S_US
        alerts = read_topic(bootstrap, w.alerts_topic, all_warned, timeout=max(left_s, 0) + 60)
        lags = lags_of(alerts, "D")
        stray = sum(1 for a in alerts if str(a.get("ticket_id", "")).startswith("B"))
        return {
            "open_tickets": None if open_now is None else int(open_now),
            "background_tickets": background,
            "due_tickets": due_tickets,
            "due_window_s": window_s,
            "due_lead_s": lead_s,
            "due_per_s": round(due_tickets / window_s, 1),
            "background_load_s": round(load_s, 1),
            "background_events_per_s": None if background_rate is None else round(background_rate),
            "due_load_s": round(due_load_s, 2),
            "latency": lag_summary(lags),
            "early_warnings": sum(1 for x in lags if x < 0),
            "background_alerts": stray,
            "worker_rss_bytes": rss,
            "data_dir_bytes": disk,
            "data_dir_bytes_table": disk_table,
            "data_dir_bytes_timers": disk_timers,
            "worker_rss_bytes_before_load": rss0,
            "rss_bytes_per_open_ticket": per(rss, open_now),
            "rss_growth_bytes_per_open_ticket": per(
                None if rss is None or rss0 is None else rss - rss0, open_now
            ),
            "disk_bytes_per_open_ticket": per(disk, open_now),
        }
    finally:
        w.stop()


@contextlib.contextmanager
def bench_broker(
    work: Path, external: str | None, kafka: bool, config: dict[str, Any]
) -> Iterator[str]:
    """The bootstrap of the broker to measure on: the given one, a fresh Apache Kafka, or a
    fresh embedded tansu (the default); which one goes into the report."""
    from kafka_io.admin import wait_until_ready
    from kafka_io.embedded import EmbeddedBroker

    if external is not None:
        wait_until_ready(external, timeout=30)
        config["broker"] = f"external {external}"
        yield external
    elif kafka:
        from kafka_io.apache import KafkaBroker

        with KafkaBroker(work / "kafka") as k:
            config["broker"] = f"Apache Kafka {k.version}"
            yield k.bootstrap
    else:
        with EmbeddedBroker(log_dir=work) as b:
            config["broker"] = "embedded tansu"
            yield b.bootstrap


def run(
    events: int = 200_000,
    open_tickets: int = 100_000,
    due_tickets: int = 10_000,
    due_window_s: float = 20.0,
    due_lead_s: float = 15.0,
    partitions: int = 4,
    seed: int = 7,
    phases: Sequence[str] = ("raw", "faust", "engine", "timers"),
    profile_dir: Path | None = None,
    keep: Path | None = None,
    log: Callable[[str], None] = lambda s: None,
    broker: str | None = None,
    kafka: bool = False,
) -> dict[str, Any]:
    """The whole benchmark on a fresh embedded broker (or Apache Kafka, or the broker at
    `broker`); the report as a dict."""
    work = Path(tempfile.mkdtemp(prefix="bench-stream-")) if keep is None else keep
    work.mkdir(parents=True, exist_ok=True)
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    rates: dict[str, float | None] = {}
    timers: dict[str, Any] | None = None
    config: dict[str, Any] = {"events": events, "partitions": partitions, "seed": seed}
    try:
        with bench_broker(work, broker, kafka, config) as bootstrap:
            engine = Worker(bootstrap, f"tp-{uuid.uuid4().hex[:6]}", work, partitions)
            if profile_dir is not None:
                engine.profile = profile_dir / "engine.txt"
            engine.create_topics()
            log(f"producing {events:,} events to {engine.events_topic} on {bootstrap}")
            config |= preload(bootstrap, engine.events_topic, events, seed)
            config["engine_command"] = "sla-engine " + " ".join(engine.command())
            if "raw" in phases:
                log("(a) raw confluent-kafka consumer")
                rates["raw"] = bench_raw(bootstrap, engine.events_topic, events)
            if "faust" in phases:
                log("(b) Faust pass-through agent")
                rates["faust"] = bench_faust(
                    bootstrap,
                    engine.events_topic,
                    events,
                    partitions,
                    work,
                    profile_dir / "faust.txt" if profile_dir else None,
                )
            if "engine" in phases:
                log("(c) the engine (sla-engine run)")
                engine.start()
                try:
                    samples = engine.wait_events(events, timeout=120 + events / 200)
                    rates["engine"] = rate_from_samples(samples, events)
                    config["engine_rss_bytes"] = engine.rss()
                finally:
                    engine.stop()
            if "timers" in phases:
                log(f"timers: {open_tickets:,} open tickets, {due_tickets:,} due")
                timers = bench_timers(
                    bootstrap,
                    work,
                    open_tickets,
                    due_tickets,
                    due_lead_s,
                    due_window_s,
                    partitions,
                    profile_dir / "timers.txt" if profile_dir else None,
                )
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return assemble(config, rates, timers)


# -- the pass-through agent (run as `python -m topologies.bench_stream passthrough …`) --------


def passthrough_main(argv: Sequence[str]) -> int:
    """A Faust app with build_app's settings and one agent that decodes and counts events."""
    p = argparse.ArgumentParser(prog="python -m topologies.bench_stream passthrough")
    p.add_argument("--broker", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    # Faust's worker redirects sys.stdout into its log: keep the real one for the result.
    out = os.fdopen(os.dup(1), "w")

    import logging

    import faust
    from faust import Worker as FaustWorker

    from topologies.app import CONSUMER_SETTINGS

    args.data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"bench-passthrough-{uuid.uuid4().hex[:8]}",
        broker=f"kafka://{args.broker}",
        store="memory://",
        datadir=str(args.data_dir),
        topic_partitions=args.partitions,
        **CONSUMER_SETTINGS,
    )
    topic = app.topic(
        args.topic,
        partitions=args.partitions,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    n = args.events

    @app.agent(topic)
    async def passthrough(stream: faust.StreamT[bytes]) -> None:
        count, first = 0, 0.0
        async for event in stream.events():
            orjson.loads(event.message.value)
            count += 1
            if count == 1:
                first = time.perf_counter()
            if count == n:
                elapsed = time.perf_counter() - first
                line = {"events": n, "seconds": elapsed, "events_per_s": (n - 1) / elapsed}
                out.write(RESULT_MARK.decode() + json.dumps(line) + "\n")
                out.flush()

    worker = FaustWorker(
        app, loglevel=args.log_level, quiet=True, override_logging=True, console_port=0
    )
    logging.getLogger("faust").setLevel(args.log_level)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "passthrough":
        sys.exit(passthrough_main(sys.argv[2:]))
    raise SystemExit("usage: python -m topologies.bench_stream passthrough --broker … --topic …")
