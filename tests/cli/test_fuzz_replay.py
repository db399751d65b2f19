"""Fuzz through `sla-engine replay`: schema instances, structural and byte mutants (issue #11).

Zero crashes, every rejection in the rejects file with its reason and its (redacted) bytes,
events + rejects = lines, every alert valid. CI runs >= 10,000 inputs in-process and one corpus
through the real CLI; `SLA_FUZZ_SCALE=20` (or `python -m tests.cli.fuzz`) for a long run.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.loader import load
from engine.instant import to_us
from offline.file import replay
from schemas.outputs import Alert
from schemas.redact import redact
from tests.cli.fuzz import corpus
from tests.schemas.test_contract import EVENTS, accepted, mutated, oracle

SCALE = float(os.environ.get("SLA_FUZZ_SCALE", "1"))
POLICY = load(None)
UNTIL = to_us(datetime(2027, 1, 1, tzinfo=UTC))


def _check(lines: list[bytes], until: int | None) -> tuple[set[int], list[dict[str, Any]]]:
    """Replay `lines`; check the invariants; return the accepted line numbers and the alerts."""
    out, rejects = io.BytesIO(), io.BytesIO()
    result = replay(io.BytesIO(b"".join(x + b"\n" for x in lines)), POLICY, until, out, rejects)
    numbered = {n: x for n, x in enumerate(lines, 1) if x.strip()}
    records = [orjson.loads(r) for r in rejects.getvalue().splitlines()]
    assert result.events + result.rejected == len(numbered)
    assert len(records) == result.rejected
    for r in records:
        assert r["reason"], r
        raw = r["raw"].encode() if r.get("raw_encoding") != "base64" else base64.b64decode(r["raw"])
        assert raw == redact(numbered[r["line"]].rstrip(b"\r\n")), r["line"]
    rejected = {r["line"] for r in records}
    alerts = [orjson.loads(a) for a in out.getvalue().splitlines()]
    for a in alerts:
        Alert.model_validate(a)
    assert sum(result.alerts.values()) == len(alerts)
    return set(numbered) - rejected, alerts


def test_a_10000_line_fuzz_corpus_replays_without_a_crash() -> None:
    lines = list(corpus(int(10_000 * SCALE)))
    accepted_lines, alerts = _check(lines, UNTIL)
    assert 0.3 * len(lines) < len(accepted_lines) < 0.8 * len(lines)  # both sides exercised
    assert len(alerts) > 500  # the clocks ran: the corpus is not just noise


EVENT_LINES = st.tuples(EVENTS | mutated(), st.sampled_from(["T-1", "T-2", None])).map(
    lambda pair: {**pair[0], "ticket_id": pair[1]} if pair[1] else pair[0]
)


@settings(max_examples=int(25 * SCALE), deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(EVENT_LINES, min_size=10, max_size=30), st.booleans())
def test_schema_instances_and_mutants_replay_and_agree_with_the_schema(
    docs: list[dict[str, Any]], advance: bool
) -> None:
    lines = [json.dumps(d, ensure_ascii=False).encode() for d in docs]
    good, _ = _check(lines, UNTIL if advance else None)
    for n, d in enumerate(docs, 1):
        assert (n in good) == accepted(d) == oracle().is_valid(d), d


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("sla-engine")
    return [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]


def test_the_real_cli_replays_a_fuzz_corpus(tmp_path: Path) -> None:
    lines = list(corpus(3_000, seed=5))
    source = tmp_path / "fuzz.jsonl"
    source.write_bytes(b"".join(x + b"\n" for x in lines))
    alerts, rejects = tmp_path / "alerts.jsonl", tmp_path / "rejects.jsonl"
    proc = subprocess.run(
        [
            *_cli(),
            "replay",
            "--input",
            str(source),
            "--output",
            str(alerts),
            "--rejects",
            str(rejects),
            "--until",
            "2027-01-01T00:00:00+08:00",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    summary = next(x for x in proc.stderr.splitlines() if x.startswith("replayed "))
    events = int(summary.split("replayed ")[1].split(" events")[0])
    rejected = int(summary.split("; ")[1].split(" rejected")[0])
    reject_lines = rejects.read_bytes().splitlines()
    assert events + rejected == sum(1 for x in lines if x.strip())
    assert rejected == len(reject_lines) > 0
    assert all(orjson.loads(r)["reason"] for r in reject_lines)
    assert len(alerts.read_bytes().splitlines()) > 100
