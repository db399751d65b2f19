"""Distributions of durations (integer µs): exact for replay, a mergeable sketch for live.

Both are a map bucket → count, so both support removal (a ticket's facts are retracted and
replaced when it changes) and merge by adding counts: exact, the bucket is the value itself;
sketched, it is `LogMapping.key(value)`. The percentile is the nearest-rank one: p_q of n
values is the ⌈q·n⌉-th smallest.

`LogSketch` is DDSketch's logarithmic mapping (Masson, Rim, Lee, VLDB 2019) with counts per
bucket, so removal is exact bookkeeping: value x > 0 goes to bucket i = ⌈log_γ x⌉ with
γ = (1 + α)/(1 − α), and bucket i reports 2γ^i/(γ + 1). Every x in (γ^(i−1), γ^i] is then within
a relative error α of what its bucket reports, so **a quantile read from the sketch is within
α (1 %) relative of the exact nearest-rank quantile** (the rank walk lands in the bucket of the
exact value; up to float rounding of the logarithm at bucket edges, ~1e-12). Zero goes to its
own bucket and is reported exactly. Sketches merge by adding bucket counts; the memory is one
counter per occupied bucket: durations from 1 s to 30 days take at most ~750 buckets.
"""

from __future__ import annotations

import math
from typing import Any

from engine.kpis.counts import add_count

ALPHA = 0.01


def rank(q: float, n: int) -> int:
    """1-based nearest rank of quantile q among n values (n ≥ 1)."""
    return min(n, max(1, math.ceil(q * n - 1e-9)))


def exact_quantile(values: list[int], q: float) -> int | None:
    """The nearest-rank quantile of a list of values; None when empty."""
    if not values:
        return None
    return sorted(values)[rank(q, len(values)) - 1]


class LogMapping:
    """Value ↔ bucket index of the logarithmic mapping with relative accuracy `alpha`."""

    __slots__ = ("alpha", "gamma", "log_gamma")

    def __init__(self, alpha: float = ALPHA) -> None:
        if not 0 < alpha < 1:
            raise ValueError("alpha must be in (0, 1)")
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self.log_gamma = math.log(self.gamma)

    def key(self, value: int) -> int:
        """Bucket of a value ≥ 0: ⌈log_γ value⌉ ≥ 0 for value ≥ 1, ZERO_KEY for 0."""
        if value < 0:
            raise ValueError("durations are never negative")
        if value == 0:
            return ZERO_KEY
        return math.ceil(math.log(value) / self.log_gamma)

    def value(self, key: int) -> float:
        """What a bucket reports: 2γ^i/(γ + 1), within alpha of every value in it."""
        if key == ZERO_KEY:
            return 0.0
        return 2 * self.gamma**key / (self.gamma + 1)


ZERO_KEY = -1  # the bucket of 0 (values ≥ 1 map to buckets ≥ 0)


def bucket_quantile(buckets: dict[int, int], q: float) -> int | None:
    """The key holding the nearest-rank q-quantile of a bucket → count map (None: empty)."""
    n = sum(buckets.values())
    if n <= 0:
        return None
    want = rank(q, n)
    seen = 0
    for key in sorted(buckets):
        seen += buckets[key]
        if seen >= want:
            return key
    raise AssertionError("unreachable")  # pragma: no cover


class LogSketch:
    """A DDSketch-style log-bucketed histogram with removal (see the module docstring)."""

    __slots__ = ("buckets", "count", "mapping", "total")

    def __init__(self, alpha: float = ALPHA) -> None:
        self.mapping = LogMapping(alpha)
        self.buckets: dict[int, int] = {}
        self.count = 0
        self.total = 0  # exact sum, for the mean

    @property
    def alpha(self) -> float:
        return self.mapping.alpha

    def add(self, value: int, times: int = 1) -> None:
        """Add `times` copies of `value` ≥ 0 (negative `times` removes them)."""
        key = self.mapping.key(value)
        if add_count(self.buckets, key, times) < 0:
            raise ValueError(f"removing {value} that was never added")
        self.count += times
        self.total += value * times

    def quantile(self, q: float) -> float | None:
        key = bucket_quantile(self.buckets, q)
        return None if key is None else self.mapping.value(key)

    def merge(self, other: LogSketch) -> None:
        if other.alpha != self.alpha:
            raise ValueError("sketches with different accuracy cannot be merged")
        for key, n in other.buckets.items():
            left = self.buckets.get(key, 0) + n
            if left:
                self.buckets[key] = left
            else:
                self.buckets.pop(key, None)
        self.count += other.count
        self.total += other.total

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "count": self.count,
            "total": self.total,
            "buckets": sorted(self.buckets.items()),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogSketch:
        s = cls(float(d["alpha"]))
        s.count, s.total = int(d["count"]), int(d["total"])
        s.buckets = {int(i): int(n) for i, n in d["buckets"]}
        return s
