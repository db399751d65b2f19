"""KPI family *surveys*: participation, CSAT, scores per item, invalid and flagged surveys, and
the team CSAT flag.

Facts: `surveys.sent` — the ticket's latest `survey_sent`. `survey` — the ticket's counted
survey: the latest valid `survey_submitted`; the value packs the seven scores as decimal digits
in `SURVEY_ITEMS` order (0 = not scored). Earlier valid ones are `surveys.replaced`; invalid
ones are `surveys.invalid.<reason>` at their instants: the producer's `invalid_reason` when it
is one the policy names, else `other`; `unknown_ticket` (no `created` event); `no_overall` (no
overall score).

Snapshot fields: `surveys.sent`, `surveys.submitted` (valid, one per ticket),
`surveys.participation` = submitted / sent, `surveys.counted` (submitted, minus flagged ones
when the policy excludes them), `surveys.satisfied` (overall 4–5), `csat` = satisfied / counted
(target, gap), `surveys.mean.<item>`, `surveys.invalid` and `surveys.invalid.<reason>`,
`surveys.flagged`, `surveys.flagged_all5`, `surveys.flagged_all1`, `surveys.replaced`.

Team dimension (`csat_flagged`): `csat_teams_mean`, the unweighted mean CSAT of the teams in
the window with at least `team_csat_min_surveys` counted surveys; a team whose CSAT is at or
below mean × (1 − 0.15) (`relative`, the default: "15 % below the mean" is read as 15 % of the
mean; `points` reads it as 15 percentage points) carries the flag `csat_below_team_mean`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.history import Ev
from engine.kpis.cells import Cell, Metrics, ratio
from engine.kpis.facts import Dims, Fact, Story, fact
from engine.rules import KpiRules
from schemas.attributes import SURVEY_ITEMS

_OVERALL = SURVEY_ITEMS.index("overall")
_ITEMS = tuple(
    (f"surveys.mean.{item}", f"surveys.sum.{item}", f"surveys.n.{item}") for item in SURVEY_ITEMS
)
_SURVEY_COUNTS = (
    "surveys.flagged",
    "surveys.flagged_all5",
    "surveys.flagged_all1",
    "surveys.replaced",
)


def _survey_code(scores: dict[str, Any]) -> int:
    code = 0
    for item in SURVEY_ITEMS:
        s = scores.get(item)
        code = code * 10 + (s if isinstance(s, int) and 1 <= s <= 5 else 0)
    return code


def decode_survey(code: int) -> tuple[int, ...]:
    """The seven scores of a packed survey value (0 = not scored)."""
    return tuple(int(c) for c in str(code).zfill(len(SURVEY_ITEMS)))


def _invalid(scores: dict[str, Any], known: bool, reasons: frozenset[str]) -> str | None:
    """Why a submitted survey is not counted, or None when it is valid."""
    if not known:
        return "unknown_ticket"
    marked = scores.get("invalid_reason")
    if marked is not None and str(marked).strip():
        name = str(marked).strip().lower()
        return name if name in reasons else "other"
    overall = scores.get("overall")
    if not isinstance(overall, int) or not 1 <= overall <= 5:
        return "no_overall"
    return None


class SurveyFacts:
    """Collects the surveys sent and submitted during the walk."""

    __slots__ = ("sent", "submissions")

    def __init__(self) -> None:
        self.sent: tuple[int, Dims] | None = None
        self.submissions: list[tuple[int, Dims, dict[str, Any]]] = []

    def event(self, ev: Ev, dims: Dims, story: Story, add: Callable[[Fact], None]) -> None:
        if ev.type == "survey_sent":
            self.sent = (ev.at, dims)
        elif ev.type == "survey_submitted":
            self.submissions.append((ev.at, dims, dict(ev.data.get("survey") or {})))

    def finish(self, story: Story, add: Callable[[Fact], None]) -> None:
        if self.sent is not None:
            add(fact("surveys.sent", self.sent[0], self.sent[1]))
        reasons = story.ticket.state.policy.kpis.invalid_reasons
        counted: tuple[int, Dims, int] | None = None
        for t, dims, scores in self.submissions:
            invalid = _invalid(scores, story.created is not None, reasons)
            if invalid is not None:
                add(fact(f"surveys.invalid.{invalid}", t, dims))
                continue
            if counted is not None:
                add(fact("surveys.replaced", counted[0], counted[1]))
            counted = (t, dims, _survey_code(scores))
        if counted is not None:
            add(fact("survey", counted[0], counted[1], counted[2]))


def counters(metric: str, value: int, rules: KpiRules) -> tuple[tuple[str, int], ...] | None:
    """The counters a `survey` or `surveys.invalid.*` fact adds to (None: not one)."""
    if metric.startswith("surveys.invalid."):
        return (("surveys.invalid", 1), (metric, 1))
    if metric != "survey":
        return None
    scores = decode_survey(value)
    out = [("surveys.submitted", 1)]
    flagged = None
    if all(s == 5 for s in scores):
        flagged = "surveys.flagged_all5"
    elif all(s == 1 for s in scores):
        flagged = "surveys.flagged_all1"
    if flagged is not None:
        out += [("surveys.flagged", 1), (flagged, 1)]
    if flagged is None or rules.include_flagged_surveys:
        out.append(("surveys.counted", 1))
        if scores[_OVERALL] >= 4:
            out.append(("surveys.satisfied", 1))
        for item, s in zip(SURVEY_ITEMS, scores, strict=True):
            if s:
                out += [(f"surveys.sum.{item}", s), (f"surveys.n.{item}", 1)]
    return tuple(out)


def put(m: Metrics, cell: Cell) -> None:
    """The family's snapshot fields of one cell."""
    counts = cell.counts
    c = counts.get
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


def rated(m: Metrics, rules: KpiRules) -> float | None:
    """A team's CSAT when it has enough counted surveys to be rated (None: not rated)."""
    n, csat = m.get("surveys.counted"), m.get("csat")
    if isinstance(n, int) and n >= rules.team_csat_min_surveys and csat is not None:
        return csat
    return None


def teams_mean(team_metrics: list[Metrics], rules: KpiRules) -> float | None:
    """Unweighted mean CSAT of the rated teams of a window."""
    values = [v for v in (rated(m, rules) for m in team_metrics) if v is not None]
    return round(sum(values) / len(values), 6) if values else None


def csat_flagged(m: Metrics, mean: float | None, rules: KpiRules) -> bool:
    """The team CSAT flag: a rated team at or below the bar set by the teams' mean."""
    csat = rated(m, rules)
    if mean is None or csat is None:
        return False
    if rules.team_csat_mode == "relative":
        bar = mean * (1 - rules.team_csat_below)
    else:
        bar = mean - rules.team_csat_below
    return csat <= bar + 1e-9
