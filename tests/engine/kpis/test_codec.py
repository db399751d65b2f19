"""The compact facts form: `decode_facts` inverts `encode_facts`, and `differing` (the rows two
encodings do not share at either end) leaves both multiset differences as the full decode."""

from __future__ import annotations

from collections import Counter

import orjson
from hypothesis import given
from hypothesis import strategies as st

from engine.kpis.codec import decode_facts, differing, encode_facts
from engine.kpis.facts import Dims, Fact, fact

DIMS: list[Dims] = [
    ("team-1", "a-1", "A", "phone", "simple", None),
    ("team-2", "a-1", "A", "phone", "simple", None),
    (None, None, None, None, None, None),
]


@st.composite
def facts(draw: st.DrawFn) -> list[Fact]:
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["open", "accepted", "breach.resolution.minor", "survey"]),
                st.integers(0, 3),
                st.sampled_from(DIMS),
                st.integers(0, 2),
            ),
            max_size=10,
        )
    )
    return [fact(m, at, d, v, at + 5 if m == "open" else None) for m, at, d, v in rows]


def wire(fs: list[Fact]) -> object:
    """As the worker sends it and the aggregator reads it: through JSON."""
    return orjson.loads(orjson.dumps(encode_facts(fs)))


@given(facts())
def test_decode_inverts_encode(fs: list[Fact]) -> None:
    assert list(decode_facts(wire(fs))) == fs  # type: ignore[arg-type]


@given(facts(), facts(), st.booleans(), st.booleans())
def test_differing_keeps_both_differences(
    old: list[Fact], new: list[Fact], from_nothing: bool, to_nothing: bool
) -> None:
    a = None if from_nothing else wire(old)
    b = None if to_nothing else wire(new)
    gone, came = differing(a, b)  # type: ignore[arg-type]
    before = Counter(old) if a is not None else Counter()
    after = Counter(new) if b is not None else Counter()
    assert Counter(gone) - Counter(came) == before - after
    assert Counter(came) - Counter(gone) == after - before


def test_differing_decodes_only_the_changed_middle() -> None:
    d = DIMS[0]
    shared = [fact("accepted", t, d) for t in range(5)]
    old = [*shared[:3], fact("survey", 9, d, 1), *shared[3:]]
    new = [*shared[:3], fact("survey", 9, d, 2), fact("reopen", 9, d), *shared[3:]]
    gone, came = differing(wire(old), wire(new))  # type: ignore[arg-type]
    assert gone == (fact("survey", 9, d, 1),)
    assert came == (fact("survey", 9, d, 2), fact("reopen", 9, d))
