"""`offline.records.line_records` skips exactly the blank lines (what `bytes.strip()` empties),
numbering the others by their place in the file."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from offline.records import line_records

LINES = st.lists(
    st.one_of(
        st.binary(max_size=6), st.sampled_from([b"", b"\n", b" \t\r\n", b"\x0b\x0c", b"{}\n"])
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(LINES)
def test_blank_lines_are_skipped_as_strip_says(lines: list[bytes]) -> None:
    expected = [(raw, {"line": n}) for n, raw in enumerate(lines, 1) if raw.strip()]
    assert [(r.raw, r.where) for r in line_records(lines)] == expected
