"""The Kafka client security settings: precedence, the secrets file, both client forms."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from kafka_io.client import ClientConfigError, KafkaClient, add_arguments, resolve


def args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_plaintext_by_default_gives_only_the_bootstrap() -> None:
    client = resolve(args(), {})
    assert client == KafkaClient()
    assert client.confluent("h:1") == {"bootstrap.servers": "h:1"}
    assert client.aiokafka() == {}


def test_flag_beats_env_beats_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.write_text("# a comment\nsasl.username=from-file\nSLA_SASL_PASSWORD=pw\n")
    env = {"SLA_KAFKA_SECRETS": str(secrets), "SLA_SECURITY_PROTOCOL": "sasl_plaintext"}
    client = resolve(args("--sasl-mechanism", "SCRAM-SHA-512"), env)
    assert (client.sasl_username, client.sasl_password) == ("from-file", "pw")
    env["SLA_SASL_USERNAME"] = "from-env"
    assert resolve(args(), env).sasl_username == "from-env"
    assert resolve(args("--sasl-username", "from-flag"), env).sasl_username == "from-flag"
    conf = client.confluent("h:1")
    assert conf["security.protocol"] == "SASL_PLAINTEXT"
    assert (conf["sasl.mechanism"], conf["sasl.username"]) == ("SCRAM-SHA-512", "from-file")
    assert client.aiokafka()["sasl_plain_password"] == "pw"


def test_tls_files_reach_both_clients(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not read by confluent until it connects\n")
    client = resolve(args("--security-protocol", "SSL", "--ssl-ca", str(ca)), {})
    assert client.confluent("h:1")["ssl.ca.location"] == str(ca)


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--security-protocol", "TLS"], {}, "use one of PLAINTEXT"),
        (["--security-protocol", "SASL_SSL"], {}, "needs --sasl-username and a password"),
        (
            ["--security-protocol", "SASL_SSL", "--sasl-mechanism", "GSSAPI"],
            {"SLA_SASL_USERNAME": "u", "SLA_SASL_PASSWORD": "p"},
            "use one of PLAIN",
        ),
        (["--ssl-cert", "c.pem"], {}, "go together"),
        (["--ssl-ca", "/no/such.pem"], {}, "no such file"),
    ],
)
def test_bad_settings_say_what_is_wrong(argv: list[str], env: dict[str, str], message: str) -> None:
    with pytest.raises(ClientConfigError, match=message):
        resolve(args(*argv), env)


def test_a_bad_secrets_line_names_file_and_line(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.write_text("sasl_password=x\npasword=typo\n")
    with pytest.raises(ClientConfigError, match=r"secrets:2: expected name=value"):
        resolve(args("--kafka-secrets", str(secrets)), {})
