"""The layers hold in the code: the runtime import graph of rocketnet/ and shim/ (every
import a module executes, at module level or inside a function; ``if TYPE_CHECKING``
blocks excluded) has no cycles, and nothing below the I/O devices (the sans-I/O core,
rocketnet/) reaches os, socket, fcntl, select, time or threading, directly or through
another module of ours."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("rocketnet", "shim")
# modules that do I/O, the wall clock or threads: the host's business, never the core's
IO_MODULES = {"os", "socket", "fcntl", "select", "time", "threading"}
# the installed command's module: it runs the CLI (shim) by design
ENTRY_POINTS = {"rocketnet.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def walk(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for c in child.orelse:
                    walk(c)
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                out.append(child)
            walk(child)

    walk(tree)
    return out


def _graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges between our modules, outside top-level modules each imports)."""
    files = {}
    for pkg in PACKAGES:
        for p in sorted((ROOT / pkg).rglob("*.py")):
            if ".venv" in p.parts or "__pycache__" in p.parts:
                continue
            files[_module_name(p)] = p
    ours = set(files)
    edges: dict[str, set[str]] = {m: set() for m in ours}
    outside: dict[str, set[str]] = {m: set() for m in ours}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                if node.level:
                    base = mod.split(".")
                    base = base[: len(base) - node.level + (1 if is_pkg else 0)]
                    prefix = ".".join(base + ([node.module] if node.module else []))
                else:
                    prefix = node.module or ""
                # `from pkg import sub` imports the submodule when there is one
                targets = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in ours else prefix
                           for a in node.names]
            for t in targets:
                if t.split(".")[0] in PACKAGES:
                    while t and t not in ours:
                        t = t.rpartition(".")[0]
                    if t and t != mod:
                        edges[mod].add(t)
                        # importing a submodule runs its packages' __init__ first
                        parent = t.rpartition(".")[0]
                        while parent:
                            if parent != mod and not mod.startswith(parent + "."):
                                edges[mod].add(parent)
                            parent = parent.rpartition(".")[0]
                else:
                    outside[mod].add(t.split(".")[0])
    return edges, outside


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                strong(w)
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

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def test_import_graph_has_no_cycles() -> None:
    edges, _ = _graph()
    assert len(edges) > 50          # the walk found the packages
    assert _cycles(edges) == []


def test_core_does_no_io() -> None:
    """Every module of rocketnet/ (the sans-I/O core and its lab) and everything it
    imports of ours stays off os, socket, fcntl, select, time and threading."""
    edges, outside = _graph()
    core = [m for m in edges if m.split(".")[0] == "rocketnet" and m not in ENTRY_POINTS]
    assert "rocketnet.stack" in core and "rocketnet.iface.interface" in core
    bad = {}
    for m in core:
        seen = {m}
        todo = [m]
        while todo:
            v = todo.pop()
            hit = outside[v] & IO_MODULES
            if hit:
                bad[m] = (v, sorted(hit))
                break
            for w in edges[v]:
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
    assert bad == {}


def test_core_never_imports_the_host() -> None:
    edges, _ = _graph()
    up = {m: sorted(w for w in ws if w.startswith("shim"))
          for m, ws in edges.items()
          if m.startswith("rocketnet") and m not in ENTRY_POINTS}
    assert {m: ws for m, ws in up.items() if ws} == {}
