"""`sla-engine bench audit`: the audit of a long range of a generated large centre, timed, with
the audit's peak RSS.

1. A seeded workload (`workload.stream`): `--tickets` created over `--days`, ~6 events each,
   published to an events topic, record timestamp = `occurred_at`.
2. The "live" alerts: the replay of the same range (in the same pass as step 1, split by
   ticket over `--workers` processes: `audit_live`), each alert published 150 ms after it
   could be known (`detected_at` and record timestamp), one standing decision in
   `--drop-every` withheld, so the audit has real findings to report: they must come out as
   exactly that many `missing`, nothing else failing.
3. `sla-engine audit` over the whole range (and at the same time over the first `--audit-days`),
   each in a child process; its wall time, CPU time and peak RSS (`ru_maxrss`, from `wait4`).

Without `--broker` an embedded broker (`sla-engine broker`) runs as a child process for the
benchmark. Preparing is not what is measured: only step 3 is.
"""

from __future__ import annotations

import argparse
import heapq
import os
import re
import resource
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

import workload
from bench.audit_live import GRACE_US, LiveAlerts
from engine.audit import us
from engine.instant import iso
from kafka_io.admin import create_topics
from kafka_io.producer import make_producer, partition_for, send
from kafka_io.range_locate import RangeError, check_reachable

START = datetime(2026, 9, 1, tzinfo=timezone(timedelta(hours=8)))
GRACE = "10m"
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


def produce(bootstrap: str, topic: str, records: Iterable[tuple[bytes, bytes, int, int]]) -> int:
    """Publish (key, value, timestamp ms, partition; -1: the key's) records and wait until every
    one is delivered: the raw producer in big batches, delivery reports for failures only (no
    Python call a record but the `produce` itself)."""
    p = make_producer(
        bootstrap, linger_ms=50, log_level=0,
        **{"queue.buffering.max.messages": 500_000, "batch.num.messages": 100_000,
           "delivery.report.only.error": True},
    )  # fmt: skip
    failed: list[str] = []

    def delivered(err: Any, _: Any) -> None:
        if err is not None:
            failed.append(str(err))

    put = p.produce
    n = 0
    for key, value, ts, part in records:
        try:
            put(topic, value, key, part, delivered, timestamp=ts)
        except BufferError:  # the queue is full: serve it, as the factory's `send` does
            send(p, topic, value, key, partition=part, timestamp=ts, on_delivery=delivered)
        n += 1
        if not n & 0xFFFF:
            p.poll(0)
    left = p.flush(300)
    if left or failed:
        n_failed = left + len(failed)
        raise RangeError(f"{topic}: {n_failed} of {n} records not delivered ({failed[:1]})")
    return n


def prepare(
    bootstrap: str,
    tickets: int,
    days: float,
    seed: int = 7,
    partitions: int = 4,
    drop_every: int = 10_000,
    log: Callable[[str], None] = lambda _: None,
    workers: int = 0,
    start: datetime = START,
) -> Prepared:
    """Publish the workload and the "live" alerts of `[start, start + days)` on fresh topics.

    One pass: each event is published and replayed as it is made (the replay a `replay
    --topic` of the range would do: events up to `until + grace`, stream time the record
    timestamps; by `workers` shard processes, `audit_live`), so the workload is neither made
    twice nor read back from the broker."""
    tag = f"{os.getpid()}-{time.monotonic_ns() % 10**9}"
    events_topic, alerts_topic = f"bench-audit-{tag}.events", f"bench-audit-{tag}.alerts"
    create_topics(bootstrap, {events_topic: partitions, alerts_topic: partitions})
    span = timedelta(days=days)
    since, until = us(start.isoformat()), us((start + span).isoformat())
    end_ms = -(-(until + GRACE_US) // 1000)  # what `replay --topic` of the range reads
    t0 = time.perf_counter()
    with LiveAlerts(since, until, drop_every, workers) as live:
        n_events = produce(
            bootstrap,
            events_topic,
            _in_audit_order(tickets, seed, start, span, partitions, end_ms, live),
        )
        log(f"published and replayed {n_events} events in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        n_alerts = produce(bootstrap, alerts_topic, live.records())
    took = time.perf_counter() - t0
    log(f"published {n_alerts} live alerts ({live.dropped} withheld) in {took:.0f} s")
    main, shards = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    log(
        f"preparing took {main.ru_utime + main.ru_stime:.0f} s of CPU in this process and "
        f"{shards.ru_utime + shards.ru_stime:.0f} s in the shards"
    )
    return Prepared(events_topic, alerts_topic, n_events, n_alerts, live.dropped, since, until)


def _in_audit_order(
    tickets: int,
    seed: int,
    start: datetime,
    span: timedelta,
    partitions: int,
    end_ms: int,
    live: LiveAlerts,
) -> Iterator[tuple[bytes, bytes, int, int]]:
    """The workload's records (key, value, timestamp ms, partition) in publication order; each
    one before `end_ms` also fed to `live`, in the order the audit reads the topic.

    The audit reads the topic merged by (timestamp, partition, offset); the workload comes by
    occurred_at, a little out of that order (`created` is whole seconds): the replay takes the
    events in the audit's order, from a heap a few seconds deep."""
    order: list[tuple[int, int, int, int, int, bytes]] = []
    latest = 0
    placed: dict[str, tuple[int, int]] = {}  # each ticket in progress: partition, shard key
    for n, e in enumerate(workload.stream(tickets, seed, start, span)):
        at_us = us(e["occurred_at"])
        at = at_us // 1000
        raw, ticket_id = orjson.dumps(e), e["ticket_id"]
        key = ticket_id.encode()
        part, shard = placed.get(ticket_id) or (-1, 0)
        if part < 0:
            # where the producer puts it; the shard by another hash (not the partition: 4
            # partitions over 3 shards would give one shard half the tickets)
            part, shard = placed[ticket_id] = (partition_for(key, partitions), zlib.crc32(key))
            if len(placed) > 400_000:
                placed.clear()  # a cache: the tickets of the last days
        if at < end_ms:
            heapq.heappush(order, (at, part, n, at_us, shard, raw))
            latest = max(latest, at)
            while order[0][0] < latest - _DISORDER_MS:
                first = heapq.heappop(order)
                live.feed(first[3], first[4], first[5])
        yield key, raw, at, part
    while order:
        first = heapq.heappop(order)
        live.feed(first[3], first[4], first[5])


def audit_child(
    bootstrap: str, prep: Prepared, diff: Path | None = None, until: int | None = None
) -> dict[str, Any]:
    """`sla-engine audit` of the range (up to `until` if given) in a child process: exit code,
    wall seconds, peak RSS (MiB), its output."""
    return AuditChild(bootstrap, prep, diff, until).wait()


class AuditChild:
    """`sla-engine audit` of the range (up to `until` if given) started in a child process;
    `wait` gives its exit code, wall and CPU seconds, peak RSS (MiB) and output."""

    def __init__(
        self, bootstrap: str, prep: Prepared, diff: Path | None = None, until: int | None = None
    ) -> None:
        import tempfile

        argv = [
            sys.executable, "-m", "cli.main", "audit", "--broker", bootstrap,
            "--events", prep.events_topic, "--alerts", prep.alerts_topic,
            "--from", iso(prep.since), "--to", iso(until if until is not None else prep.until),
            "--lookback", "1d", "--grace", GRACE, "--late-threshold", "1s", "--timeout", "60",
        ]  # fmt: skip
        if diff is not None:
            argv += ["--diff", str(diff)]
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115 (closed by wait)
        self.t0 = time.perf_counter()
        self.child = subprocess.Popen(argv, stdout=self.out, stderr=self.err)

    def wait(self) -> dict[str, Any]:
        _, status, usage = os.wait4(self.child.pid, 0)  # the child's own peak RSS
        seconds = time.perf_counter() - self.t0
        self.child.returncode = os.waitstatus_to_exitcode(status)
        with self.out, self.err:
            self.out.seek(0)
            self.err.seek(0)
            stdout = self.out.read().decode()
            most = re.search(r"at most (\d+) in memory at once", stdout)
            return {
                "exit": self.child.returncode,
                "seconds": round(seconds, 1),
                "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),  # KiB on Linux
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),  # a shared machine's
                "most_in_memory": int(most.group(1)) if most else None,  # tickets at once
                "stdout": stdout,
                "stderr": self.err.read().decode(),
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
                bootstrap, args.tickets, args.days, args.seed, args.partitions, args.drop_every,
                log, workers=args.workers, start=args.start,
            )  # fmt: skip
        except RangeError as e:
            print(f"sla-engine bench audit: {e}", file=sys.stderr)
            return 2
        days_list = sorted(d for d in args.audit_days if d < args.days)
        log(
            f"auditing {args.days:g} days ({prep.events} events, {prep.alerts} live alerts)"
            + "".join(f" and the first {d:g}" for d in days_list)
            + " at once, each in its own process"
        )
        whole = AuditChild(bootstrap, prep, work / "diff.jsonl")
        parts = [
            (d, AuditChild(bootstrap, prep, until=prep.since + round(d * DAY_US)))
            for d in days_list
        ]
        shorter = []
        for days, child in parts:
            part = child.wait()
            shorter.append(
                {
                    k: part[k]
                    for k in ("exit", "seconds", "cpu_seconds", "peak_rss_mib", "most_in_memory")
                }
                | {"days": days}
            )
        result = whole.wait()
        missing = failing = 0
        for line in (work / "diff.jsonl").read_bytes().splitlines():
            found = orjson.loads(line)
            missing += found["diff"] == "missing"
            failing += found["class"] in ("decision", "timing", "input")
    summary = {
        "tickets": args.tickets,
        "start": args.start.isoformat(),
        "days": args.days,
        "events": prep.events,
        "live_alerts": prep.alerts,
        "withheld": prep.dropped,
        "audit_exit": result["exit"],
        "audit_seconds": result["seconds"],
        "events_per_s": round(prep.events / max(result["seconds"], 1e-9)),
        "audit_cpu_seconds": result["cpu_seconds"],
        "audit_peak_rss_mib": result["peak_rss_mib"],
        "most_in_memory": result["most_in_memory"],
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
