"""Every private Faust, mode and aiokafka symbol the tree relies on still exists, in the pinned
versions: an upgrade that renames, moves or drops one fails here, not in a running worker."""

from __future__ import annotations

import importlib
import inspect
from importlib.metadata import version
from pathlib import Path

import pytest

from topologies.faust_internals import PINNED, SYMBOLS, Private

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", sorted(PINNED))
def test_the_installed_versions_are_the_ones_the_symbols_were_read_in(package: str) -> None:
    assert version(package) == PINNED[package], (
        f"{package} {version(package)} is installed, topologies/faust_internals.py was checked "
        f"against {PINNED[package]}: re-read every symbol it lists, then update PINNED"
    )


def test_faust_streaming_is_pinned_to_that_version() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"faust-streaming=={PINNED["faust-streaming"]}"' in text


@pytest.mark.parametrize("symbol", SYMBOLS, ids=lambda s: f"{s.module}:{s.owner}.{s.attribute}")
def test_each_private_symbol_still_exists(symbol: Private) -> None:
    module = importlib.import_module(symbol.module)
    owner = getattr(module, symbol.owner) if symbol.owner else module
    found = hasattr(owner, symbol.attribute) or any(
        symbol.attribute in getattr(cls, "__annotations__", {})
        for cls in getattr(owner, "__mro__", ())
    )
    assert found, f"{symbol.module}:{symbol.owner}.{symbol.attribute} is gone ({symbol.why})"
    if symbol.source_has:
        source = inspect.getsource(getattr(owner, symbol.attribute))
        assert symbol.source_has in source, (
            f"{symbol.owner}.{symbol.attribute} no longer has {symbol.source_has!r}"
        )


def test_each_user_named_exists() -> None:
    for symbol in SYMBOLS:
        for path in symbol.used_in.split(","):
            file = ROOT / path.strip().split(" ")[0]
            assert file.is_file(), f"{file} (user of {symbol.attribute}) does not exist"


def test_no_other_module_touches_the_store_internals() -> None:
    users = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "topologies").rglob("*.py")
        if "_db_for_partition" in p.read_text(encoding="utf-8")
    }
    assert users == {"topologies/state/rocksdb.py", "topologies/faust_internals.py"}
