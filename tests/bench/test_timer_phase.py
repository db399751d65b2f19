"""The pure parts of `bench stream`'s timer phase: its background load and its layouts."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import orjson
import pytest

from bench.figures import lag_summary, summary_line
from bench.timer_latency import paced_updates, start_workers


def test_paced_updates_keep_the_rate_and_stop() -> None:
    stop = threading.Event()
    t0 = time.monotonic()
    out = []
    for key, value in paced_updates(3, 200.0, stop):
        out.append((key, orjson.loads(value)))
        if len(out) == 40:
            stop.set()
    elapsed = time.monotonic() - t0
    assert len(out) == 40
    assert elapsed >= 39 / 200  # never ahead of the rate
    assert {k for k, _ in out} == {b"B0000000", b"B0000001", b"B0000002"}
    assert len({e["event_id"] for _, e in out}) == 40  # no id repeats: none is a duplicate
    assert all(e["type"] == "updated" and e["ticket_id"].encode() == k for k, e in out)


def test_an_unknown_layout_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown layout 'kpis'"):
        start_workers("127.0.0.1:1", tmp_path, 4, "kpis", ())


def test_summary_names_each_layout() -> None:
    timers = {"open_tickets": 10, "due_tickets": 1, "latency": lag_summary([0.2])}
    split = {**timers, "latency": lag_summary([0.1])}
    line = summary_line({"timers": timers, "timers_by_roles": {"all": timers, "split": split}})
    assert "timers (all) at 10 open: p50 0.200 s" in line
    assert "timers (split) at 10 open: p50 0.100 s" in line
    assert "timers at 10 open" in summary_line({"timers": timers})
