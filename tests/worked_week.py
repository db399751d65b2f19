"""Where the tests find the worked week: a verbatim copy of `shared/examples/` kept in the repo
(`tests/data/worked-week/`), so CI on a clean clone runs it; a test keeps the copy equal to the
shared original whenever that is present."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "data" / "worked-week"
SHARED = ROOT.parent / "shared" / "examples"
WEEK = EXAMPLES / "week-events.jsonl"
EXPECTED = EXAMPLES / "week-expected.jsonl"
COMPARE = EXAMPLES / "compare.py"
