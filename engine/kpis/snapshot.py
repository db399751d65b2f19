"""From cells to published KPI values: rates, means, percentiles, targets, gaps, comparisons
and the team CSAT flag. Every value is derived from integer counts and integer µs, so equal
cells give byte-identical snapshots.

Metrics of a snapshot (absent keys: no data of that kind; None: a rate with a zero base):

- `accepted`, `resolved`, `resolution_rate` = resolved / accepted (target, gap);
  `fcr_resolved`, `fcr_rate` = first-contact resolved / resolved; `reopened_resolved`,
  `reopen_rate` = reopened-then-resolved / resolved; `reopens` (reopen events).
- `ttfr_count`, `ttfr_{wall,business}_{mean,p90}_s`; `ttr_count`, `ttr_…` (seconds; p90 is
  the nearest-rank 90th percentile: exact in replay, within 1 % relative live).
- `sla.<clock>.{due,met,attainment,exempted,overturned}` for each clock with data in the cell,
  `sla.all.{due,met,attainment,exempted,overturned}` (always): exempted / overturned cycles
  leave met and due and are counted here instead; `exemptions`, `appeals_overturned`: the
  effective exemption and appeal events in the window.
- `breaches.<clock>.<level>` (non-zero only) and `breaches.{minor,moderate,severe}` (always):
  breach and escalation decisions crossed in the window, exempted and overturned ones left out.
- `complaints`, `complaints_in_time`, `complaint_24h_rate` (target, gap).
- `records.closed`, `records.complete`, `records.incomplete`, `records.completeness`,
  `records.missing.<field>`.
- `surveys.sent`, `surveys.submitted` (valid, one per ticket), `surveys.participation` =
  submitted / sent, `surveys.counted` (submitted, minus flagged ones when the policy excludes
  them), `surveys.satisfied` (overall 4–5), `csat` = satisfied / counted (target, gap),
  `surveys.mean.<item>`, `surveys.invalid` and `surveys.invalid.<reason>`, `surveys.flagged`,
  `surveys.flagged_all5`, `surveys.flagged_all1`, `surveys.replaced`.
- day, week and month windows: `backlog` and `backlog.<band>` (open tickets at the window end
  by age), once the horizon has reached the window end (None before).
- team dimension: `csat_teams_mean`, the unweighted mean CSAT of the teams in the window with
  at least `team_csat_min_surveys` counted surveys; a team whose CSAT is at or below
  mean × (1 − 0.15) (`relative`, the default: "15 % below the mean" is read as 15 % of the
  mean; `points` reads it as 15 percentage points) carries the flag `csat_below_team_mean`.

Targets are "at least" shares; gap = value − target (negative: short of the target).
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate
from operator import mul
from typing import TYPE_CHECKING, Any

from engine.instant import US_PER_S
from engine.kpis.facts import DIST_OFFSET, DISTRIBUTIONS, RECORD_FIELDS
from engine.kpis.sketch import rank
from engine.kpis.windows import BACKLOG_UNITS
from schemas.attributes import SURVEY_ITEMS

if TYPE_CHECKING:
    from engine.kpis.store import Cell, CellKey, KpiStore

Metrics = dict[str, float | int | None]
P90 = 0.9


def ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def _seconds(us: float | None) -> float | None:
    return None if us is None else round(us / US_PER_S, 3)


class Snapshotter:
    """Builds snapshot dicts for a store; memoises per-cell metrics within one call."""

    def __init__(self, store: KpiStore) -> None:
        self.store = store
        self.rules = store.rules
        self._metrics: dict[CellKey, Metrics] = {}
        self._team_mean: dict[tuple[str, int], float | None] = {}
        self._sla_names = [tuple(f"sla.{n}.{part}" for part in _SLA_PARTS) for n in store.clocks]
        self._breach_names = [
            (f"breach.{n}.{level}", f"breaches.{n}.{level}", i)
            for n in store.clocks
            for i, level in enumerate(LEVELS)
        ]
        self._band_names = [f"backlog.{band}" for band in store.bands]

    def build(self, keys: list[CellKey]) -> list[dict[str, Any]]:
        return [self.snapshot(k) for k in keys]

    def metrics(self, key: CellKey) -> Metrics:
        m = self._metrics.get(key)
        if m is None:
            cell = self.store.cells[key]
            m = self._metrics[key] = self._compute(key, cell)
        return m

    def _compute(self, key: CellKey, cell: Cell) -> Metrics:
        store = self.store
        counts = cell.counts
        c = counts.get
        m: Metrics = {}
        accepted, resolved = c("accepted", 0), c("resolved", 0)
        fcr, reopened = c("resolved_fcr", 0), c("resolved_reopened", 0)
        m["accepted"], m["resolved"] = accepted, resolved
        m["resolution_rate"] = ratio(resolved, accepted)
        m["fcr_resolved"], m["fcr_rate"] = fcr, ratio(fcr, resolved)
        m["reopened_resolved"], m["reopen_rate"] = reopened, ratio(reopened, resolved)
        m["reopens"] = c("reopen", 0)
        values = cell.values
        entries = sorted(values) if values else []
        mapping = store.mapping
        for index, (name, mean_name, p90_name, count_name) in enumerate(_DURATIONS):
            lo = bisect_left(entries, index * DIST_OFFSET + 0)
            hi = bisect_left(entries, (index + 1) * DIST_OFFSET)
            if count_name is not None:
                m[count_name] = 0
            if lo == hi:
                m[mean_name] = m[p90_name] = None
                continue
            keys = entries[lo:hi]
            times = list(map(values.__getitem__, keys))
            cumulative = list(accumulate(times))
            n = cumulative[-1]
            if count_name is not None:
                m[count_name] = n
            base = index * DIST_OFFSET + 1  # entry = base + bucket
            at = keys[bisect_left(cumulative, rank(P90, n))] - base
            if mapping is None:
                total = sum(map(mul, keys, times)) - base * n
                p90 = float(at)
            else:
                total = c(f"{name}.sum", 0)
                p90 = mapping.value(at)
            m[mean_name] = round(total / n / US_PER_S, 3)
            m[p90_name] = round(p90 / US_PER_S, 3)
        due = met = exempted = overturned = 0
        for due_n, met_n, exempted_n, overturned_n, attainment_n in self._sla_names:
            d, k, e, o = c(due_n, 0), c(met_n, 0), c(exempted_n, 0), c(overturned_n, 0)
            if d or e or o:
                m[due_n], m[met_n], m[attainment_n] = d, k, ratio(k, d)
                m[exempted_n], m[overturned_n] = e, o
                due, met, exempted, overturned = due + d, met + k, exempted + e, overturned + o
        m["sla.all.due"], m["sla.all.met"] = due, met
        m["sla.all.attainment"] = ratio(met, due)
        m["sla.all.exempted"], m["sla.all.overturned"] = exempted, overturned
        m["exemptions"], m["appeals_overturned"] = c("exemptions", 0), c("appeals_overturned", 0)
        minor = moderate = severe = 0
        for counter, published, level in self._breach_names:
            n = c(counter, 0)
            if n:
                m[published] = n
                if level == 0:
                    minor += n
                elif level == 1:
                    moderate += n
                else:
                    severe += n
        m["breaches.minor"], m["breaches.moderate"], m["breaches.severe"] = minor, moderate, severe
        complaints, in_time = c("complaints", 0), c("complaints_in_time", 0)
        m["complaints"], m["complaints_in_time"] = complaints, in_time
        m["complaint_24h_rate"] = ratio(in_time, complaints)
        closed, complete = c("records.closed", 0), c("records.complete", 0)
        m["records.closed"], m["records.complete"] = closed, complete
        m["records.incomplete"] = closed - complete
        m["records.completeness"] = ratio(complete, closed)
        for name in _MISSING:
            m[name] = c(name, 0)
        sent, submitted = c("surveys.sent", 0), c("surveys.submitted", 0)
        counted, satisfied = c("surveys.counted", 0), c("surveys.satisfied", 0)
        m["surveys.sent"], m["surveys.submitted"] = sent, submitted
        m["surveys.participation"] = ratio(submitted, sent)
        m["surveys.counted"], m["surveys.satisfied"] = counted, satisfied
        m["csat"] = ratio(satisfied, counted)
        for mean_name, sum_name, n_name in _ITEMS:
            n = c(n_name, 0)
            m[mean_name] = round(c(sum_name, 0) / n, 4) if n else None
        invalid = c("surveys.invalid", 0)
        m["surveys.invalid"] = invalid
        if invalid:
            for name in sorted(counts):
                if name.startswith("surveys.invalid."):
                    m[name] = counts[name]
        for name in _SURVEY_COUNTS:
            m[name] = c(name, 0)
        unit, start = key[0], key[1]
        if unit in BACKLOG_UNITS:
            if store.windows.end(unit, start) <= store.horizon:
                m["backlog"] = c("backlog", 0)
                for name in self._band_names:
                    m[name] = c(name, 0)
            else:
                m["backlog"] = None
        return m

    def team_mean(self, unit: str, start: int) -> float | None:
        """Unweighted mean CSAT of the teams of a window with enough counted surveys."""
        window = (unit, start)
        if window in self._team_mean:
            return self._team_mean[window]
        values = []
        for k in sorted(self.store.by_window.get(window, ())):
            if k[2] != "team":
                continue
            m = self.metrics(k)
            n = m.get("surveys.counted")
            csat = m.get("csat")
            if isinstance(n, int) and n >= self.rules.team_csat_min_surveys and csat is not None:
                values.append(csat)
        mean = round(sum(values) / len(values), 6) if values else None
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
            csat = metrics.get("csat")
            n = metrics.get("surveys.counted")
            if (
                mean is not None
                and csat is not None
                and isinstance(n, int)
                and n >= rules.team_csat_min_surveys
            ):
                bar = (
                    mean * (1 - rules.team_csat_below)
                    if rules.team_csat_mode == "relative"
                    else mean - rules.team_csat_below
                )
                if csat <= bar + 1e-9:
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


LEVELS = ("minor", "moderate", "severe")
_SLA_PARTS = ("due", "met", "exempted", "overturned", "attainment")
# In `DISTRIBUTIONS` order: (name, mean, p90, the count published with the wall-time one).
_DURATIONS = tuple(
    (
        name,
        f"{name}_mean_s",
        f"{name}_p90_s",
        name.removesuffix("_wall") + "_count" if name.endswith("_wall") else None,
    )
    for name in DISTRIBUTIONS
)
_MISSING = tuple(f"records.missing.{name}" for name in RECORD_FIELDS)
_ITEMS = tuple(
    (f"surveys.mean.{item}", f"surveys.sum.{item}", f"surveys.n.{item}") for item in SURVEY_ITEMS
)
_SURVEY_COUNTS = (
    "surveys.flagged",
    "surveys.flagged_all5",
    "surveys.flagged_all1",
    "surveys.replaced",
)
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
