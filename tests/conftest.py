"""Test scheduling for pytest-xdist (scripts/test): one process runs all tests of a broker kind.

xdist's own `--dist loadgroup` cannot group under pytest 9 (it renames `item._nodeid`, which
pytest 9 no longer reads), so with `--dist loadgroup` the groups are made here from the node id:
every integration test whose parameters name a broker kind (`[kafka]`, `[tansu-midway]`) is in
that kind's group, the other integration tests are grouped by module (module fixtures run
once), everything else is shared out test by test. Each broker then starts in one process only.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

INTEGRATION = "tests/integration/"
KINDS = ("kafka", "tansu", "external")  # the `broker` fixture's params (tests/integration)
# Here, not in tests/integration: xdist's controller loads only this conftest.
KIND_PROPERTY = "broker_kind"  # set on each item by tests/integration/conftest.py
_OUTCOMES: dict[str, Counter[str]] = {}
_SECONDS: dict[str, float] = {}  # setup + call + teardown of the tests of each kind


def broker_scope(nodeid: str) -> str:
    """The unit of work a test belongs to: its broker kind, its module, or itself."""
    if not nodeid.startswith(INTEGRATION):
        return nodeid
    path, _, name = nodeid.partition("::")
    ids = name[name.find("[") + 1 : -1].split("-") if name.endswith("]") else []
    for kind in KINDS:
        if kind in ids:
            return f"broker-{kind}"
    return path


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With `--dist loadgroup`: xdist's scope scheduling, scoped by `broker_scope`."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class BrokerScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return broker_scope(nodeid)

    return BrokerScheduling(config, log)


def _kind_of(report: pytest.TestReport) -> str | None:
    """The broker kind a test ran on, from the property the collection hook set."""
    for name, value in report.user_properties:
        if name == KIND_PROPERTY:
            return str(value)
    return None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    kind = _kind_of(report)
    if kind is None:
        return
    _SECONDS[kind] = _SECONDS.get(kind, 0.0) + report.duration
    if report.when == "call" or (report.when == "setup" and not report.passed):
        _OUTCOMES.setdefault(kind, Counter())[report.outcome] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The count of tests run on each broker kind."""
    if not _OUTCOMES:
        return
    terminalreporter.section("tests per broker")
    for kind, counts in sorted(_OUTCOMES.items()):
        text = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        terminalreporter.write_line(f"{kind}: {text} in {_SECONDS.get(kind, 0.0):.0f} s")
