"""The cells KPI facts are aggregated into, their keys, and the value helpers snapshots share.

A cell is one (window, dimension, key): integer counters by name, and the entries of the
duration distributions as one dict of ints (see `Cell`). Everything is an integer sum, so
cells fed with disjoint tickets merge by adding counters and equal cells give byte-identical
snapshots.
"""

from __future__ import annotations

from typing import Any

from engine.kpis.facts import DIMENSION_ATTRS, Dims
from engine.kpis.windows import UNIT_ORDER, Window, Windows

CellKey = tuple[str, int, str, str]  # unit, window start, dimension, key
DIMENSION_ORDER = {d: i for i, d in enumerate(("overall", *DIMENSION_ATTRS))}
Token = str | int  # a counter name, or a distribution entry (see `Cell`)
Group = tuple[tuple[Window, ...], Dims]  # facts with the same windows and dimension values
Acc = dict[Group, dict[Token, int]]  # signed counts per token, summed per group
Metrics = dict[str, float | int | None]


class Cell:
    """One (window, dimension, key): integer counters by name, and the entries of the duration
    distributions as one dict of ints: distribution i, bucket b is the int
    `i · 2^60 + b + 1` (exact aggregate: the bucket is the value in µs; sketch: its
    `LogMapping` key, ≥ -1), so the entries of one distribution are contiguous once sorted.
    Plain dicts, not `Counter`s: compiled, a dict's `get` and item set are direct C calls, a
    subclass's go through attribute lookup (the live aggregator's update −20 %)."""

    __slots__ = ("counts", "values")

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.values: dict[int, int] = {}

    def empty(self) -> bool:
        return not self.counts and not self.values


def ratio(num: int, den: int) -> float | None:
    """A published rate: rounded to 6 places, None with a zero base."""
    return round(num / den, 6) if den else None


def order(key: CellKey) -> tuple[int, int, int, str]:
    """The publication order of cells: unit, window start, dimension, key."""
    unit, start, dim, k = key
    return (UNIT_ORDER[unit], start, DIMENSION_ORDER[dim], k)


def snapshot_key(snapshot: dict[str, Any]) -> str:
    """The compaction key of a snapshot: unit, window start, dimension, key."""
    w = snapshot["window"]
    return f"{w['unit']}|{w['start']}|{snapshot['dimension']}|{snapshot['key']}"


def cell_key_text(windows: Windows, key: CellKey) -> str:
    """The compaction key of a cell (the same text as `snapshot_key` of its snapshot)."""
    unit, start, dim, k = key
    return f"{unit}|{windows.describe(unit, start)[0]}|{dim}|{k}"
