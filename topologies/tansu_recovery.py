"""Make Faust's table recovery read the whole changelog on the embedded tansu broker.

tansu answers `ListOffsets(latest)` with the base offset of a partition's last record batch
+ 1, short of the true end whenever a producer batched. Faust's recovery reads each changelog
partition only up to that offset, so a worker that took over would restore stale tickets
(measured: a quarter of the updates missing) or, keeping its data dir, stop with a
ConsistencyError. This replaces the end offsets Faust asks for during recovery with the true
ones (`topologies.broker.end_offsets` reads to the end of each partition). On Apache Kafka the
listed offset is already right; the patch is applied only when the broker is tansu.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

_applied = False


def apply() -> None:
    """Patch Faust's aiokafka driver once per process."""
    global _applied
    if _applied:
        return
    from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, server_list

    from topologies.broker import end_offsets

    listed_highwaters = AIOKafkaConsumerThread._highwaters

    async def true_highwaters(self: Any, partitions: list[Any]) -> Mapping[Any, int]:
        listed: Mapping[Any, int] = await listed_highwaters(self, partitions)
        if self.consumer.in_transaction or not partitions:
            return listed
        bootstrap = ",".join(server_list(self.transport.url, self.transport.default_port))
        true = await asyncio.get_running_loop().run_in_executor(
            None, end_offsets, bootstrap, [(tp.topic, tp.partition) for tp in partitions]
        )
        return {tp: max(listed.get(tp) or 0, true[(tp.topic, tp.partition)]) for tp in partitions}

    AIOKafkaConsumerThread._highwaters = true_highwaters
    _applied = True
