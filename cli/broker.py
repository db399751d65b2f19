"""`sla-engine broker`: the embedded Kafka-protocol broker, or Apache Kafka with `--kafka`, in the
foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_parser(sub: Any) -> None:
    broker = sub.add_parser(
        "broker",
        help="run the embedded Kafka-protocol broker, or Apache Kafka with --kafka (foreground)",
        description="Run the embedded tansu broker on loopback until Ctrl-C. "
        "Memory storage: every topic is lost when it stops. With --kafka: a one-node Apache "
        "Kafka (KRaft) instead, its jars fetched once by mvn, its data kept in --data-dir.",
    )
    broker.add_argument("--port", type=int, default=9092, help="listener port (default 9092)")
    broker.add_argument(
        "--kafka", action="store_true", help="run Apache Kafka (needs Java 17+ and mvn)"
    )
    broker.add_argument(
        "--data-dir",
        type=Path,
        default=Path("kafka-data"),
        help="--kafka: log dir, kept across restarts (default ./kafka-data)",
    )
    broker.set_defaults(func=cmd_broker)


def cmd_broker(args: argparse.Namespace) -> int:
    if args.kafka:
        from kafka_io.apache import main as kafka_main

        return kafka_main(args.port, args.data_dir)
    from kafka_io.embedded import main

    return main(args.port)
