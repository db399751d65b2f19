"""A single-node Apache Kafka broker (KRaft) on loopback, for development and the tests.

`sla-engine broker --kafka` and the tests' `kafka` broker run it. The pinned broker jars come from
the Maven registry once (`mvn dependency:copy-dependencies` on `kafka-broker.pom.xml`, into
`~/.cache/sla-engine/kafka-<version>/libs`); the log dir is formatted once (`kafka-storage
format`) and kept, so a broker restarted on the same data dir has every topic, offset and
committed group offset it had. The JVM has a bounded heap; settings that only slow a one-node
broker down (replication factors, the initial rebalance delay) are set for one node.

Optionally a second, SASL_SSL listener (`Secure`): TLS with a PEM key and certificate, SASL
PLAIN and SCRAM-SHA-256/512 users (SCRAM credentials are written at format time). The plain
listener stays for administration and readiness checks.
"""

from __future__ import annotations

import base64
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kafka_io.admin import BrokerError, wait_until_ready
from kafka_io.apache_jars import KAFKA_VERSION, fetch_jars, java_binary
from kafka_io.process import BrokerProcess, free_port, pdeathsig_preexec

HEAP = os.environ.get("SLA_KAFKA_HEAP", "512m")

# One node: nothing to replicate, no one to wait for. The group and cleaner settings make group
# joins and compaction quick enough for tests without changing what they mean.
ONE_NODE = {
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
    "group.min.session.timeout.ms": "1000",
    # after a SIGKILL the restarted node waits out its old registration's session
    "broker.session.timeout.ms": "3000",
    "broker.heartbeat.interval.ms": "500",
    "num.partitions": "4",
    "auto.create.topics.enable": "true",
    "num.network.threads": "2",
    "num.io.threads": "4",
    "num.recovery.threads.per.data.dir": "1",
    "log.retention.ms": "-1",  # a development broker keeps histories stamped long ago
    "log.cleaner.threads": "1",
    "log.cleaner.backoff.ms": "1000",
    "log.cleaner.dedupe.buffer.size": "8388608",
}

_LOG4J = """\
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {level}
rootLogger.appenderRef.file.ref = file
"""


@dataclass(frozen=True)
class Secure:
    """A SASL_SSL listener: PEM files of the broker's key + certificate chain, and its users."""

    keystore_pem: Path  # the private key (unencrypted PKCS#8) followed by the certificate chain
    users: Mapping[str, str] = field(default_factory=dict)  # name → password, every mechanism
    port: int = 0


def rss_bytes(pid: int) -> int:
    """Resident set size of a process (Linux `/proc`), 0 when unknown."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class KafkaBroker(BrokerProcess):
    """Apache Kafka in KRaft combined mode (broker + controller, node 1) on `127.0.0.1`."""

    def __init__(
        self,
        data_dir: Path | str | None = None,
        port: int | None = None,
        *,
        secure: Secure | None = None,
        version: str = KAFKA_VERSION,
        heap: str = HEAP,
        start_timeout: float = 90.0,
        log_level: str = "WARN",
        die_with_parent: bool = True,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or 0
        self.secure = secure
        self.version = version
        self.heap = heap
        self.start_timeout = start_timeout
        self.log_level = log_level
        self.die_with_parent = die_with_parent and sys.platform == "linux"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kafka-")
            data_dir = self._tmp.name
        self.data_dir = Path(data_dir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.log_path = self.data_dir / "kafka.out"
        self.start_seconds = 0.0  # of the last start, spawn to first metadata answer

    @property
    def bootstrap(self) -> str:
        """`host:port` of the plain listener."""
        if not self.port:
            raise BrokerError("the broker is not started")
        return f"{self.host}:{self.port}"

    @property
    def secure_bootstrap(self) -> str:
        """`host:port` of the SASL_SSL listener."""
        if self.secure is None or not self.secure.port:
            raise BrokerError("the broker has no SASL_SSL listener")
        return f"{self.host}:{self.secure.port}"

    def rss(self) -> int:
        """The broker JVM's resident memory in bytes."""
        return rss_bytes(self._proc.pid) if self._proc is not None else 0

    # -- configuration -------------------------------------------------------

    def _ports(self) -> dict[str, int]:
        """The ports, picked once and kept in the data dir: a restart listens where it did."""
        saved = self.data_dir / "ports"
        ports: dict[str, int] = {}
        if saved.exists():
            for line in saved.read_text().splitlines():
                name, _, value = line.partition("=")
                ports[name] = int(value)
        if self.port:
            ports["plain"] = self.port
        if self.secure is not None and self.secure.port:
            ports["secure"] = self.secure.port
        for name in ("plain", "controller", *(["secure"] if self.secure else [])):
            ports.setdefault(name, free_port(self.host))
        saved.write_text("".join(f"{k}={v}\n" for k, v in ports.items()))
        return ports

    def _properties(self, ports: dict[str, int]) -> dict[str, str]:
        h = self.host
        listeners = [f"PLAINTEXT://{h}:{ports['plain']}", f"CONTROLLER://{h}:{ports['controller']}"]
        advertised = [f"PLAINTEXT://{h}:{ports['plain']}"]
        protocols = ["PLAINTEXT:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{h}:{ports['controller']}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.data_dir / "log"),
            **ONE_NODE,
        }
        if self.secure is not None:
            listeners.append(f"SECURE://{h}:{ports['secure']}")
            advertised.append(f"SECURE://{h}:{ports['secure']}")
            protocols.append("SECURE:SASL_SSL")
            plain_users = " ".join(f'user_{u}="{p}"' for u, p in self.secure.users.items())
            props |= {
                "listener.name.secure.ssl.keystore.type": "PEM",
                "listener.name.secure.ssl.keystore.location": str(self.secure.keystore_pem),
                "listener.name.secure.sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
                "listener.name.secure.plain.sasl.jaas.config": (
                    "org.apache.kafka.common.security.plain.PlainLoginModule required "
                    f"{plain_users};"
                ),
                "listener.name.secure.scram-sha-256.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
                "listener.name.secure.scram-sha-512.sasl.jaas.config": (
                    "org.apache.kafka.common.security.scram.ScramLoginModule required;"
                ),
            }
        props |= {
            "listeners": ",".join(listeners),
            "advertised.listeners": ",".join(advertised),
            "listener.security.protocol.map": ",".join(protocols),
        }
        return props

    def _java(self, libs: Path, main: str, *args: str, heap: str | None = None) -> list[str]:
        log4j = self.data_dir / "log4j2.properties"
        return [
            java_binary(),
            f"-Xmx{heap or self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            str(libs / "*"),
            main,
            *args,
        ]

    def _format(self, libs: Path, config: Path) -> None:
        """`kafka-storage format` once: a new cluster id, and the SCRAM users of `Secure`."""
        if (self.data_dir / "log" / "meta.properties").exists():
            return
        cluster_id = "-"
        while cluster_id.startswith("-"):  # the tool's parser reads "-…" as an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        scram: list[str] = []
        for user, password in (self.secure.users if self.secure else {}).items():
            for mechanism in ("SCRAM-SHA-256", "SCRAM-SHA-512"):
                scram += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
        cmd = self._java(
            libs,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(config),
            *scram,
            heap="256m",
        )
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
            raise BrokerError(f"kafka-storage format failed: {tail}")

    # -- lifecycle -----------------------------------------------------------

    def start(self) -> KafkaBroker:
        """Fetch the jars (first time), format the log dir (first time), start, wait for it."""
        if self.running():
            return self
        libs = fetch_jars(self.version)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = self._ports()
        self.port = ports["plain"]
        if self.secure is not None:
            self.secure = Secure(self.secure.keystore_pem, self.secure.users, ports["secure"])
        config = self.data_dir / "server.properties"
        props = self._properties(ports)
        config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        (self.data_dir / "log4j2.properties").write_text(
            _LOG4J.format(log=self.data_dir / "kafka.log", level=self.log_level)
        )
        self._format(libs, config)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        began = time.monotonic()
        self._proc = subprocess.Popen(
            self._java(libs, "kafka.Kafka", str(config)),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=pdeathsig_preexec() if self.die_with_parent else None,
        )
        try:
            self._wait_ready(began)
        except BrokerError:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _wait_ready(self, began: float) -> None:
        deadline = began + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise BrokerError(f"Apache Kafka exited at start: {self.log_tail()}")
            try:
                wait_until_ready(self.bootstrap, timeout=2.0)
                return
            except BrokerError:
                continue
        raise BrokerError(f"Apache Kafka did not answer within {self.start_timeout:.0f} s")

    def log_tail(self, lines: int = 8) -> str:
        """The last lines of the broker's console output and its log."""
        text: list[str] = []
        for path in (self.log_path, self.data_dir / "kafka.log"):
            with contextlib.suppress(OSError):
                text += path.read_text(errors="replace").strip().splitlines()[-lines:]
        return " | ".join(text) or "(empty log)"

    def stop(self, timeout: float = 30.0, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the broker (SIGTERM: a clean shutdown; SIGKILL: a crash) and reap it."""
        self._stop_child(timeout, sig)

    def close(self) -> None:
        """Stop the broker and remove its data dir if this object created it."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def main(port: int | None = None, data_dir: Path | str | None = None) -> int:
    """`sla-engine broker --kafka`: run Apache Kafka in the foreground until Ctrl-C or SIGTERM."""
    data = Path(data_dir) if data_dir is not None else Path("kafka-data")
    broker = KafkaBroker(data_dir=data, port=port)
    print(f"starting Apache Kafka {broker.version} (data in {data}) ...", flush=True)
    return broker.serve(
        lambda: (
            f"Apache Kafka {broker.version} (KRaft, one node) at {broker.bootstrap}; started in "
            f"{broker.start_seconds:.1f} s, RSS {broker.rss() / 2**20:.0f} MiB; data kept in "
            f"{data}; log: {data / 'kafka.log'}. Ctrl-C stops it."
        ),
        "sla-engine broker --kafka: ",
    )
