"""The engine on a SASL_SSL listener of a real Apache Kafka: certificates made here by openssl,
SASL PLAIN and SCRAM users made at format time; the worker alerts, bad credentials stop it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.conftest import need_kafka
from tests.integration.harness import REPO, Topics, WorkerProcess, alerts_of, consume
from tests.integration.test_worker import created

pytestmark = pytest.mark.kafka_only

USER, PASSWORD = "sla-worker", "s3cret-pw"


def openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_certs(d: Path) -> tuple[Path, Path]:
    """A CA, and the broker's key + certificate for 127.0.0.1 signed by it: (ca.pem, broker.pem)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
            "-keyout", d / "ca.key", "-out", d / "ca.pem")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", d / "broker.key", "-out", d / "broker.csr")  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", d / "broker.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", d / "san.ext",
            "-out", d / "broker.crt")  # fmt: skip
    openssl("pkcs8", "-topk8", "-nocrypt", "-in", d / "broker.key", "-out", d / "broker.p8")
    pem = d / "broker.pem"
    pem.write_text((d / "broker.p8").read_text() + (d / "broker.crt").read_text())
    return d / "ca.pem", pem


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    need_kafka()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificates")
    from kafka_io.apache import KafkaBroker, Secure

    d = tmp_path_factory.mktemp("secure")
    ca, pem = make_certs(d)
    kafka = KafkaBroker(d / "kafka", secure=Secure(pem, {USER: PASSWORD}))
    kafka.start()
    try:
        yield kafka, ca
    finally:
        kafka.stop()


def client_env(ca: Path, d: Path, mechanism: str, password: str) -> dict[str, str]:
    """The SLA_* variables of a secured client; the password in a secrets file."""
    secrets = d / f"secrets-{mechanism}-{len(password)}"
    secrets.write_text(f"# test secrets\nsasl.password={password}\n")
    return {
        **os.environ,
        "SLA_SECURITY_PROTOCOL": "SASL_SSL",
        "SLA_SASL_MECHANISM": mechanism,
        "SLA_SASL_USERNAME": USER,
        "SLA_SSL_CA": str(ca),
        "SLA_KAFKA_SECRETS": str(secrets),
    }


def sla(
    env: dict[str, str], *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO, env=env, input=stdin, capture_output=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_produce_over_sasl_ssl_reaches_the_topic(
    secured: tuple[Any, Path], tmp_path: Path, mechanism: str
) -> None:
    kafka, ca = secured
    topics = Topics.unique(kafka.bootstrap)
    env = client_env(ca, tmp_path, mechanism, PASSWORD)
    event = orjson.dumps(created("T-SEC", datetime.now(UTC)))
    done = sla(env, "produce", "--broker", kafka.secure_bootstrap, "--topic", topics.events,
               "--input", "-", stdin=event + b"\n")  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    got = consume(kafka.bootstrap, topics.events, until=lambda m: len(m) >= 1, idle=0)
    assert [m.value() for m in got] == [event]


def test_worker_on_sasl_ssl_alerts(secured: tuple[Any, Path], tmp_path: Path) -> None:
    kafka, ca = secured
    topics = Topics.unique(kafka.bootstrap)
    env = client_env(ca, tmp_path, "SCRAM-SHA-512", PASSWORD)
    worker = WorkerProcess(
        kafka.secure_bootstrap, topics, tmp_path / "data", tmp_path / "worker.log", env=env
    ).start()
    try:
        late = created("T-SEC-LATE", datetime.now(UTC) - timedelta(seconds=70))
        done = sla(env, "produce", "--broker", kafka.secure_bootstrap, "--topic", topics.events,
                   "--input", "-", stdin=orjson.dumps(late) + b"\n")  # fmt: skip
        assert done.returncode == 0, done.stderr.decode()

        def warned(msgs: list[Any]) -> bool:
            return any(a["ticket_id"] == "T-SEC-LATE" for a in alerts_of(msgs))

        alerts = alerts_of(consume(kafka.bootstrap, topics.alerts, until=warned, idle=0))
        assert any(a["kind"] == "warning" for a in alerts), worker.log_tail()
    finally:
        worker.stop()


@pytest.mark.parametrize("command", ["run", "produce"])
def test_wrong_credentials_give_one_line_and_exit_non_zero(
    secured: tuple[Any, Path], tmp_path: Path, command: str
) -> None:
    kafka, ca = secured
    topics = Topics.unique(kafka.bootstrap)
    env = client_env(ca, tmp_path, "SCRAM-SHA-256", "not-the-password")
    args = ["--broker", kafka.secure_bootstrap, "--events-topic" if command == "run" else "--topic",
            topics.events]  # fmt: skip
    extra = ["--data-dir", str(tmp_path / "d"), "--metrics-port", "0"] if command == "run" else []
    extra += ["--input", "-"] if command == "produce" else []
    began = time.monotonic()
    done = sla(env, command, *args, *extra, stdin=b'{"ticket_id": "T-X"}\n')
    took = time.monotonic() - began
    lines = done.stderr.decode().strip().splitlines()
    assert done.returncode != 0
    assert len(lines) == 1, lines[:10]
    assert "uthentication" in lines[0] and kafka.secure_bootstrap in lines[0], lines[0]
    assert "Traceback" not in lines[0]
    assert took < 60
