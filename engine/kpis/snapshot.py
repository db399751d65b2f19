"""From cells to published KPI snapshots: each KPI family's fields (rates, means, percentiles:
`engine.kpis.resolution`, `attainment`, `complaints`, `records`, `surveys`, `backlog`, in that
order), then targets, gaps, comparisons and the team CSAT flag. Every value is derived from
integer counts and integer µs, so equal cells give byte-identical snapshots.

Absent metric keys: no data of that kind; None: a rate with a zero base. Targets are
"at least" shares; gap = value − target (negative: short of the target).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import engine.kpis.attainment as attainment
import engine.kpis.backlog as backlog
import engine.kpis.complaints as complaints
import engine.kpis.records as records
import engine.kpis.resolution as resolution
import engine.kpis.surveys as surveys
from engine.kpis.cells import CellKey, Metrics

if TYPE_CHECKING:
    from engine.kpis.aggregate import KpiAggregate


class Snapshotter:
    """Builds snapshot dicts for an aggregate; memoises per-cell metrics within one call."""

    def __init__(self, store: KpiAggregate) -> None:
        self.store = store
        self.rules = store.rules
        self._metrics: dict[CellKey, Metrics] = {}
        self._team_mean: dict[tuple[str, int], float | None] = {}
        self._resolution = resolution.Fields(store.mapping)
        self._attainment = attainment.Fields(store.clocks)
        self._backlog = backlog.Fields(store.backlog)

    def build(self, keys: list[CellKey]) -> list[dict[str, Any]]:
        return [self.snapshot(k) for k in keys]

    def metrics(self, key: CellKey) -> Metrics:
        """The families' fields of one cell, in publication order (memoised)."""
        m = self._metrics.get(key)
        if m is None:
            cell = self.store.cells[key]
            m = self._metrics[key] = {}
            self._resolution.put(m, cell)
            self._attainment.put(m, cell)
            complaints.put(m, cell)
            records.put(m, cell)
            surveys.put(m, cell)
            self._backlog.put(m, cell, key, self.store.horizon)
        return m

    def team_mean(self, unit: str, start: int) -> float | None:
        """Unweighted mean CSAT of the teams of a window with enough counted surveys."""
        window = (unit, start)
        if window in self._team_mean:
            return self._team_mean[window]
        teams = [
            self.metrics(k) for k in sorted(self.store.by_window.get(window, ())) if k[2] == "team"
        ]
        mean = surveys.teams_mean(teams, self.rules)
        self._team_mean[window] = mean
        return mean

    def _comparison(self, key: CellKey, start: int | None) -> dict[str, Any] | None:
        if start is None:
            return None
        other = (key[0], start, key[2], key[3])
        if other not in self.store.cells:
            return None
        m = self.metrics(other)
        windows = self.store.windows
        start_iso, _, label = windows.describe(key[0], start)
        return {
            "label": label,
            "start": start_iso,
            "metrics": {name: m[name] for name in COMPARED if name in m},
        }

    def snapshot(self, key: CellKey) -> dict[str, Any]:
        store, rules = self.store, self.rules
        unit, start, dim, k = key
        windows = store.windows
        end = windows.end(unit, start)
        start_iso, end_iso, label = windows.describe(unit, start)
        metrics = dict(self.metrics(key))
        flags: list[str] = []
        if dim == "team":
            mean = self.team_mean(unit, start)
            metrics["csat_teams_mean"] = mean
            if surveys.csat_flagged(metrics, mean, rules):
                flags.append("csat_below_team_mean")
        targets = {name: float(v) for name, v in sorted(rules.targets.items())}
        gaps: dict[str, float | None] = {}
        for name, target in targets.items():
            value = metrics.get(name)
            gaps[name] = None if value is None else round(float(value) - target, 6)
            if value is not None and value < target - 1e-9:
                flags.append(f"below_target:{name}")
        return {
            "window": {"unit": unit, "start": start_iso, "end": end_iso, "label": label},
            "dimension": dim,
            "key": k,
            "metrics": metrics,
            "targets": targets,
            "gaps": gaps,
            "flags": sorted(flags),
            "previous": self._comparison(key, windows.previous(unit, start)),
            "last_year": self._comparison(key, windows.last_year(unit, start)),
            "final": end + rules.grace_us <= store.horizon,
            "as_of": windows.local_iso(store.horizon) if store.horizon > -(2**61) else None,
            "policy_version": store.policy.version,
        }


# The metrics shown for the previous period and the same period last year.
COMPARED = (
    "accepted",
    "resolved",
    "resolution_rate",
    "fcr_rate",
    "reopen_rate",
    "sla.all.attainment",
    "ttfr_wall_mean_s",
    "ttr_business_mean_s",
    "complaint_24h_rate",
    "records.completeness",
    "surveys.participation",
    "csat",
    "breaches.minor",
    "backlog",
)
