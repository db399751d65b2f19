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


def decode_facts(data: Sequence[Any]) -> tuple[Fact, ...]:
    dims_table: list[Dims] = []
    for d in data[0]:
        a, b, c, e, g, h = d
        dims_table.append((a, b, c, e, g, h))
    out = []
    for row in data[1]:
        until = row[4] if len(row) > 4 else None
        dims = dims_table[int(row[2])]
        value = int(row[3])
        out.append(
            fact(str(row[0]), int(row[1]), dims, value, None if until is None else int(until))
        )
    return tuple(out)
