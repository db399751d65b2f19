"""docker/prometheus: the alert rules pass `promtool check rules`, their unit tests pass
`promtool test rules`, every rule is tested firing and quiet, and they use catalog metrics."""

from __future__ import annotations

import re

import yaml

from tests.docker.conftest import PROMETHEUS, ROOT, run_promtool

RULES = PROMETHEUS / "rules.yml"
RULE_TESTS = PROMETHEUS / "rules.test.yml"
EXPECTED_ALERTS = {
    "SlaSevereEscalation",
    "SlaCsatBelowTarget",
    "SlaTimerLagHigh",
    "SlaDeadLetterGrowing",
    "SlaWorkerDown",
}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def catalog_metrics() -> set[str]:
    """Metric names of docs/metrics.md (the first column of its table)."""
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `(sla_[a-z0-9_]+)` \|", text, flags=re.MULTILINE))


def metric_names(expr: str) -> set[str]:
    """The `sla_*` metric names an expression reads (histogram series map to the histogram)."""
    names = set()
    for name in re.findall(r"\b(sla_[a-z0-9_]+)", expr):
        for suffix in HISTOGRAM_SUFFIXES:
            if name.endswith(suffix):
                name = name[: -len(suffix)]
                break
        names.add(name)
    return names


def alert_rules() -> list[dict[str, object]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"] if "alert" in rule]


def test_rules_check(promtool: str) -> None:
    out = run_promtool(promtool, "check", "rules", RULES)
    assert f"SUCCESS: {len(EXPECTED_ALERTS)} rules found" in out


def test_rules_unit_tests_pass(promtool: str) -> None:
    out = run_promtool(promtool, "test", "rules", RULE_TESTS)
    assert "SUCCESS" in out


def test_the_five_rules_exist_with_severity_and_summary() -> None:
    rules = alert_rules()
    assert {r["alert"] for r in rules} == EXPECTED_ALERTS
    for rule in rules:
        labels = rule.get("labels")
        annotations = rule.get("annotations")
        assert isinstance(labels, dict) and labels.get("severity") in ("warning", "critical")
        assert isinstance(annotations, dict) and annotations.get("summary"), rule["alert"]


def test_every_rule_is_tested_firing_and_quiet() -> None:
    """Each alert has a unit-test evaluation where it fires and one where it does not."""
    tests = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["rules.yml"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    assert fires == EXPECTED_ALERTS
    assert quiet == EXPECTED_ALERTS


def test_rules_use_catalog_metrics() -> None:
    catalog = catalog_metrics()
    assert catalog, "docs/metrics.md lists no metric"
    for rule in alert_rules():
        expr = str(rule["expr"])
        used = metric_names(expr)
        assert used or expr.startswith('up{job="sla-engine"}'), rule["alert"]
        assert used <= catalog, f"{rule['alert']}: not in docs/metrics.md: {used - catalog}"
