"""A policy change rolled out live: the worker runs the default policy, is stopped, and restarts
with the same file plus a version that takes effect later. Nothing decided before is retracted
or re-emitted; the alerts topic equals a replay of all events under the versioned policy, by
alert_id; alerts carry the version that made them. Real broker, real worker, real RocksDB."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

import workload
from config.loader import DEFAULT_POLICY, load
from engine.instant import to_us
from offline.file import replay
from tests.integration.conftest import BrokerHandle
from tests.integration.harness import Topics, WorkerProcess, alerts_of, consume, effective, produce

# Apache Kafka only: a policy change at restart does not depend on the broker
# (test_restart runs on both).
pytestmark = pytest.mark.brokers("kafka")


def renamed(lines: list[bytes], prefix: str) -> list[bytes]:
    """The workload with its ticket ids (T0000001 …) under another prefix."""
    out = []
    for line in lines:
        e = orjson.loads(line)
        e["ticket_id"] = prefix + e["ticket_id"][1:]
        e["event_id"] = prefix + e["event_id"][1:]
        out.append(orjson.dumps(e) + b"\n")
    return out


def versioned_policy(path: Path, effective_from: datetime) -> Path:
    """The default policy plus a version from `effective_from`: faster first responses for A
    and a steeper grading."""
    text = DEFAULT_POLICY.read_text(encoding="utf-8")
    clocks = text[text.index("clocks:\n") : text.index("# Windowed KPIs")]
    clocks = clocks.replace(
        "{when: {priority: A}, target: 60s, limit: 120s}",
        "{when: {priority: A}, target: 30s, limit: 60s}",
    )
    indented = "".join("    " + line if line.strip() else line for line in clocks.splitlines(True))
    path.write_text(
        text
        + "\nversions:\n"
        + f"  - effective_from: {effective_from.isoformat()}\n"
        + "    grading:\n"
        + "      breach: {level: minor, of_limit: 1.0}\n"
        + "      escalations: [{level: moderate, of_limit: 1.25}, {level: severe, of_limit: 1.5}]\n"
        + indented,
        encoding="utf-8",
    )
    return path


def replayed(lines: list[bytes], policy_path: Path | None, until: int) -> list[dict[str, Any]]:
    out = io.BytesIO()
    replay(io.BytesIO(b"".join(lines)), load(policy_path), until, out, None)
    return [orjson.loads(x) for x in out.getvalue().splitlines()]


def keyed(lines: list[bytes]) -> list[tuple[bytes | None, bytes]]:
    return [(orjson.loads(x)["ticket_id"].encode(), x.rstrip(b"\n")) for x in lines]


def test_restart_with_a_new_policy_version(broker: BrokerHandle, tmp_path: Path) -> None:
    topics = Topics.unique(broker.bootstrap)
    now = datetime.now(UTC)
    change = now - timedelta(days=30)
    before = workload.lines(150, seed=21, start=now - timedelta(days=60), span=timedelta(days=2))
    after = renamed(
        workload.lines(150, seed=22, start=now - timedelta(days=20), span=timedelta(days=2)), "U"
    )
    policy = versioned_policy(tmp_path / "versioned.yaml", change)
    data = tmp_path / "data"

    # The history reaches 60 days back: the worker rejects events older than its retention
    # (`too_old`, README Guarantees), so it keeps 90 days here.
    keep = ["--retention-days", "90"]
    w1 = WorkerProcess(broker.bootstrap, topics, data, tmp_path / "w1.log", extra=keep).start()
    try:
        produce(broker.bootstrap, topics.events, keyed(before))
        want1 = replayed(before, None, to_us(now))
        first = consume(
            broker.bootstrap,
            topics.alerts,
            until=lambda m: len(m) >= len(want1),
            timeout=120,
            idle=3,
        )
    finally:
        w1.stop()
    assert {a["alert_id"] for a in alerts_of(first)} == {a["alert_id"] for a in want1}

    w2 = WorkerProcess(
        broker.bootstrap, topics, data, tmp_path / "w2.log", extra=[*keep, "--policy", str(policy)]
    ).start()
    try:
        produce(broker.bootstrap, topics.events, keyed(after))
        until = to_us(datetime.now(UTC))
        want = replayed(before + after, policy, until)
        got = alerts_of(
            consume(
                broker.bootstrap,
                topics.alerts,
                until=lambda m: len(m) >= len(want),
                timeout=120,
                idle=4,
            )
        )
    finally:
        w2.stop()
    v1, v2 = load(None).version, load(policy).later[0][1].version
    # nothing announced before the restart was retracted or announced again
    first_ids = {a["alert_id"] for a in alerts_of(first)}
    later = got[len(first) :]
    assert not [a for a in later if a.get("retracts") in first_ids]
    assert not [a for a in later if a["alert_id"] in first_ids]
    # the topic equals the replay under the versioned policy, by alert_id
    assert Counter(a["alert_id"] for a in got) == Counter(a["alert_id"] for a in want)
    assert set(effective(got)) == set(effective(want))
    # each alert carries the version that made it
    versions: dict[str, set[str]] = {a["ticket_id"][0]: set() for a in got}
    for a in got:
        versions[a["ticket_id"][0]].add(a["policy_version"])
    assert versions == {"T": {v1}, "U": {v2}}
