"""How every Kafka client of the engine connects: TLS and SASL, from flags, `SLA_*` env or a file.

One configuration feeds the worker's Faust/aiokafka consumer and every confluent-kafka client
(the worker's producer, `produce`, `tail`, `audit`, `replay --topic`, `explain --topic`, the
benchmarks), so a worker and its tools join a secured production cluster alike. Precedence:
flag, then `SLA_*` variable, then the secrets file (`--kafka-secrets` / `SLA_KAFKA_SECRETS`,
lines `name=value`, names as the flags', the variables' or librdkafka's: `sasl_password`,
`SLA_SASL_PASSWORD`, `sasl.password`). Passwords have no flag: a command line is visible to
every user of the machine.

The CLI resolves it once per process (`set_current`); client builders read `current()`.
"""

from __future__ import annotations

import argparse
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SECRETS_ENV = "SLA_KAFKA_SECRETS"


class ClientConfigError(ValueError):
    """The Kafka client settings are incomplete or contradict each other."""


@dataclass(frozen=True)
class KafkaClient:
    """Security settings of a Kafka client (PLAINTEXT: none)."""

    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "PLAIN"
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_ca: str | None = None  # PEM file of the CA(s) that signed the brokers' certificates
    ssl_cert: str | None = None  # PEM client certificate (mutual TLS)
    ssl_key: str | None = None  # PEM private key of the client certificate
    ssl_key_password: str | None = None

    @property
    def sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def tls(self) -> bool:
        return self.security_protocol in ("SSL", "SASL_SSL")

    def validate(self) -> KafkaClient:
        """Self, or a `ClientConfigError` saying what is missing or wrong."""
        if self.security_protocol not in PROTOCOLS:
            raise ClientConfigError(
                f"--security-protocol {self.security_protocol!r}: use one of {', '.join(PROTOCOLS)}"
            )
        if self.sasl:
            if self.sasl_mechanism not in MECHANISMS:
                raise ClientConfigError(
                    f"--sasl-mechanism {self.sasl_mechanism!r}: use one of {', '.join(MECHANISMS)}"
                )
            if not self.sasl_username or self.sasl_password is None:
                raise ClientConfigError(
                    f"{self.security_protocol} needs --sasl-username and a password "
                    f"(SLA_SASL_PASSWORD or sasl_password in the {SECRETS_ENV} file)"
                )
        if (self.ssl_cert is None) != (self.ssl_key is None):
            raise ClientConfigError("--ssl-cert and --ssl-key go together (mutual TLS)")
        for name in ("ssl_ca", "ssl_cert", "ssl_key"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ClientConfigError(f"--{name.replace('_', '-')} {path}: no such file")
        return self

    def confluent(self, bootstrap: str, **extra: Any) -> dict[str, Any]:
        """librdkafka's configuration for a client of `bootstrap`."""
        conf: dict[str, Any] = {"bootstrap.servers": bootstrap}
        if self.security_protocol != "PLAINTEXT":
            conf["security.protocol"] = self.security_protocol
        if self.sasl:
            conf |= {
                "sasl.mechanism": self.sasl_mechanism,
                "sasl.username": self.sasl_username,
                "sasl.password": self.sasl_password,
            }
        optional = {
            "ssl.ca.location": self.ssl_ca,
            "ssl.certificate.location": self.ssl_cert,
            "ssl.key.location": self.ssl_key,
            "ssl.key.password": self.ssl_key_password,
        }
        if self.tls:
            conf |= {k: v for k, v in optional.items() if v is not None}
        return conf | extra

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of an aiokafka (Faust) client, None without TLS."""
        if not self.tls:
            return None
        context = ssl.create_default_context(cafile=self.ssl_ca)
        if self.ssl_cert is not None:
            context.load_cert_chain(self.ssl_cert, self.ssl_key, self.ssl_key_password)
        return context

    def aiokafka(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for the same settings."""
        if self.security_protocol == "PLAINTEXT":
            return {}
        kwargs: dict[str, Any] = {
            "security_protocol": self.security_protocol,
            "ssl_context": self.ssl_context(),
        }
        if self.sasl:
            kwargs |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password,
            }
        return kwargs


_FLAGS = {
    "security_protocol": f"Kafka security protocol: {', '.join(PROTOCOLS)} "
    "(env SLA_SECURITY_PROTOCOL; default PLAINTEXT)",
    "sasl_mechanism": f"SASL mechanism: {', '.join(MECHANISMS)} (env SLA_SASL_MECHANISM; "
    "default PLAIN)",
    "sasl_username": "SASL user name (env SLA_SASL_USERNAME)",
    "ssl_ca": "PEM file of the CA that signed the brokers' certificates (env SLA_SSL_CA; "
    "default: the system's)",
    "ssl_cert": "PEM client certificate, mutual TLS (env SLA_SSL_CERT)",
    "ssl_key": "PEM private key of --ssl-cert (env SLA_SSL_KEY)",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The client security flags, in their own group of `--help`."""
    group = p.add_argument_group("Kafka client security (passwords: env or --kafka-secrets)")
    for name, text in _FLAGS.items():
        group.add_argument("--" + name.replace("_", "-"), dest=name, default=None, help=text)
    group.add_argument(
        "--kafka-secrets",
        dest="kafka_secrets",
        default=None,
        help="file of name=value lines (sasl_password, ssl_key_password, any setting above) "
        f"(env {SECRETS_ENV})",
    )


def _key(raw: str) -> str:
    key = raw.strip().lower()
    key = key.removeprefix("sla_")
    return key.replace(".", "_").replace("-", "_")


def read_secrets(path: str | Path) -> dict[str, str]:
    """The settings of a secrets file; an unknown name or a line without `=` is an error."""
    known = {f.name for f in fields(KafkaClient)}
    aliases = {"ssl_ca_location": "ssl_ca", "ssl_certificate_location": "ssl_cert"}
    aliases |= {"ssl_key_location": "ssl_key"}
    values: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ClientConfigError(f"{path}: {e.strerror}") from None
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, eq, value = line.partition("=")
        key = aliases.get(_key(name), _key(name))
        if not eq or key not in known:
            raise ClientConfigError(
                f"{path}:{n}: expected name=value with a name among {', '.join(sorted(known))}"
            )
        values[key] = value.strip()
    return values


def resolve(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> KafkaClient:
    """The client settings from flags, then `SLA_*` variables, then the secrets file."""
    env = os.environ if environ is None else environ
    secrets_path = getattr(args, "kafka_secrets", None) or env.get(SECRETS_ENV)
    values: dict[str, Any] = read_secrets(secrets_path) if secrets_path else {}
    for f in fields(KafkaClient):
        raw = getattr(args, f.name, None) if args is not None else None
        if raw is None:
            raw = env.get("SLA_" + f.name.upper())
        if raw is not None and raw != "":
            values[f.name] = raw
    client = replace(KafkaClient(), **values)
    client = replace(
        client,
        security_protocol=client.security_protocol.upper(),
        sasl_mechanism=client.sasl_mechanism.upper(),
    )
    return client.validate()


_current: KafkaClient | None = None


def set_current(client: KafkaClient) -> None:
    """The settings every client of this process uses (the CLI sets them from its flags)."""
    global _current
    _current = client


def current() -> KafkaClient:
    """The process's settings: those set, else the environment's."""
    global _current
    if _current is None:
        _current = resolve()
    return _current


def conf(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """librdkafka's configuration for a client of `bootstrap` with the process's settings."""
    return current().confluent(bootstrap, **extra)
