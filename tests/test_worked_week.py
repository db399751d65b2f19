"""The vendored worked week is the shared original, byte for byte (when the original is here)."""

from __future__ import annotations

import pytest

from tests.worked_week import EXAMPLES, SHARED

FILES = ("README.md", "compare.py", "week-events.jsonl", "week-expected.jsonl")


@pytest.mark.parametrize("name", FILES)
def test_vendored_copy_equals_the_shared_original(name: str) -> None:
    if not SHARED.exists():
        pytest.skip(f"no shared original at {SHARED} (a clone outside the workspace)")
    assert (EXAMPLES / name).read_bytes() == (SHARED / name).read_bytes()
