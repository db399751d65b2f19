"""A compact, JSON-ready form of a ticket's facts, for the live worker's per-ticket state.

`[[dims…], [[metric, at, dims index, value(, until)], …]]`: the dimension tuples are listed
once (a ticket has one or two), each fact names its tuple by index.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from engine.kpis.facts import Dims, Fact, fact


def encode_facts(facts: Iterable[Fact]) -> list[Any]:
    table: dict[Dims, int] = {}
    rows: list[list[Any]] = []
    for f in facts:
        i = table.setdefault(f.dims, len(table))
        row: list[Any] = [f.metric, f.at, i, f.value]
        if f.metric == "open":
            row.append(f.until)
        rows.append(row)
    return [[list(d) for d in table], rows]


def _dims(data: Sequence[Any]) -> list[Dims]:
    dims_table: list[Dims] = []
    for d in data[0]:
        a, b, c, e, g, h = d
        dims_table.append((a, b, c, e, g, h))
    return dims_table


def _rows(rows: Sequence[Any], dims_table: list[Dims]) -> tuple[Fact, ...]:
    out = []
    for row in rows:
        until = row[4] if len(row) > 4 else None
        dims = dims_table[int(row[2])]
        value = int(row[3])
        out.append(
            fact(str(row[0]), int(row[1]), dims, value, None if until is None else int(until))
        )
    return tuple(out)


def decode_facts(data: Sequence[Any]) -> tuple[Fact, ...]:
    return _rows(data[1], _dims(data))


def differing(
    old: Sequence[Any] | None, new: Sequence[Any] | None
) -> tuple[tuple[Fact, ...], tuple[Fact, ...]]:
    """Two encodings of a ticket's facts, decoded without the rows they share at either end:
    what `KpiAggregate.replace` needs (taking the same fact out of both sides leaves both
    differences as they are). Rows are compared encoded, so only when both list the same
    dimension tuples; a ticket's facts come in a fixed order, so a change is mostly a few
    rows in the middle. None or empty: no facts."""
    if not old or not new:
        return (decode_facts(old) if old else (), decode_facts(new) if new else ())
    if old[0] != new[0]:
        return decode_facts(old), decode_facts(new)
    a, b = old[1], new[1]
    lo, end_a, end_b = 0, len(a), len(b)
    while lo < end_a and lo < end_b and a[lo] == b[lo]:
        lo += 1
    while end_a > lo and end_b > lo and a[end_a - 1] == b[end_b - 1]:
        end_a -= 1
        end_b -= 1
    dims_table = _dims(new)
    return _rows(a[lo:end_a], dims_table), _rows(b[lo:end_b], dims_table)
