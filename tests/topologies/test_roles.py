"""`sla-engine run --role`: which agents, timers and tables a worker of each role declares, its
consumer group, and the flag / `SLA_ROLE` resolution (the Faust app is built, never started)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from tests.topologies.fakes import FakeProducer
from topologies.app import build_app
from topologies.output import Output
from topologies.settings import Settings, add_arguments, resolve

TICKETS = {"agents": {"on_event", "on_tick"}, "timers": {"scan_timers", "refresh_gauges"}}
KPIS = {"agents": {"on_facts"}, "timers": {"publish_kpis"}}
# every role: the commit-gap watch, the collector kept off the long-lived state
EVERY_ROLE = {"watch_commits", "hold_off_gc"}


def wiring(tmp_path: Path, role: str) -> tuple[Any, set[str], set[str], set[str]]:
    """The app of `role`, its agents' short names, its timers' names and its tables."""
    settings = Settings(broker="127.0.0.1:9", data_dir=tmp_path, api_port=0, role=role)
    app, _close = build_app(settings, Output("127.0.0.1:9", FakeProducer()), tansu=False)
    agents = {name.rsplit(".", 1)[-1] for name in app.agents}
    timers = {t.__name__ for t in app._app_tasks}
    return app, agents, timers, set(app.tables)


def test_role_all_runs_everything_in_the_one_group(tmp_path: Path) -> None:
    app, agents, timers, tables = wiring(tmp_path, "all")
    assert app.conf.id == "sla-engine"
    assert agents == TICKETS["agents"] | KPIS["agents"]
    assert timers == TICKETS["timers"] | KPIS["timers"] | {"at_risk_gauge"} | EVERY_ROLE
    assert tables == {"tickets", "kpi-facts"}


def test_role_sla_runs_no_kpi_aggregator(tmp_path: Path) -> None:
    app, agents, timers, tables = wiring(tmp_path, "sla")
    assert app.conf.id == "sla-engine"
    assert agents == TICKETS["agents"]
    assert timers == TICKETS["timers"] | {"at_risk_gauge"} | EVERY_ROLE  # + the API's gauge
    assert tables == {"tickets"}


def test_role_kpis_runs_only_the_aggregator_in_its_own_group(tmp_path: Path) -> None:
    app, agents, timers, tables = wiring(tmp_path, "kpis")
    assert app.conf.id == "sla-engine-kpis"  # never takes the SLA workers' ticket partitions
    assert agents == KPIS["agents"]
    assert timers == KPIS["timers"] | EVERY_ROLE
    assert tables == {"kpi-facts"}
    assert not (tmp_path / "timers").exists()  # no timer indexes


def parsed(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(argv)


def test_role_from_flag_then_environment_then_all() -> None:
    assert resolve(parsed([]), {}).role == "all"
    assert resolve(parsed([]), {"SLA_ROLE": "kpis"}).role == "kpis"
    assert resolve(parsed(["--role", "sla"]), {"SLA_ROLE": "kpis"}).role == "sla"
    assert resolve(parsed(["--role", "kpis", "--group", "g"]), {}).app_group == "g-kpis"


def test_unknown_role_is_refused_with_the_choices() -> None:
    with pytest.raises(SystemExit, match="--role: bad value 'kpi' \\(one of all, sla, kpis\\)"):
        resolve(parsed(["--role", "kpi"]), {})
