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
from topologies import dashboard

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
    assert dashboard.queries() == exprs
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
        assert used or q == 'sum(up{job="sla-engine"})', q
        assert used <= catalog, f"{q}: not in docs/metrics.md: {used - catalog}"
    used_all = set().union(*(metric_names(q) for q in dashboard.queries()))
    # The dashboard shows every metric of the catalog.
    assert used_all == catalog
