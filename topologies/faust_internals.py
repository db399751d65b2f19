"""Every private (or undocumented) Faust, mode and aiokafka symbol the tree relies on, in one list.

The worker reaches into its streaming library where the public API cannot do what it must
(explicit-partition table writes, true end offsets on tansu, seeking uncommitted partitions).
Each use is listed here with the module that makes it; `tests/topologies/test_faust_internals.py`
checks every one against the installed versions, which must be the pinned ones, so an upgrade
that renames, moves or drops one fails there, loudly, instead of in a running worker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The versions these symbols were read in (pyproject.toml pins faust-streaming; the other two
# are its pinned dependencies' versions as installed).
PINNED = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}


@dataclass(frozen=True, slots=True)
class Private:
    """One symbol: `module:owner.attribute` (owner "" for a module attribute)."""

    module: str
    owner: str
    attribute: str
    used_in: str
    why: str
    source_has: str = ""  # text the owner's source must contain (a hard-coded value relied on)


SYMBOLS = (
    Private(
        "faust.stores.rocksdb",
        "Store",
        "_db_for_partition",
        "topologies/state/rocksdb.py",
        "read and write a table partition's RocksDB by explicit partition (a batch has no "
        "current event)",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "_committed_offset",
        "topologies/uncommitted.py, topologies/app.py (via committed_offsets)",
        "the committed offset of each partition: uncommitted partitions, consumer lag",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "perform_seek",
        "topologies/uncommitted.py",
        "patched: seek partitions without a committed offset to their earliest offset",
    ),
    Private(
        "faust.transport.drivers.aiokafka",
        "AIOKafkaConsumerThread",
        "_highwaters",
        "topologies/tansu_recovery.py",
        "patched: the true end offsets during table recovery on tansu",
    ),
    Private(
        "faust.transport.drivers.aiokafka",
        "",
        "server_list",
        "topologies/tansu_recovery.py",
        "the bootstrap servers of the app's transport",
    ),
    Private(
        "faust.transport.drivers.aiokafka",
        "AIOKafkaConsumerThread",
        "_create_worker_consumer",
        "topologies/tansu_recovery.py (shorten_fetch_wait)",
        "Faust's hard-coded fetch wait, replaced on tansu through the driver's `aiokafka`",
        source_has="fetch_max_wait_ms=1500",
    ),
    Private(
        "faust.transport.drivers.aiokafka",
        "",
        "aiokafka",
        "topologies/tansu_recovery.py",
        "the module the driver builds its consumer from (its AIOKafkaConsumer is replaced)",
    ),
    Private(
        "faust.streams",
        "Stream",
        "noack_take",
        "topologies/worker/loop.py",
        "batches without acking: public on Stream, not in the StreamT interface",
    ),
    Private(
        "faust.tables.recovery",
        "Recovery",
        "_build_offsets",
        "topologies/state/recovery_hook.py",
        "overridden: the bulk restore runs where the recovery task picks each active changelog "
        "partition's start offset (after the highwaters, outside the rebalance callback)",
    ),
    Private(
        "faust.tables.recovery",
        "Recovery",
        "active_highwaters",
        "topologies/state/recovery_hook.py",
        "the last offset of each active changelog partition the recovery reads to: the bulk "
        "restore reads to the same one",
    ),
    Private(
        "faust.tables.manager",
        "TableManager",
        "_recovery",
        "topologies/state/recovery_hook.py",
        "the table manager's recovery service, made a FastRecovery by FastTableManager",
    ),
    Private(
        "faust.stores.rocksdb",
        "Store",
        "offset_key",
        "topologies/state/recovery_hook.py",
        "where a partition's RocksDB keeps its persisted changelog offset (written by the bulk "
        "restore in each batch)",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "_acked",
        "topologies/worker/commit_gaps.py (via acked_offsets)",
        "the acknowledged, not yet committed offsets of each partition: a gap holding a commit",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "_new_offset",
        "topologies/worker/commit_gaps.py",
        "its test for a gap at the head of the acked offsets, mirrored by `held`",
        source_has="if min(acked) - committed_offset > 1:",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "_wait_next_records",
        "topologies/worker/stale_fetch.py",
        "patched: remember the batch `getmany` is delivering",
    ),
    Private(
        "faust.transport.consumer",
        "Consumer",
        "getmany",
        "topologies/worker/stale_fetch.py",
        "patched: records fetched before a seek of their partition are not delivered",
        source_has="records, active_partitions = await self._wait_next_records(timeout)",
    ),
    Private(
        "faust.transport.drivers.aiokafka",
        "AIOKafkaConsumerThread",
        "_fetch_records",
        "topologies/worker/stale_fetch.py",
        "patched: each fetched batch carries its partitions' seek counts (consumer thread)",
    ),
    Private(
        "aiokafka.consumer.fetcher",
        "Fetcher",
        "seek_to",
        "topologies/worker/stale_fetch.py",
        "patched: every seek (`seek`, `seek_to_committed`) counted per partition",
    ),
    Private(
        "mode.worker",
        "Worker",
        "_on_sigint",
        "cli/run.py",
        "Ctrl-C exits 130 (and stops the embedded broker at once)",
    ),
    Private(
        "mode.worker",
        "Worker",
        "_on_sigterm",
        "cli/run.py",
        "SIGTERM stops the embedded broker at once",
    ),
)


def acked_offsets(consumer: Any) -> Mapping[Any, list[int]]:
    """Faust's acknowledged offsets per topic partition not committed yet (kept sorted at
    each commit)."""
    acked: Mapping[Any, list[int]] = consumer._acked
    return acked


def committed_offsets(consumer: Any) -> Mapping[Any, int | None]:
    """Faust's committed offset per topic partition (set at seek and commit)."""
    committed: Mapping[Any, int | None] = consumer._committed_offset
    return committed
