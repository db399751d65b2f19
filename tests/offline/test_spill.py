"""The parked-ticket store of long replays and audits (`offline.spill.Parked`, RocksDB): a mapping
that stays right across its write batches, and a replay parking every idle ticket in it
announces exactly what one that keeps every ticket announces."""

from __future__ import annotations

from datetime import timedelta

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import workload
from config.loader import load
from engine.processor import Processor
from offline.spill import Spill
from tests.engine.test_parking import run

OPS = st.lists(
    st.tuples(st.sampled_from(["set", "pop", "del", "get"]), st.integers(0, 9), st.binary()),
    max_size=60,
)


@settings(max_examples=40, deadline=None)
@given(OPS)
def test_parked_behaves_as_a_dict_across_its_write_batches(
    ops: list[tuple[str, int, bytes]],
) -> None:
    model: dict[str, bytes] = {}
    with Spill() as spill:
        parked = spill.parked
        parked.BATCH = 3  # many flushes: values and deletions both in RocksDB and pending
        for op, k, value in ops:
            key = f"T{k}"
            if op == "set":
                parked[key] = value
                model[key] = value
            elif op == "pop":
                assert parked.pop(key, None) == model.pop(key, None)
            elif op == "del":
                if key in model:
                    del parked[key]
                    del model[key]
            else:
                assert (key in parked) == (key in model)
                assert parked.get(key) == model.get(key)
        assert dict(parked.items()) == model
        assert len(parked) == len(model)


def test_a_replay_parking_every_idle_ticket_on_disk_changes_no_alert() -> None:
    lines = [orjson.dumps(e) for e in workload.generate(300, seed=4, span=timedelta(days=4))]
    policy = load()
    kept = run(lines, Processor(policy))
    with Spill() as spill:
        spill.parked.BATCH = 7
        moved = run(lines, Processor(policy, parked=spill.parked, idle=0))
        assert moved == kept
        assert len(spill.parked) == 300  # every ticket ends idle, parked
