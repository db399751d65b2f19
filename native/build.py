"""Compile the engine's hot modules with mypyc into the virtualenv (`python -m native.build`).

The same sources, type-checked by `mypy --strict` already, run as C extension modules: the
replay and the worker's fold cost less CPU per event, the output is byte for byte the same (the
tests run on the compiled modules; `SLA_ENGINE_PURE=1` runs the sources). Built in a scratch
directory, installed into `<venv>/sla-native` with a manifest of source hashes that
`native.loader` checks at every start, so an edited source is never shadowed by an old build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from native.loader import MANIFEST, ROOT, fresh_modules, native_dir, python_tag, source_digest

GROUP = "sla_engine_native"  # the shared library: sla_engine_native__mypyc
PTH = "sla_engine_native.pth"
PTH_LINE = "import native.loader; native.loader.install()\n"
BUILDER = "native/build.py"  # its list and flags are part of what was built
PACKAGES = ("engine", "schemas", "config", "offline")  # copied for mypy to resolve the imports

# The per-event path of replay and of the live worker: decoding, the fold, the clock machine,
# timers, alerts, the stored snapshot, the status and the KPI aggregation. Not
# `engine/calendar_days.py`: its `Calendar` normalises lists given for tuples, which a compiled
# class refuses at the call.
COMPILED = (
    *(f"engine/{name}.py" for name in (
        "alerts", "calendar", "clocks", "evaluate", "history", "instant",
        "processor", "replay", "retention", "rules", "snapshot", "status", "ticket", "timer_queue",
    )),
    *(f"engine/kpis/{name}.py" for name in (
        "aggregate", "attainment", "backlog", "cells", "codec", "complaints", "contributions",
        "counts", "facts", "records", "resolution", "sketch", "snapshot", "surveys", "windows",
    )),
    "schemas/fast.py",
    "schemas/parse.py",
    "offline/records.py",
)  # fmt: skip

SETUP = """\
import sys
from setuptools import setup
from mypyc.build import mypycify
setup(
    name="sla-engine-native",
    ext_modules=mypycify(sys.argv[1:], opt_level="3", multi_file=True, group_name="{group}"),
    script_args=["build_ext", "--inplace", "--parallel", "{jobs}"],
)
"""


def module_name(source: str) -> str:
    return source.removesuffix(".py").replace("/", ".")


def _extension(build: Path, name: str) -> Path:
    parts = name.split(".")
    found = sorted((build.joinpath(*parts[:-1])).glob(f"{parts[-1]}.*.so"))
    if not found:
        raise FileNotFoundError(f"the build left no extension module for {name}")
    return found[0]


def mypy_config() -> str:
    """The `[tool.mypy]` tables of the project's pyproject.toml, alone (no `[project]`: the
    scratch build is not the package)."""
    kept, keep = [], False
    for line in (ROOT / "pyproject.toml").read_text().splitlines():
        if line.startswith("["):
            keep = line.lstrip("[").startswith("tool.mypy")
        if keep:
            kept.append(line)
    return "\n".join(kept) + "\n"


def build(where: Path, log: Path) -> None:
    """Compile COMPILED in a scratch copy of the packages and install the result in `where`."""
    with tempfile.TemporaryDirectory(prefix="sla-native-") as tmp:
        scratch = Path(tmp)
        for package in PACKAGES:
            shutil.copytree(ROOT / package, scratch / package,
                            ignore=shutil.ignore_patterns("*.so", "__pycache__"))  # fmt: skip
        (scratch / "pyproject.toml").write_text(mypy_config())  # mypyc type-checks as mypy does
        jobs = str(os.cpu_count() or 1)
        (scratch / "build_native.py").write_text(SETUP.format(group=GROUP, jobs=jobs))
        cmd = [sys.executable, "build_native.py", *COMPILED]
        # gcc 12+ flags mypyc's generated C as maybe-uninitialized under -Werror; not an error
        cflags = f"{os.environ.get('CFLAGS', '')} -Wno-error=maybe-uninitialized".strip()
        env = {**os.environ, "SLA_ENGINE_PURE": "1", "CFLAGS": cflags}
        with log.open("wb") as out:
            done = subprocess.run(cmd, cwd=scratch, stdout=out, stderr=subprocess.STDOUT, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc build failed (exit {done.returncode}); its log: {log}")
        names = [module_name(s) for s in COMPILED]
        modules = {name: _extension(scratch, name) for name in names}
        modules[f"{GROUP}__mypyc"] = _extension(scratch, f"{GROUP}__mypyc")
        shutil.rmtree(where, ignore_errors=True)
        where.mkdir(parents=True)
        files = {}
        for name, so in modules.items():
            file = name + so.name[so.name.index(".") :]  # engine.clocks.cpython-311-….so: unique
            shutil.copy2(so, where / file)
            files[name] = file
    manifest = {
        "python": python_tag(),
        "sources": {s: source_digest(ROOT / s) for s in (*COMPILED, BUILDER)},
        "modules": files,
    }
    (where / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")


def is_current(where: Path) -> bool:
    """The build in `where` matches this interpreter, the sources and this list of modules."""
    if fresh_modules(where) is None:
        return False
    sources = json.loads((where / MANIFEST).read_text())["sources"]
    return set(sources) == {*COMPILED, BUILDER}


def install_hook() -> Path:
    """The `.pth` line that runs `native.loader.install()` at every start of this interpreter."""
    pth = Path(site.getsitepackages()[0]) / PTH
    if not pth.exists() or pth.read_text() != PTH_LINE:
        pth.write_text(PTH_LINE)
    return pth


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m native.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 unless the build is fresh")
    parser.add_argument("--force", action="store_true", help="rebuild even when fresh")
    parser.add_argument("--remove", action="store_true", help="remove the build: run the sources")
    args = parser.parse_args(argv)
    where = native_dir()
    fresh = is_current(where)
    if args.remove:
        shutil.rmtree(where, ignore_errors=True)
        print(f"native: removed {where}; the engine runs from its sources")
        return 0
    if args.check:
        print(f"native: {'fresh' if fresh else 'missing or stale'} ({where})")
        return 0 if fresh else 1
    if fresh and not args.force:
        print(f"native: the compiled engine is up to date ({len(COMPILED)} modules)")
        install_hook()
        return 0
    log = where.with_name("sla-native-build.log")  # beside the build: one per virtualenv
    print(f"native: compiling {len(COMPILED)} engine modules with mypyc (about a minute)")
    try:
        build(where, log)
    except (OSError, RuntimeError) as err:
        shutil.rmtree(where, ignore_errors=True)
        print(f"native: {err}; the engine runs from its sources (slower, same output)",
              file=sys.stderr)  # fmt: skip
        return 1
    install_hook()
    print(f"native: installed in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
