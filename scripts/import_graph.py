"""innbench's import graph, counting imports inside functions too: its cycles and the private names one module
imports from another. tests/test_import_graph.py asserts there are none; this script prints the graph's numbers.

An edge ``a -> b`` is an ``import`` in module ``a`` (at module level or inside a function) that names module
``b``: ``from .pkg import name`` is an edge to ``pkg`` unless ``name`` is itself a module (``from . import
drawing`` is an edge to ``drawing`` only). A private name is one with a leading underscore (dunders aside)
imported from another innbench module.

Run: .venv/bin/python scripts/import_graph.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "innbench"


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package: dotted name -> file (a package is its ``__init__.py``)."""
    out = {}
    for f in sorted(root.rglob("*.py")):
        name = ".".join(f.relative_to(root.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = f
    return out


def _resolve(mods: dict, cur: str, level: int, module: str | None) -> str:
    pkg = cur.split(".") if mods[cur].name == "__init__.py" else cur.split(".")[:-1]
    base = pkg[: len(pkg) - (level - 1)] if level else []
    return ".".join(base + ([module] if module else []))


def graph(root: Path = ROOT) -> tuple[dict[str, set[str]], int, list[tuple[str, str, str]]]:
    """``(edges, function-level imports, private names)``: edges ``module -> {modules it imports}``, the number
    of imports of innbench modules inside functions, and ``(importer, module, name)`` of each private name."""
    mods = modules(root)
    edges: dict[str, set[str]] = {name: set() for name in mods}
    inner, private = 0, []
    for name, f in mods.items():
        tree = ast.parse(f.read_text())
        in_function = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                in_function.update(id(sub) for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom)))
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(mods, name, node.level, node.module) if node.level else (node.module or "")
                for a in node.names:
                    full = f"{base}.{a.name}"
                    if full in mods:
                        targets.append(full)
                        continue
                    targets.append(base)
                    if (a.name.startswith("_") and not a.name.endswith("__") and base.startswith("innbench")
                            and base != name):
                        private.append((name, base, a.name))
            for t in dict.fromkeys(targets):
                if t in mods and t != name:
                    edges[name].add(t)
                    inner += id(node) in in_function
    return edges, inner, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def main() -> None:
    edges, inner, private = graph()
    found = cycles(edges)
    print("modules", len(edges), "imports of innbench modules", sum(map(len, edges.values())),
          "of them inside functions", inner)
    print("cycles (strongly connected components > 1):", len(found), [len(c) for c in found])
    for c in found:
        members = set(c)
        print(" ", c)
        for a in c:
            print("    ", a, "->", sorted(edges[a] & members))
    print("private names imported across modules:", len(private))
    for p in private:
        print(" ", p)


if __name__ == "__main__":
    main()
