"""The examples in the docstrings run as written: every ``>>>`` example in the package is a doctest.

The API reference (``scripts/apidocs.sh``) shows these examples, so a change that breaks one fails here.
Examples that train (seconds to hours) are plain code blocks and are not run; the README's examples are
run by ``test_readme.py``.
"""

import doctest
import importlib
import inspect
import pkgutil

import pytest

import innbench

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _module_names() -> list[str]:
    return ["innbench"] + sorted(m.name for m in pkgutil.walk_packages(innbench.__path__, "innbench.")
                                 if m.name.rsplit(".", 1)[-1] != "__main__")


def _doctests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    return sorted((t for t in tests if t.examples), key=lambda t: t.name)


#: the modules that hold at least one example (found once, at collection)
MODULES = [name for name in _module_names() if _doctests(name)]


def test_examples_are_found():
    """The finder sees the package's examples (a broken discovery would make every test below vacuous)."""
    n = sum(len(_doctests(name)) for name in MODULES)
    assert len(MODULES) >= 20 and n >= 100, (len(MODULES), n)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch, tmp_cache, scratch_registries):
    """Every docstring example of module ``name`` gives the output it shows (in a scratch directory, with a
    private reference cache and registries, so that examples that register or write leave nothing behind)."""
    monkeypatch.chdir(tmp_path)
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    report = []
    for test in _doctests(name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)
    assert result.attempted > 0


#: the public API that the reference documents first: each has a docstring with an argument list (where it
#: takes arguments) and an example
DOCUMENTED = [
    "innbench.api:train", "innbench.api:sample", "innbench.api:posterior", "innbench.api:Posterior",
    "innbench.api:reference", "innbench.api:evaluate", "innbench.api:evaluation_figures", "innbench.api:noise_floor",
    "innbench.api:load",
    "innbench.problems:SimulatorProblem", "innbench.problems:register_problem", "innbench.problems:get_problem",
    "innbench.problems:list_problems", "innbench.problems:Problem",
    "innbench.models:build_model", "innbench.models:get_model_class", "innbench.models:list_models",
    "innbench.models:load_model", "innbench.models:register_model", "innbench.models:Model",
    "innbench.models:Model.sample", "innbench.models:Model.log_prob", "innbench.models:Model.save",
    "innbench.checks:check_model", "innbench.checks:check_problem",
    "innbench.metrics:mmd", "innbench.metrics:err_post", "innbench.metrics:err_resim",
    "innbench.metrics:support_violation",
    "innbench.calibration:sbc_ranks", "innbench.calibration:rank_histogram_pvalue",
    "innbench.calibration:expected_coverage", "innbench.calibration:c2st", "innbench.calibration:rank_bins",
    "innbench.benchmark:ResultsDB", "innbench.benchmark:run_grid", "innbench.benchmark:run_cell",
    "innbench.benchmark:get_grid", "innbench.benchmark:load_grid", "innbench.benchmark:GridConfig",
    "innbench.simbudget:SimulationBudget", "innbench.simbudget:fit_simulations",
    "innbench.training:Budget", "innbench.training:get_budget", "innbench.training:fit",
    "innbench.reference:reference_posterior", "innbench.reference:test_observations",
]
DOCUMENTED += [f"innbench.problems:{name}" for name in innbench.problems.__all__
               if inspect.isclass(getattr(innbench.problems, name)) and name not in ("ObservationError",)]


def _resolve(path: str):
    module, _, qualname = path.partition(":")
    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("path", DOCUMENTED)
def test_public_api_is_documented(path):
    obj = _resolve(path)
    doc = inspect.getdoc(obj) or ""
    assert "Example" in doc, f"{path}: no Example section"
    params = [p for p in inspect.signature(obj).parameters if p not in ("self", "cls")]
    if params:
        assert "Args:" in doc or "Attributes:" in doc, f"{path}: no Args (or Attributes) section"


def test_links_to_the_recipes_journal_resolve():
    """Docstrings give the reason for a default as a link into docs/journal/recipes_in_code.md: every link
    names a section that exists there."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    journal = (root / "docs" / "journal" / "recipes_in_code.md").read_text()
    anchors = {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-")
               for h in re.findall(r"^## (.+)$", journal, flags=re.MULTILINE)}
    links = {(path.name, anchor) for path in (root / "src" / "innbench").rglob("*.py")
             for anchor in re.findall(r"docs/journal/recipes_in_code\.md#([\w\-]+)", path.read_text())}
    assert len(links) >= 10
    missing = sorted(link for link in links if link[1] not in anchors)
    assert not missing, (missing, sorted(anchors))
