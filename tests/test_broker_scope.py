"""The xdist work units of scripts/test: one per broker kind (each broker starts once)."""

from tests.conftest import broker_scope


def test_tests_on_one_broker_kind_share_a_unit_and_the_rest_do_not() -> None:
    it = "tests/integration/test_kill_phases.py::test_sigkill_during_recovery_loses_no_alert"
    assert broker_scope(f"{it}[kafka-midway]") == "broker-kafka"
    assert broker_scope("tests/integration/test_worker.py::test_x[tansu]") == "broker-tansu"
    soak = "tests/integration/test_soak.py"
    assert broker_scope(f"{soak}::test_soak") == soak
    unit = "tests/engine/test_clock.py::test_y[kafka]"
    assert broker_scope(unit) == unit
