"""`sla-engine bench soak`: steady demo traffic through the real worker with a fault schedule.

On a fresh embedded broker, one worker (`sla-engine run`) gets new tickets every second
(priority A, created 70-130 s ago so warnings fire on arrival and breaches from the timers;
half are answered a little later). Every `fault_every_s` seconds a fault, in turn: the worker
is SIGKILLed and restarted on its data dir; the broker is paused (SIGSTOP) for a few seconds
and the worker is SIGKILLed while it is paused. Every few seconds the worker's RSS and the mean
timer lag (`sla_timer_lag_seconds`) of the interval are sampled. At the end every decision a
replay of the produced events makes by then must be on the alerts topic: lost decisions,
decisions announced under two ids and ids with two contents are counted (all 0 when sound).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bench.clients import produce, read_topic
from bench.events import created, now_us, responded
from bench.figures import metric_sum
from bench.worker import Worker
from config.loader import load
from engine.effective import effective
from engine.history import from_model
from engine.replay import replay
from schemas.parse import parse_event

Key = tuple[Any, ...]
SAMPLE_S = 5.0


def _key(a: dict[str, Any]) -> Key:
    return (a["ticket_id"], a["clock"], a["cycle"], a["kind"], a["level"], a["due_at"])


def check(alerts: list[dict[str, Any]], want: set[Key], until_us: int) -> dict[str, int]:
    """Lost decisions, decisions under two ids and ids with two contents, against `want`."""
    contents: dict[str, set[Key]] = defaultdict(set)
    for a in alerts:
        contents[a["alert_id"]].add((*_key(a), a.get("retracts")))
    due = [k for k in map(_key, effective(alerts).values()) if _us(k[5]) <= until_us]
    got = Counter(due)
    return {
        "decisions": len(want),
        "lost": len(want - set(got)),
        "unexpected": len(set(got) - want),
        "two_ids": sum(1 for n in got.values() if n > 1),
        "two_contents": sum(1 for c in contents.values() if len(c) > 1),
    }


def _us(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1_000_000)


def replay_decisions(events: list[dict[str, Any]], until_us: int) -> set[Key]:
    """What the engine decides over `events` in stream time, due by `until_us`."""
    ordered = (parse_event(orjson.dumps(e)) for e in sorted(events, key=lambda e: e["occurred_at"]))
    _, out = replay(((ev.ticket_id, from_model(ev)) for ev in ordered), load(None), until_us)
    return {k for k in map(_key, effective(out).values()) if _us(k[5]) <= until_us}


class Traffic:
    """New tickets every second; about half answered 10-100 s after creation."""

    def __init__(self, rate: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.rate = rate
        self.n = 0
        self.run = uuid.uuid4().hex[:6]
        self.later: list[tuple[int, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []

    def due(self, now_us: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(self.rate):
            self.n += 1
            ticket = f"S{self.run}-{self.n}"
            at = now_us - self.rng.randint(70, 130) * 1_000_000
            out.append(created(ticket, at, product_line=None))
            if self.rng.random() < 0.5:
                answer = at + self.rng.randint(10, 100) * 1_000_000
                self.later.append((answer, responded(ticket, answer)))
        ready = [e for t, e in self.later if t <= now_us]
        self.later = [(t, e) for t, e in self.later if t > now_us]
        out.extend(ready)
        self.sent.extend(out)
        return out


def _fault(kind: int, worker: Worker, broker_pid: int, log: Callable[[str], None]) -> None:
    if kind % 2 == 0:
        log("fault: SIGKILL the worker, restart on its data dir")
        _kill(worker)
    else:
        log("fault: pause the broker (SIGSTOP), SIGKILL the worker, resume the broker")
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            time.sleep(3.0)
            _kill(worker)
        finally:
            os.kill(broker_pid, signal.SIGCONT)
    worker.start()


def _kill(worker: Worker) -> None:
    child = worker.child
    if child is not None and child.proc is not None and child.alive():
        os.killpg(child.proc.pid, signal.SIGKILL)
        child.proc.wait(10)


def run(
    minutes: float,
    rate: int = 5,
    fault_every_s: float = 60.0,
    seed: int = 7,
    log: Callable[[str], None] = lambda s: None,
) -> dict[str, Any]:
    """The soak on a fresh embedded broker; the report as a dict."""
    from kafka_io.embedded import EmbeddedBroker

    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    samples: list[dict[str, Any]] = []
    faults = 0
    traffic = Traffic(rate, seed)
    try:
        with EmbeddedBroker(log_dir=work) as broker:
            broker_pid = broker.pid
            assert broker_pid is not None  # started by the `with`
            worker = Worker(broker.bootstrap, f"soak-{uuid.uuid4().hex[:6]}", work)
            worker.create_topics()
            worker.start()
            t0 = time.monotonic()
            end = t0 + minutes * 60
            # The faults are planned up front, each `fault_every_s` after the last one ended, and
            # the traffic runs on 20 s past the last: a slow restart delays a fault, never drops it.
            planned = max(0, int((minutes * 60 - 20) // fault_every_s))
            next_fault, next_sample = t0 + fault_every_s, t0 + SAMPLE_S
            lag_sum = lag_n = 0.0
            while time.monotonic() < end or faults < planned:
                tick = time.monotonic()
                batch = traffic.due(now_us())
                produce(broker.bootstrap, worker.events_topic,
                        [(e["ticket_id"].encode(), orjson.dumps(e)) for e in batch])  # fmt: skip
                if tick >= next_sample:
                    sample, lag_sum, lag_n = _sample(worker, tick - t0, lag_sum, lag_n)
                    samples.append(sample)
                    next_sample = tick + SAMPLE_S
                if tick >= next_fault and faults < planned:
                    _fault(faults, worker, broker_pid, log)
                    faults += 1
                    lag_sum = lag_n = 0.0  # a new process: its histogram starts at 0
                    next_fault = time.monotonic() + fault_every_s
                    if faults == planned:
                        end = max(end, time.monotonic() + 20)
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            until = now_us() - 5_000_000
            want = replay_decisions(traffic.sent, until)
            alerts = read_topic(
                broker.bootstrap,
                worker.alerts_topic,
                lambda got: check(got, want, until)["lost"] == 0,
                timeout=120,
            )
            result = check(alerts, want, until)
            worker.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rss = [s["rss_mib"] for s in samples if s["rss_mib"] is not None]
    lags = [s["timer_lag_mean_s"] for s in samples if s["timer_lag_mean_s"] is not None]
    return {
        "minutes": minutes,
        "events": len(traffic.sent),
        "faults": faults,
        **result,
        "rss_mib_first_last_max": [rss[0], rss[-1], max(rss)] if rss else None,
        "timer_lag_mean_s_max": max(lags) if lags else None,
        "samples": samples,
    }


def _sample(
    worker: Worker, at_s: float, lag_sum: float, lag_n: float
) -> tuple[dict[str, Any], float, float]:
    try:
        text = worker.scrape()
    except OSError:
        return {"t_s": round(at_s), "rss_mib": None, "timer_lag_mean_s": None}, lag_sum, lag_n
    total = metric_sum(text, "sla_timer_lag_seconds_sum") or 0.0
    count = metric_sum(text, "sla_timer_lag_seconds_count") or 0.0
    rss = worker.rss()
    mean = (total - lag_sum) / (count - lag_n) if count > lag_n else None
    sample = {
        "t_s": round(at_s),
        "rss_mib": round(rss / 2**20, 1) if rss else None,
        "timer_lag_mean_s": round(mean, 3) if mean is not None else None,
    }
    return sample, total, count
