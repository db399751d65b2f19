"""`native.loader`: the compiled engine is imported only while it is exactly the sources, all or
nothing; and when it is built, this test process and a pure one give the same bytes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import engine.evaluate
from native import build, loader
from tests.worked_week import WEEK

UNTIL = "2026-12-05T00:00:00+08:00"


def _fake_build(tmp_path: Path) -> tuple[Path, Path]:
    """A source tree of two modules and a 'build' of them with a manifest that matches."""
    root, where = tmp_path / "src", tmp_path / "native"
    (root / "pkg").mkdir(parents=True)
    where.mkdir()
    sources = {}
    for name in ("a", "b"):
        source = root / "pkg" / f"{name}.py"
        source.write_text(f"X = {name!r}\n")
        sources[f"pkg/{name}.py"] = loader.source_digest(source)
        (where / f"pkg.{name}.so").write_bytes(b"\x7fELF")
    manifest = {
        "python": loader.python_tag(),
        "sources": sources,
        "modules": {"pkg.a": "pkg.a.so", "pkg.b": "pkg.b.so"},
    }
    (where / loader.MANIFEST).write_text(json.dumps(manifest))
    return root, where


def test_a_build_that_matches_its_sources_is_used(tmp_path: Path) -> None:
    root, where = _fake_build(tmp_path)
    assert loader.fresh_modules(where, root) == {
        "pkg.a": where / "pkg.a.so",
        "pkg.b": where / "pkg.b.so",
    }


def test_one_edited_source_turns_the_whole_build_off(tmp_path: Path) -> None:
    root, where = _fake_build(tmp_path)
    (root / "pkg" / "b.py").write_text("X = 'edited'\n")
    assert loader.fresh_modules(where, root) is None


@pytest.mark.parametrize("damage", ["python", "missing_so", "no_manifest", "garbage", "no_source"])
def test_anything_else_off_turns_the_build_off(tmp_path: Path, damage: str) -> None:
    root, where = _fake_build(tmp_path)
    manifest = where / loader.MANIFEST
    if damage == "python":
        data = json.loads(manifest.read_text())
        manifest.write_text(json.dumps({**data, "python": "cpython-39-3.9.0"}))
    elif damage == "missing_so":
        (where / "pkg.a.so").unlink()
    elif damage == "no_manifest":
        manifest.unlink()
    elif damage == "garbage":
        manifest.write_text("{not json")
    else:
        (root / "pkg" / "a.py").unlink()
    assert loader.fresh_modules(where, root) is None


def test_pure_mode_installs_no_finder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, where = _fake_build(tmp_path)
    monkeypatch.setenv(loader.PURE_ENV, "1")
    before = list(sys.meta_path)
    assert loader.install(where) is False
    assert sys.meta_path == before


def test_the_finder_answers_only_the_compiled_names(tmp_path: Path) -> None:
    so = tmp_path / "m.so"
    finder = loader.NativeFinder({"pkg.m": so})
    spec = finder.find_spec("pkg.m", None)
    assert spec is not None and spec.origin == str(so)
    assert finder.find_spec("pkg.other", None) is None


def _built() -> bool:
    return build.is_current(loader.native_dir())


def _need_build() -> None:
    if _built():
        return
    message = "the compiled engine is not built: python -m native.build"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (scripts/bootstrap builds it; CI must test what users run)")
    pytest.skip(message)


def test_the_suite_runs_on_the_compiled_engine_when_it_is_built() -> None:
    _need_build()
    if os.environ.get(loader.PURE_ENV, "") not in ("", "0"):
        pytest.skip(f"{loader.PURE_ENV} is set: this run tests the sources")
    assert loader.active()
    assert Path(engine.evaluate.__file__).suffix == ".so"


def _replay(tmp_path: Path, pure: bool) -> tuple[bytes, str]:
    out = tmp_path / f"alerts-{pure}.jsonl"
    env = {**os.environ, loader.PURE_ENV: "1" if pure else "0"}
    probe = "import engine.evaluate, sys; print(engine.evaluate.__file__, file=sys.stderr)"
    cmd = [sys.executable, "-c", f"{probe}; from cli.main import main; sys.exit(main())"]
    args = ["replay", "--input", str(WEEK), "--until", UNTIL, "--output", str(out)]
    done = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, check=True)
    return out.read_bytes(), done.stderr.splitlines()[0]


def test_compiled_and_pure_replays_give_the_same_bytes(tmp_path: Path) -> None:
    _need_build()
    compiled, compiled_file = _replay(tmp_path, pure=False)
    pure, pure_file = _replay(tmp_path, pure=True)
    assert compiled_file.endswith(".so") and pure_file.endswith(".py")
    assert compiled and compiled == pure
