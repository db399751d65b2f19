"""Apache Kafka's broker jars and the JVM that runs them: the pinned jars come from the Maven
registry once (`mvn dependency:copy-dependencies` on `kafka-broker.pom.xml`) into
`~/.cache/sla-engine/kafka-<version>/libs`; Java 17+ from `$SLA_KAFKA_JAVA`, `$JAVA_HOME` or the
PATH."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from kafka_io.admin import BrokerError

KAFKA_VERSION = os.environ.get("SLA_KAFKA_VERSION", "4.1.1")
POM = Path(__file__).with_name("kafka-broker.pom.xml")


def cache_dir(version: str = KAFKA_VERSION) -> Path:
    """Where the jars of `version` are kept (`SLA_KAFKA_CACHE` overrides the base)."""
    base = os.environ.get("SLA_KAFKA_CACHE") or Path.home() / ".cache" / "sla-engine"
    return Path(base) / f"kafka-{version}"


def fetch_jars(version: str = KAFKA_VERSION, quiet: bool = True) -> Path:
    """The directory of the broker's jars, copied there by Maven the first time."""
    libs = cache_dir(version) / "libs"
    if (libs / ".complete").exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerError(
            "Apache Kafka needs Maven to fetch its jars once: install it (apt-get install maven) "
            "or run scripts/bootstrap"
        )
    part = libs.with_name(f"libs.part-{os.getpid()}")
    shutil.rmtree(part, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        *(["-q"] if quiet else []),
        "-f",
        str(POM),
        f"-Dkafka.version={version}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={part}",
        "-DincludeScope=runtime",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        raise BrokerError(f"mvn could not fetch Apache Kafka {version}: {tail}")
    (part / ".complete").write_text(version)
    shutil.rmtree(libs, ignore_errors=True)
    part.rename(libs)
    return libs


def java_binary() -> str:
    """`$SLA_KAFKA_JAVA`, else `$JAVA_HOME/bin/java`, else `java` on the PATH (17 or later)."""
    explicit = os.environ.get("SLA_KAFKA_JAVA")
    if explicit:
        return explicit
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise BrokerError("Apache Kafka needs Java 17 or later: apt-get install openjdk-17-jre")
    return found
