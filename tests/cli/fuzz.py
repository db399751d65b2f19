"""A seeded fuzz corpus of event lines for `sla-engine replay`: a realistic workload (tickets
with whole lives, so the engine's clocks run), its lines mutated structurally (lax values,
bounds, repeated keys, deleted fields) and byte-wise (flips, cuts, splices, stray bytes).

`python -m tests.cli.fuzz --lines 200000 --out corpus.jsonl` writes a bigger corpus for a long
run: `sla-engine replay --input corpus.jsonl --rejects rejects.jsonl --output /dev/null`.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from schemas.bounds import CYCLE_MAX, ID_MAX, NAME_MAX, TEXT_MAX
from workload import generate

# Values a lax parser would take, and values at and past every bound.
LAX: list[Any] = [
    None,
    True,
    "3",
    3.0,
    3.5,
    -1,
    0,
    10**30,
    2**63,
    CYCLE_MAX,
    CYCLE_MAX + 1,
    1_700_000_000,
    "",
    " ",
    "x" * ID_MAX,
    "x" * (ID_MAX + 1),
    "团" * NAME_MAX,
    "y" * (TEXT_MAX + 1),
    "\u202e\x1b[31m[/]",
    "2026-11-23T09:00:00+0800",
    "2026-11-23T09:00:00",
    "1900-01-01T00:00:00+23:59",
    "2000-01-01T00:00:00+23:59",
    "2099-12-31T23:59:59.999999999-23:59",
    "8999-12-31T23:59:59-23:59",
    "8999-12-31T23:59:59.999999999Z",
    "2026-02-29T00:00:00Z",
    [],
    {},
    {"overall": "5"},
    {"overall": 5, "invalid_reason": "Malicious"},
    "A",
    "resolution",
    "first_response",
    "overturned",
]
FIELDS = [
    "occurred_at",
    "priority",
    "cycle",
    "clock",
    "status",
    "team",
    "agent",
    "survey",
    "customer_confirmed",
    "ticket_id",
    "event_id",
    "type",
    "alert_id",
    "outcome",
    "customer",
    "solution",
    "reason",
]
TYPES = [
    "exemption_requested",
    "exemption_granted",
    "appeal_decided",
    "status_changed",
    "priority_changed",
    "reopened",
    "survey_submitted",
    "closed",
]


def _structural(rng: random.Random, event: dict[str, Any]) -> bytes:
    e = dict(event)
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        field = rng.choice(FIELDS)
        if roll < 0.15:
            e.pop(field, None)
        elif roll < 0.3:
            e["type"] = rng.choice(TYPES)
            e.setdefault("clock", rng.choice(["resolution", "first_response", "nope"]))
        else:
            e[field] = rng.choice(LAX)
    text = json.dumps(e, ensure_ascii=False).encode()  # orjson refuses ints past 64 bits
    if rng.random() < 0.1:  # a repeated key
        text = text[:-1] + b',"priority":"C"}'
    return text


def _bytewise(rng: random.Random, line: bytes) -> bytes:
    b = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        roll = rng.random()
        at = rng.randrange(len(b) + 1) if b else 0
        if roll < 0.3 and b:
            b[min(at, len(b) - 1)] ^= 1 << rng.randrange(8)
        elif roll < 0.5:
            del b[at:]
        elif roll < 0.7:
            b[at:at] = rng.randbytes(rng.randint(1, 8))
        elif roll < 0.8:
            b[at:at] = rng.choice([b"\\u0000", b"\\ud800", b"\xc3", b"\x00", b'"', b"{", b"]"])
        elif b:
            del b[at : at + rng.randint(1, 16)]
    return bytes(b).replace(b"\n", b" ").replace(b"\r", b" ")


def corpus(lines: int, seed: int = 11) -> Iterator[bytes]:
    """`lines` event lines (no newline): about 45 % valid, 30 % structural, 25 % byte mutants."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 23, tzinfo=UTC)
    made = 0
    batch = 0
    while made < lines:
        batch += 1
        events = list(generate(60, seed=seed * 1000 + batch, start=start, span=timedelta(days=3)))
        for e in events:
            if made >= lines:
                return
            roll = rng.random()
            valid = orjson.dumps(e)
            if roll < 0.45:
                yield valid
            elif roll < 0.75:
                yield _structural(rng, e)
            else:
                yield _bytewise(rng, valid)
            made += 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--lines", type=int, default=200_000)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    with open(args.out, "wb") as f:
        for line in corpus(args.lines, args.seed):
            f.write(line + b"\n")


if __name__ == "__main__":
    main()
