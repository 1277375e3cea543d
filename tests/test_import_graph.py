"""The package's import graph, counting imports inside functions too, has no cycle, and no module imports another
module's private name (issue 36): the layers stay in order (reference samplers and the plotting kit below the
problems, the problems below the models and the metrics, the benchmark and the explorer on top)."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "import_graph.py"


def _graph_module():
    spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


G = _graph_module()


def test_the_import_graph_has_no_cycle():
    edges, inside_functions, _ = G.graph()
    assert len(edges) > 80 and inside_functions > 50  # the whole package was read, imports in functions counted
    found = G.cycles(edges)
    assert found == [], "import cycles:\n" + "\n".join(
        " -> ".join(c) + "\n  " + "\n  ".join(f"{a} -> {sorted(edges[a] & set(c))}" for a in c) for c in found)


def test_no_module_imports_a_private_name_of_another():
    _, _, private = G.graph()
    assert private == [], f"private names imported across modules (importer, module, name): {private}"


def test_the_graph_sees_cycles_and_private_names(tmp_path):
    """The checker itself: a cycle through an import inside a function, and a private name, are both found."""
    pkg = tmp_path / "innbench"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import helper\n")
    (pkg / "b.py").write_text("def helper():\n    from .sub import c\n    return c\n")
    (pkg / "sub" / "__init__.py").write_text("from . import c\n")
    (pkg / "sub" / "c.py").write_text("def f():\n    from ..a import helper\n    from ..b import _secret\n")
    edges, inside, private = G.graph(pkg)
    assert edges["innbench.sub"] == {"innbench.sub.c"}  # `from . import c` is an edge to c, not to the package
    assert inside == 3
    assert G.cycles(edges) == [["innbench.a", "innbench.b", "innbench.sub.c"]]
    assert private == [("innbench.sub.c", "innbench.b", "_secret")]


def test_the_problem_layer_imports_no_problem_from_below():
    """The reference samplers, the plotting kit and the explorer's generic drawing import no problem module: a
    problem's own figures and views live in its folder and are reached through its hooks."""
    edges, _, _ = G.graph()
    for low in ("innbench.figures", "innbench.drawing", "innbench.reference", "innbench.reference.mcmc",
                "innbench.reference.abc", "innbench.errors"):
        assert not {e for e in edges[low] if e.startswith("innbench.problems")}, (low, edges[low])
