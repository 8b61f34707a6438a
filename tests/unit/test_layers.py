"""The house's layering, checked from the source: every import (module level, inside functions and
under TYPE_CHECKING alike) goes down the layers or stays within its own package, and no two modules
import each other, directly or round a cycle. A newcomer can read the packages bottom up."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top. A module may import its own package and any package of a lower layer; packages of
# one layer are independent of each other.
LAYERS: list[set[str]] = [
    {"ida_cli.errors", "ida_cli.text"},
    {"ida_cli.vocabulary", "ida_cli.checks"},
    {"ida_cli.tasks", "ida_cli.store"},
    {"ida_cli.walk", "ida_cli.model"},
    {"adversary"},
    {"ida_cli.learn"},
    {"ida_cli.rounds", "ida_cli.project", "ida_cli.audit"},
    {"ida_cli.experiment", "ida_cli.label"},
    {"ida_cli.grid"},
    {"ida_cli.cli"},
    {"ida_cli.__main__", "ida_cli"},
]
# The walker takes its clock and constants from its callers, never from the store or training.
FORBIDDEN = {"ida_cli.walk": ("ida_cli.store", "ida_cli.learn", "ida_cli.model", "adversary")}


def modules() -> dict[str, Path]:
    out = {}
    for top in ("ida_cli", "adversary"):
        for path in (ROOT / top).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    target = node.module or ""
                candidates = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            # `from pkg import mod` imports the module; `from pkg import name`, the package
            found = [c for c in candidates[1:] if c in mods] or [c for c in candidates[:1] if c in mods]
            graph[name].update(c for c in found if c != name)
    return graph


def component(module: str) -> str:
    best = ""
    for layer in LAYERS:
        for comp in layer:
            if (module == comp or module.startswith(comp + ".")) and len(comp) > len(best):
                best = comp
    return best


def layer_of(comp: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if comp in layer)


def test_every_module_belongs_to_a_declared_layer() -> None:
    assert [m for m in modules() if not component(m)] == []


def test_imports_go_down_the_layers() -> None:
    bad = []
    for mod, targets in import_graph().items():
        mine = component(mod)
        for t in sorted(targets):
            theirs = component(t)
            if theirs == mine:
                continue
            if layer_of(theirs) >= layer_of(mine):
                bad.append(f"{mod} -> {t}")
            if theirs.startswith(FORBIDDEN.get(mine, ())) or any(
                t == f or t.startswith(f + ".") for f in FORBIDDEN.get(mine, ())
            ):
                bad.append(f"{mod} -> {t} (forbidden)")
    assert bad == []


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    for v in sorted(modules()):
        if v not in index:
            visit(v)
    assert cycles == []
