"""`sla-engine bench audit`: the audit of a long range of a generated large centre, timed, with
the audit's peak RSS.

1. A seeded workload (`workload.stream`): `--tickets` created over `--days`, ~6 events each,
   published to an events topic, record timestamp = `occurred_at`.
2. The "live" alerts: the replay of the same range (in-process, in the same pass as step 1),
   each alert published 150 ms after it could be known (`detected_at` and record timestamp),
   one standing decision in `--drop-every` withheld, so the audit has real findings to report:
   they must come out as exactly that many `missing`, nothing else failing.
3. `sla-engine audit` over the whole range (and first over the first `--audit-days`) in a child
   process; its wall time, CPU time and peak RSS (`ru_maxrss` of the child, from `wait4`).

Without `--broker` an embedded broker (`sla-engine broker`) runs as a child process for the
benchmark. Preparing is not what is measured: only step 3 is.
"""

from __future__ import annotations

import argparse
import heapq
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

import workload
from config.loader import load
from engine.audit import us
from engine.history import from_model
from engine.instant import iso
from engine.replay import Replay
from kafka_io.admin import create_topics
from kafka_io.producer import NotDelivered, partition_for, publish
from kafka_io.range_locate import RangeError, check_reachable
from schemas.parse import parse_event

START = datetime(2026, 9, 1, tzinfo=timezone(timedelta(hours=8)))
DELAY_US = 150_000  # the "live" engine's delay after an alert could be known
GRACE = "10m"
GRACE_US = 600_000_000
DAY_US = 86_400_000_000
_DISORDER_MS = 2_000  # how far behind the latest a workload event may come (whole-second `created`)


@dataclass(frozen=True)
class Prepared:
    events_topic: str
    alerts_topic: str
    events: int
    alerts: int  # published to the alerts topic
    dropped: int  # standing decisions withheld from it
    since: int
    until: int


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes, int]]) -> int:
    """Publish (key, value, timestamp ms) records; wait until every one is delivered."""
    try:
        return publish(
            bootstrap, topic, records, timeout=300, linger_ms=50,
            **{"queue.buffering.max.messages": 500_000},
        )  # fmt: skip
    except NotDelivered as e:
        raise RangeError(str(e)) from None


def prepare(
    bootstrap: str,
    tickets: int,
    days: float,
    seed: int = 7,
    partitions: int = 4,
    drop_every: int = 10_000,
    log: Callable[[str], None] = lambda _: None,
) -> Prepared:
    """Publish the workload and the "live" alerts of `[START, START + days)` on fresh topics.

    One pass: each event is published and replayed in-process as it is made (the replay a
    `replay --topic` of the range would do: events up to `until + grace`, stream time the
    record timestamps), so the workload is neither made twice nor read back from the broker."""
    tag = f"{os.getpid()}-{time.monotonic_ns() % 10**9}"
    events_topic, alerts_topic = f"bench-audit-{tag}.events", f"bench-audit-{tag}.alerts"
    create_topics(bootstrap, {events_topic: partitions, alerts_topic: partitions})
    span = timedelta(days=days)
    since, until = us(START.isoformat()), us((START + span).isoformat())
    end_ms = -(-(until + GRACE_US) // 1000)  # what `replay --topic` of the range reads
    t0 = time.perf_counter()
    with _LiveAlerts(since, until, drop_every) as live:

        def events() -> Iterator[tuple[bytes, bytes, int]]:
            # The audit reads the topic merged by (timestamp, partition, offset); the workload
            # comes by occurred_at, a little out of that order (`created` is whole seconds):
            # the replay takes the events in the audit's order, from a heap a few seconds deep.
            order: list[tuple[int, int, int, bytes]] = []
            latest = 0
            for n, e in enumerate(workload.stream(tickets, seed, START, span)):
                at = us(e["occurred_at"]) // 1000
                raw, key = orjson.dumps(e), e["ticket_id"].encode()
                part = partition_for(key, partitions)  # where the producer puts it
                if at < end_ms:
                    heapq.heappush(order, (at, part, n, raw))
                    latest = max(latest, at)
                    while order[0][0] < latest - _DISORDER_MS:
                        first = heapq.heappop(order)
                        live.feed(first[3], first[0])
                yield key, raw, at
            while order:
                first = heapq.heappop(order)
                live.feed(first[3], first[0])

        n_events = produce(bootstrap, events_topic, events())
        log(f"published and replayed {n_events} events in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        n_alerts = produce(bootstrap, alerts_topic, live.records())
    took = time.perf_counter() - t0
    log(f"published {n_alerts} live alerts ({live.dropped} withheld) in {took:.0f} s")
    return Prepared(events_topic, alerts_topic, n_events, n_alerts, live.dropped, since, until)


class _LiveAlerts:
    """The replay's alerts as a live engine publishes them, one standing decision in
    `drop_every` withheld (an alert no retraction follows, known once the replay is done: the
    withheld ones are chosen among alerts whose ticket closes without a retraction).

    `feed` takes the events in publication order; `records` ends the replay and yields the
    alerts in the order a live engine publishes them (by detection)."""

    def __init__(self, since: int, until: int, drop_every: int) -> None:
        from offline.spill import Spill

        self.since, self.until = since, until
        self.drop_every = drop_every
        self.dropped = 0
        self.spill = Spill()
        self.run = Replay.start(load(None), parked=self.spill.parked)

    def __enter__(self) -> _LiveAlerts:
        return self

    def __exit__(self, *_: object) -> None:
        self.spill.close()

    def feed(self, raw: bytes, at_ms: int) -> None:
        """One event, published at `at_ms`: through the engine, its alerts kept."""
        event = parse_event(raw)
        ticket_id = event.ticket_id
        self._keep(self.run.feed(ticket_id, from_model(event), at_ms * 1000))

    def _keep(self, alerts: list[dict[str, Any]]) -> None:
        for alert in alerts:
            due = us(alert["due_at"])
            if not self.since <= due < self.until:
                continue
            arrived = self.run.arrival(alert["ticket_id"])
            detected = max(due, arrived or due) + DELAY_US
            self.spill.add_alert(0, alert | {"detected_at": iso(detected)}, detected)

    def records(self) -> Iterator[tuple[bytes, bytes, int]]:
        self._keep(self.run.finish(self.until + GRACE_US))
        withheld = self._withheld(self.spill)
        rows = self.spill.db.execute("SELECT body FROM alerts ORDER BY knowable, seq")
        for (body,) in rows:
            a = orjson.loads(body)
            if a["alert_id"] in withheld:
                continue
            yield a["ticket_id"].encode(), body, us(a["detected_at"]) // 1000

    def _withheld(self, spill: Any) -> set[str]:
        """Every `drop_every`-th standing alert (not retracted, not a retraction)."""
        retracted = set()
        for (body,) in spill.db.execute("SELECT body FROM alerts"):
            retracted.add(orjson.loads(body).get("retracts"))
        out: set[str] = set()
        n = 0
        for (body,) in spill.db.execute("SELECT body FROM alerts ORDER BY knowable, seq"):
            a = orjson.loads(body)
            if a["kind"] == "retraction" or a["alert_id"] in retracted:
                continue
            n += 1
            if n % self.drop_every == 0:
                out.add(a["alert_id"])
        self.dropped = len(out)
        return out


def audit_child(
    bootstrap: str, prep: Prepared, diff: Path | None = None, until: int | None = None
) -> dict[str, Any]:
    """`sla-engine audit` of the range (up to `until` if given) in a child process: exit code,
    wall seconds, peak RSS (MiB), its output."""
    argv = [
        sys.executable,
        "-m",
        "cli.main",
        "audit",
        "--broker",
        bootstrap,
        "--events",
        prep.events_topic,
        "--alerts",
        prep.alerts_topic,
        "--from",
        iso(prep.since),
        "--to",
        iso(until if until is not None else prep.until),
        "--lookback",
        "1d",
        "--grace",
        GRACE,
        "--late-threshold",
        "1s",
        "--timeout",
        "60",
    ]
    if diff is not None:
        argv += ["--diff", str(diff)]
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # the child's own peak RSS
        seconds = time.perf_counter() - t0
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return {
            "exit": child.returncode,
            "seconds": round(seconds, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # a shared machine's wall
            "stdout": out.read().decode(),
            "stderr": err.read().decode(),
        }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def embedded_broker(stack: ExitStack, log_dir: Path) -> str:
    """`sla-engine broker` as a child process for the benchmark; its address."""
    port = _free_port()
    log = stack.enter_context((log_dir / "broker.out").open("wb"))
    child = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "broker", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        child.terminate()
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()

    stack.callback(stop)
    bootstrap = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            check_reachable(bootstrap, 1.0)
            return bootstrap
        except RangeError:
            if time.monotonic() > deadline or child.poll() is not None:
                raise
            time.sleep(0.2)


def run(args: argparse.Namespace) -> int:
    import tempfile

    def log(s: str) -> None:
        print(f"bench audit: {s}", file=sys.stderr, flush=True)

    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-audit-")))
        try:
            bootstrap = args.broker or embedded_broker(stack, work)
            prep = prepare(
                bootstrap, args.tickets, args.days, args.seed, args.partitions, args.drop_every, log
            )
        except RangeError as e:
            print(f"sla-engine bench audit: {e}", file=sys.stderr)
            return 2
        shorter = []
        for days in sorted(d for d in args.audit_days if d < args.days):
            log(f"auditing the first {days:g} days (peak RSS against the range length)")
            part = audit_child(bootstrap, prep, until=prep.since + round(days * DAY_US))
            shorter.append(
                {k: part[k] for k in ("exit", "seconds", "cpu_seconds", "peak_rss_mib")}
                | {"days": days}
            )
        log(f"auditing {args.days:g} days: {prep.events} events, {prep.alerts} live alerts")
        result = audit_child(bootstrap, prep, work / "diff.jsonl")
        missing = failing = 0
        for line in (work / "diff.jsonl").read_bytes().splitlines():
            found = orjson.loads(line)
            missing += found["diff"] == "missing"
            failing += found["class"] in ("decision", "timing", "input")
    summary = {
        "tickets": args.tickets,
        "days": args.days,
        "events": prep.events,
        "live_alerts": prep.alerts,
        "withheld": prep.dropped,
        "audit_exit": result["exit"],
        "audit_seconds": result["seconds"],
        "events_per_s": round(prep.events / max(result["seconds"], 1e-9)),
        "audit_cpu_seconds": result["cpu_seconds"],
        "audit_peak_rss_mib": result["peak_rss_mib"],
        "missing": missing,
        "failing_findings": failing,
        "broker": "given" if args.broker else "embedded (tansu)",
        "shorter_ranges": shorter,
    }
    print(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
    if missing != prep.dropped or failing != missing:
        print(
            f"sla-engine bench audit: the audit reported {missing} missing and {failing} failing "
            f"findings; {prep.dropped} were withheld",
            file=sys.stderr,
        )
        print(result["stdout"], file=sys.stderr)
        return 1
    return 0
