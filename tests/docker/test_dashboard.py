"""The Grafana dashboard (topologies/dashboard.py): the committed JSON is the generator's
output, it round-trips through grafana-foundation-sdk's model, every panel reads the
provisioned Prometheus datasource, and every query parses (promtool) and reads catalog metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import prometheus as prom_model

from tests.docker.conftest import DOCKER, run_promtool
from tests.docker.test_prometheus import catalog_metrics, metric_names
from topologies import dashboard, dashboard_model

COMMITTED = DOCKER / "grafana" / "dashboards" / "sla-engine.json"
ROWS = ["Live SLA", "KPIs vs targets (today)", "Engine health"]


@pytest.fixture(scope="module")
def board() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(COMMITTED.read_text(encoding="utf-8"))
    return data


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def test_committed_json_is_the_generators_output() -> None:
    assert dashboard.OUTPUT == COMMITTED
    assert COMMITTED.read_text(encoding="utf-8") == dashboard.to_json(), (
        "docker/grafana/dashboards/sla-engine.json is stale: run `python -m topologies.dashboard`"
    )


def test_output_is_stable_with_sorted_keys(tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    assert dashboard.main([str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert text == dashboard.to_json()
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_rows_and_unique_ids(board: dict[str, Any]) -> None:
    rows = [p["title"] for p in board["panels"] if p["type"] == "row"]
    assert rows == ROWS
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    assert board["uid"] == "sla-engine"
    # Each row is followed by at least one panel.
    kinds = [p["type"] for p in board["panels"]] + ["row"]
    assert all(kinds[i + 1] != "row" for i, k in enumerate(kinds[:-1]) if k == "row")


def test_every_panel_has_the_datasource_and_a_target(board: dict[str, Any]) -> None:
    provisioned = yaml.safe_load(
        (DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"][0]
    ref = {"type": provisioned["type"], "uid": provisioned["uid"]}
    assert panels(board)
    for p in panels(board):
        assert p["datasource"] == ref, p["title"]
        assert p["targets"], p["title"]
        assert p.get("description"), p["title"]
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), p["title"]
        for t in p["targets"]:
            assert t["datasource"] == ref, p["title"]
            assert t["expr"].strip(), p["title"]


def test_validates_against_the_sdk_model(board: dict[str, Any]) -> None:
    """Decoding with the SDK's model and encoding again gives the same JSON: no key the model
    does not know, and panel options, field config and queries decode to their typed classes."""
    register_default_plugins()
    decoded = model.Dashboard.from_json(board)
    assert json.loads(json.dumps(decoded, cls=JSONEncoder)) == board
    assert decoded.panels is not None
    for p in decoded.panels:
        if isinstance(p, model.RowPanel):
            continue
        assert cogruntime.panelcfg_config(p.type_val) is not None, p.type_val
        assert not isinstance(p.options, dict), f"{p.title}: options not typed"
        assert type(p.options).__module__.endswith("." + p.type_val), p.title
        assert p.targets
        for t in p.targets:
            assert isinstance(t, prom_model.Dataquery), p.title


def test_queries_are_every_target(board: dict[str, Any]) -> None:
    exprs = [t["expr"] for p in panels(board) for t in p["targets"]]
    assert dashboard.queries() == [dashboard.expand(e) for e in exprs]
    names = [name for name, _, _ in dashboard_model.VARIABLES]
    for q in dashboard.queries():  # plain PromQL: every variable at its All value
        assert not any(f'"${n}"' in q for n in names), q
    assert len(exprs) >= 15


def test_queries_parse(promtool: str, tmp_path: Path) -> None:
    """Each query as a recording rule: `promtool check rules` parses every expression."""
    queries = dashboard.queries()
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard_query_{i:02d}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False), encoding="utf-8")
    out = run_promtool(promtool, "check", "rules", path)
    assert f"SUCCESS: {len(queries)} rules found" in out


def test_queries_use_catalog_metrics() -> None:
    catalog = catalog_metrics()
    for q in dashboard.queries():
        used = metric_names(q)
        assert used or q == 'sum(up{job="sla-engine",instance=~".*"})', q
        assert used <= catalog, f"{q}: not in docs/metrics.md: {used - catalog}"
    used_all = set().union(*(metric_names(q) for q in dashboard.queries()))
    # The dashboard shows every metric of the catalog.
    assert used_all == catalog


def test_variables_filter_every_panel_with_the_label(board: dict[str, Any]) -> None:
    """Issue 16 §17: team, priority, clock and worker filters; each panel whose metric carries
    a variable's label filters by it (the catalog in docs/metrics.md says which labels)."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert list(variables) == ["team", "priority", "clock", "instance"]
    for name, v in variables.items():
        assert v["type"] == "query" and v["datasource"] == {
            "type": "prometheus",
            "uid": "prometheus",
        }
        assert v["query"].startswith("label_values(sla_") and v["query"].endswith(f", {name})")
        assert v["multi"] and v["includeAll"] and v["allValue"] == ".*"
    labels = {  # metric: its labels that are variables
        "sla_alerts_total": {"team", "priority", "clock"},
        "sla_clocks_at_risk": {"priority", "clock"},
        "sla_open_clocks": {"priority", "clock"},
        "sla_team_csat_flagged": {"team"},
        "sla_clocks_untargeted_total": {"clock"},
        "sla_at_risk_next_hour": {"team", "clock"},
    }
    per_worker_kpi = {"sla_kpi", "sla_kpi_target", "sla_open_backlog"}  # aggregator-wide
    for p in panels(board):
        for t in p["targets"]:
            for metric in metric_names(t["expr"]):
                wanted = set(labels.get(metric, set()))
                if metric not in per_worker_kpi and metric != "sla_team_csat_flagged":
                    wanted.add("instance")
                for name in wanted:
                    assert f'{name}=~"${name}"' in t["expr"], (p["title"], name, t["expr"])


def test_a_team_links_to_its_alerts(board: dict[str, Any]) -> None:
    linked = [p for p in panels(board) if p.get("fieldConfig", {}).get("defaults", {}).get("links")]
    assert {p["title"] for p in linked} == {
        "Breaches and escalations by team, last hour",
        "Teams flagged for low CSAT",
    }
    for p in linked:
        (link,) = p["fieldConfig"]["defaults"]["links"]
        assert link["url"] == (
            "/d/sla-engine/sla-engine?${__url_time_range}&var-team=${__field.labels.team}"
        )
        assert all("by (team)" in t["expr"] for t in p["targets"])  # the series carry `team`
    alerts = next(p for p in panels(board) if p["title"].startswith("Warnings, breaches"))
    assert 'team=~"$team"' in alerts["targets"][0]["expr"]  # the linked view filters alerts
