"""Import the mypyc-compiled engine instead of its Python source, only while it is exactly that
source: a compiled module that no longer matches its `.py` would run old code unseen.

`install()` runs at interpreter start-up (the `.pth` file `native.build` writes into the
virtualenv). It reads the manifest the build left beside the extension modules and, when the
Python version and the sha256 of every compiled source still match, puts a finder in front of
`sys.meta_path` that answers those module names with their extension modules. Any difference, a
missing file, or `SLA_ENGINE_PURE=1` leaves everything to the normal import of the sources: all
or nothing, because compiled modules call each other's compiled code directly.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = "manifest.json"
PURE_ENV = "SLA_ENGINE_PURE"


def native_dir(prefix: str | None = None) -> Path:
    """Where the build puts the extension modules: inside the virtualenv, so they go with it."""
    return Path(prefix or sys.prefix) / "sla-native"


def source_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def python_tag() -> str:
    """The interpreter the extension modules were built for (version and ABI)."""
    return f"{sys.implementation.cache_tag}-{sys.version}"


class NativeFinder:
    """Answers the compiled module names with their extension modules, nothing else."""

    def __init__(self, modules: dict[str, Path]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        so = self.modules.get(fullname)
        if so is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(so))
        return importlib.util.spec_from_file_location(fullname, so, loader=loader)


def fresh_modules(where: Path, root: Path = ROOT) -> dict[str, Path] | None:
    """The compiled modules (name → extension file) when the build in `where` still matches the
    sources under `root` and this interpreter; None otherwise."""
    try:
        manifest = json.loads((where / MANIFEST).read_text())
        if manifest["python"] != python_tag():
            return None
        for source, digest in manifest["sources"].items():
            if source_digest(root / source) != digest:
                return None
        modules = {name: where / file for name, file in manifest["modules"].items()}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return modules if all(p.is_file() for p in modules.values()) else None


def install(where: Path | None = None) -> bool:
    """Put the finder in place when the compiled engine is fresh; True when it is in use."""
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return False
    if any(isinstance(f, NativeFinder) for f in sys.meta_path):
        return True
    modules = fresh_modules(where or native_dir())
    if modules is None:
        return False
    sys.meta_path.insert(0, NativeFinder(modules))
    return True


def active() -> bool:
    """Whether this process imports the compiled engine."""
    return any(isinstance(f, NativeFinder) for f in sys.meta_path)
