"""`bench stream`'s phase (b): a Faust pass-through agent with the worker's consumer settings,
run as `python -m bench.passthrough …`; its rate comes back on stdout after RESULT_MARK."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import orjson

from bench.procs import Child

RESULT_MARK = b"bench-stream-result "


def bench_faust(
    bootstrap: str, topic: str, n: int, partitions: int, work: Path, profile: Path | None
) -> float:
    """(b) The pass-through agent in a subprocess; its JSON line on stdout has the rate."""
    cmd = [
        sys.executable,
        "-m",
        "bench.passthrough",
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


def passthrough_main(argv: Sequence[str]) -> int:
    """A Faust app with build_app's settings and one agent that decodes and counts events."""
    p = argparse.ArgumentParser(prog="python -m bench.passthrough")
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
    sys.exit(passthrough_main(sys.argv[1:]))
