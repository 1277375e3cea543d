"""innbench's import graph, counting imports inside functions too: its cycles (strongly connected components) and
the private names one module imports from another (issue 36). Run: .venv/bin/python scripts/import_graph.py"""
import ast
import sys
from pathlib import Path

root = Path(__file__).resolve().parents[1] / "src" / "innbench"
mods = {}
for f in root.rglob("*.py"):
    rel = f.relative_to(root.parent).with_suffix("")
    name = ".".join(rel.parts)
    if name.endswith(".__init__"):
        name = name[: -len(".__init__")]
    mods[name] = f
def resolve(cur, level, module):
    pkg = cur.split(".") if mods[cur].name == "__init__.py" else cur.split(".")[:-1]
    base = pkg[: len(pkg) - (level - 1)] if level else []
    return ".".join(base + ([module] if module else []))
edges, inner, private = {}, 0, []
for name, f in mods.items():
    tree = ast.parse(f.read_text())
    funcs = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    funcs.add(id(sub))
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = resolve(name, node.level, node.module) if node.level else (node.module or "")
            targets = [base]
            for a in node.names:
                full = f"{base}.{a.name}"
                if full in mods:
                    targets.append(full)
                elif (a.name.startswith("_") and not a.name.endswith("__") and base.startswith("innbench")
                      and base != name):
                    private.append((name, base, a.name))
        for t in targets:
            if t.startswith("innbench") and t in mods and t != name:
                edges.setdefault(name, set()).add(t)
                if id(node) in funcs:
                    inner += 1
# strongly connected components (Tarjan)
index, low, stack, on, sccs, i = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)
def strong(v):
    index[v] = low[v] = i[0]
    i[0] += 1
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
        sccs.append(comp)
for v in mods:
    if v not in index:
        strong(v)
cyc = [sorted(c) for c in sccs if len(c) > 1]
print("modules", len(mods), "function-level imports of innbench modules", inner)
print("cycles (strongly connected components > 1):", len(cyc), [len(c) for c in cyc])
for c in cyc:
    print(" ", c)
print("private names imported across modules:", len(private))
for p in private[:20]:
    print(" ", p)
