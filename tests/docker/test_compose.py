"""docker/: what can be checked without a Docker engine. The compose file against the Compose
Specification's JSON schema (vendored, see compose-spec.schema.NOTICE) and the stack's own
rules (pinned images, health checks, restart policies, dependency conditions, volumes, the
demo profile, topic partitions, scrape targets); the Dockerfile's install is the one
scripts/bootstrap does; `promtool check config` on the Prometheus config."""

from __future__ import annotations

import base64
import json
import re
import shlex
import tomllib
from dataclasses import fields
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.docker.conftest import DOCKER, PROMETHEUS, ROOT, run_promtool
from topologies.settings import Settings, resolve

COMPOSE = DOCKER / "compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
BOOTSTRAP = ROOT / "scripts" / "bootstrap"
SCHEMA = Path(__file__).with_name("compose-spec.schema.json")
SERVICES = {"kafka", "topics", "engine-1", "engine-2", "prometheus", "grafana", "demo"}
ENGINES = ("engine-1", "engine-2")
ONE_SHOT = {"topics"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
PINNED_TAG = re.compile(r"^[a-z0-9./_-]+:v?\d+(\.\d+)+[a-z0-9.-]*$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svc: dict[str, dict[str, Any]] = compose["services"]
    return svc


def project_version() -> str:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return str(data["project"]["version"])


def compose_schema() -> jsonschema.protocols.Validator:
    """The vendored schema (it declares draft 2019-09) plus the top-level project `name`, which
    the Compose Specification added after this version of it."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["properties"]["name"] = {"type": "string"}
    jsonschema.Draft201909Validator.check_schema(schema)
    return jsonschema.Draft201909Validator(schema)


def test_matches_the_compose_spec_schema(compose: dict[str, Any]) -> None:
    validator = compose_schema()
    errors = sorted(validator.iter_errors(compose), key=lambda e: [str(p) for p in e.absolute_path])
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def test_the_schema_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    """The schema check has teeth: a misspelt key and a bad dependency condition fail."""
    broken = json.loads(json.dumps(compose))
    broken["services"]["engine-1"]["helthcheck"] = {}
    broken["services"]["grafana"]["depends_on"]["prometheus"]["condition"] = "healthy"
    errors = {e.message for e in compose_schema().iter_errors(broken)}
    assert any("helthcheck" in m for m in errors), errors
    assert any("'condition': 'healthy'" in m for m in errors), errors


def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == SERVICES


def test_images_are_pinned(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        image = svc.get("image")
        assert image, f"{name}: no image"
        assert not image.endswith(":latest") and PINNED_TAG.match(image), f"{name}: {image}"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    built = {name: svc for name, svc in services.items() if "build" in svc}
    assert set(built) == {*ENGINES, "demo"}
    for name, svc in built.items():
        assert svc["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}, name
        assert svc["image"] == f"sla-engine:{project_version()}", name


def test_restart_policies_and_health_checks(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", name
            continue
        assert svc.get("restart") == "unless-stopped", name
        if "profiles" in svc:
            continue  # the demo producer has no endpoint to check
        check = svc.get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
        for key in ("interval", "timeout", "retries"):
            assert key in check, f"{name}: healthcheck without {key}"


def test_depends_on_conditions(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown {dep}"
            condition = spec["condition"]
            assert condition in CONDITIONS, f"{name} -> {dep}: {condition}"
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}'s health"
            if condition == "service_completed_successfully":
                assert dep in ONE_SHOT, f"{name} waits for {dep} to exit"
    for engine in ENGINES:
        assert services[engine]["depends_on"] == {
            "kafka": {"condition": "service_healthy"},
            "topics": {"condition": "service_completed_successfully"},
        }
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def _volumes(svc: dict[str, Any]) -> list[tuple[str, str, str]]:
    out = []
    for v in svc.get("volumes", []):
        source, target, *mode = v.split(":")
        out.append((source, target, mode[0] if mode else "rw"))
    return out


def test_volumes(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes", {}))
    used = set()
    for name, svc in services.items():
        for source, _target, mode in _volumes(svc):
            if source.startswith("."):
                assert (DOCKER / source).is_dir(), f"{name}: bind mount {source} is missing"
                assert mode == "ro", f"{name}: {source} should be read-only"
            else:
                assert source in declared, f"{name}: volume {source} not declared"
                used.add(source)
    assert used == declared
    targets = {engine: _volumes(services[engine]) for engine in ENGINES}
    assert targets["engine-1"][0][0] != targets["engine-2"][0][0], "workers share a state volume"


def test_demo_is_an_optional_profile(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        assert ("profiles" in svc) == (name == "demo"), name
    demo = services["demo"]
    assert demo["profiles"] == ["demo"]
    assert demo["command"][0] == "demo-stream"
    assert demo["command"][demo["command"].index("--broker") + 1] == "kafka:9092"


def test_container_commands_are_sla_engine_commands(services: dict[str, dict[str, Any]]) -> None:
    """The image's ENTRYPOINT is `sla-engine`: the workers' default `run` and the demo's
    command parse with the real command-line parser, settings from the environment."""
    from cli.main import parser

    steps = dict(_instructions(DOCKERFILE.read_text(encoding="utf-8")))
    default = json.loads(steps["CMD"])
    assert parser().parse_args(default).command == "run"
    demo = parser().parse_args(services["demo"]["command"])
    assert (demo.command, demo.broker, demo.topic) == (
        "demo-stream",
        "kafka:9092",
        "tickets.events",
    )


def test_engine_workers(services: dict[str, dict[str, Any]]) -> None:
    host_ports = []
    for engine in ENGINES:
        svc = services[engine]
        env = svc["environment"]
        assert env["SLA_BROKER"] == "kafka:9092"
        assert env["SLA_METRICS_PORT"] == "9108"
        # The worker's default is loopback: in a container Prometheus could not reach it.
        assert env["SLA_METRICS_HOST"] == "0.0.0.0"
        settings = resolve(environ=env)  # every SLA_* name is a real setting
        assert set(env) <= {"SLA_" + f.name.upper() for f in fields(Settings)}
        assert (settings.broker, settings.metrics_port) == ("kafka:9092", 9108)
        assert str(settings.data_dir) == env["SLA_DATA_DIR"]
        assert [target for _, target, _ in _volumes(svc)] == [env["SLA_DATA_DIR"]]
        assert "http://127.0.0.1:9108/metrics" in " ".join(svc["healthcheck"]["test"])
        assert "command" not in svc and "entrypoint" not in svc  # the image's `sla-engine run`
        (port,) = svc["ports"]
        host_ports.append(port.rsplit(":", 1)[0])
    assert len(set(host_ports)) == len(host_ports)


def test_topic_partitions_are_the_settings(services: dict[str, dict[str, Any]]) -> None:
    script = " ".join(services["topics"]["command"])
    created = {
        topic: int(n)
        for topic, n in re.findall(
            r"--create --if-not-exists --topic (\S+) --partitions (\d+)", script
        )
    }
    assert created == Settings().topics
    assert created == {
        "tickets.events": 4,
        "sla.ticks": 4,
        "sla.alerts": 4,
        "tickets.dlq": 1,
        "sla.kpis": 1,
        "sla.kpi-facts": 1,
        "sla.status": 4,
    }
    compacted = set(re.findall(r"--topic (\S+) [^\n]*--config cleanup.policy=compact", script))
    assert compacted == Settings().compacted


def test_kafka_is_kraft(services: dict[str, dict[str, Any]]) -> None:
    env = services["kafka"]["environment"]
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert "zookeeper" not in json.dumps(env).lower()
    assert "PLAINTEXT://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    # A KRaft cluster id is 16 bytes in URL-safe base64 without padding.
    assert len(base64.urlsafe_b64decode(env["CLUSTER_ID"] + "==")) == 16
    volume = _volumes(services["kafka"])[0][1]
    assert env["KAFKA_LOG_DIRS"] == volume


def test_prometheus_scrapes_both_workers(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text(encoding="utf-8"))
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "sla-engine"]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert targets == [f"{e}:{services[e]['environment']['SLA_METRICS_PORT']}" for e in ENGINES]
    assert config["rule_files"] == ["rules.yml"]
    mounts = {target: source for source, target, _ in _volumes(services["prometheus"])}
    assert mounts["/etc/prometheus"] == "./prometheus"
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_prometheus_config_check(promtool: str) -> None:
    out = run_promtool(promtool, "check", "config", PROMETHEUS / "prometheus.yml")
    assert "SUCCESS" in out


def test_grafana_provisioning(services: dict[str, dict[str, Any]]) -> None:
    mounts = {source: target for source, target, _ in _volumes(services["grafana"])}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    sources = yaml.safe_load(
        (DOCKER / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert [(s["type"], s["uid"], s["url"]) for s in sources] == [
        ("prometheus", "prometheus", "http://prometheus:9090")
    ]
    (provider,) = yaml.safe_load(
        (DOCKER / "grafana/provisioning/dashboards/sla-engine.yml").read_text(encoding="utf-8")
    )["providers"]
    assert provider["options"]["path"] == mounts["./grafana/dashboards"]
    assert (DOCKER / "grafana/dashboards/sla-engine.json").is_file()
    home = services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == mounts["./grafana/dashboards"] + "/sla-engine.json"


def _instructions(dockerfile: str) -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", dockerfile)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _pip_installs(shell: str) -> list[tuple[list[str], list[str]]]:
    """(options, requirements) of every `pip install` in a piece of shell (one command a line,
    or several joined by && / ;)."""
    out = []
    for line in shell.splitlines():
        if "pip install" not in line or line.lstrip().startswith("#"):
            continue
        line = re.sub(r"\d*[<>]+&?\S*", "", line)  # redirections
        for command in re.split(r"&&|\|\||;", line):
            words = shlex.split(command, comments=True)
            for i, word in enumerate(words[:-1]):
                if word.endswith("pip") and words[i + 1] == "install":
                    args = words[i + 2 :]
                    out.append(
                        ([a for a in args if a.startswith("-")], [a for a in args if a[0] != "-"])
                    )
    return out


def test_dockerfile(services: dict[str, dict[str, Any]]) -> None:
    steps = _instructions(DOCKERFILE.read_text(encoding="utf-8"))
    kinds = [k for k, _ in steps]
    (base,) = [v for k, v in steps if k == "FROM"]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    users = [v for k, v in steps if k == "USER"]
    assert users and users[-1] not in ("root", "0"), "the image must not run as root"
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    assert dict(steps)["ENTRYPOINT"] == '["sla-engine"]'
    assert dict(steps)["CMD"] == '["run"]'
    copied = {v.split()[0] for k, v in steps if k == "COPY"}
    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in found}  # "cli*": cli and its subpackages
    assert packages <= copied
    assert "pyproject.toml" in copied


def test_dockerfile_installs_what_bootstrap_installs() -> None:
    """The same pip steps as scripts/bootstrap (pip itself, then the project with the versions
    pinned in pyproject.toml); only the dev extra and the editable mode differ."""
    run = "\n".join(
        v for k, v in _instructions(DOCKERFILE.read_text(encoding="utf-8")) if k == "RUN"
    )
    image = _pip_installs(run)
    boot = _pip_installs(BOOTSTRAP.read_text(encoding="utf-8"))
    assert image and boot
    assert [reqs for _, reqs in image] == [["pip"], ["."]]
    assert [[r.replace("[dev]", "") for r in reqs] for _, reqs in boot] == [["pip"], ["."]]
    assert [reqs for _, reqs in boot][1] == [".[dev]"]
    for (image_opts, _), (boot_opts, _) in zip(image, boot, strict=True):
        assert ("--upgrade" in image_opts) == ("--upgrade" in boot_opts)
        assert "-e" not in image_opts and "--editable" not in image_opts
    # `pip install .` is only reproducible when every dependency is pinned.
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ]
    assert all("==" in d for d in deps), [d for d in deps if "==" not in d]


def test_build_context_keeps_what_the_dockerfile_copies() -> None:
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    copied = {
        v.split()[0]
        for k, v in _instructions(DOCKERFILE.read_text(encoding="utf-8"))
        if k == "COPY"
    }
    assert copied <= kept
    assert "*" in ignore
