"""The README's Python examples run as written, at small budgets.

How the budgets shrink (explicit, and loud when it cannot): each example runs with the budget-bearing
functions of :mod:`innbench.api` and :mod:`innbench.checks` wrapped by the rules in ``SMALL`` below. A rule
rewrites the *keyword arguments* of a call (a preset becomes ``"tiny"``, simulation counts and epochs are
capped, evaluations use a few observations and samples and a short MCMC reference) and leaves every other
argument as the README wrote it; the example's code is not edited. Every public function of ``innbench.api``
must have a rule in ``SMALL`` or be listed in ``CHEAP``: an example that calls anything else fails with the
name of the function, rather than silently running at full size. ``test_every_api_function_has_a_budget_rule``
holds the two lists against the module, so a new API function needs a decision here.

The slow tier runs the same examples at full size, unwrapped: ``bash scripts/test.sh -m slow``.

An example that continues the previous one (uses what it defined or registered) is marked in the README by
the line ``<!-- continues the previous example -->`` just above its code block; the test runs the two as one.
"""

import functools
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
CONTINUES = "<!-- continues the previous example -->"


def _examples() -> list[str]:
    """The README's ``python`` code blocks, a block marked as a continuation joined to the one before."""
    text = README.read_text()
    out = []
    for m in re.finditer(r"(<!-- continues the previous example -->\s*)?```python\n(.*?)```", text, flags=re.DOTALL):
        if m.group(1) and out:
            out[-1] += "\n" + m.group(2)
        else:
            out.append(m.group(2))
    return out


# Caps for the smoke runs: enough to exercise every step, small enough for seconds per call.
SIMULATIONS, EPOCHS, OBSERVATIONS, SAMPLES = 300, 2, 3, 200
#: a short MCMC where a reference is drawn by MCMC (the epidemic's takes minutes otherwise)
MCMC = {"burn": 100, "pilot": 100, "init_draws": 2000, "rhat_max": None, "max_thin": 2}
#: a small simulation pool where it is drawn by quantile ABC
ABC = {"pool_size": 20_000}


def _reference_options(problem, method: str) -> dict:
    """The short sampler settings for the reference that ``method`` draws for ``problem``."""
    from innbench.problems import get_problem

    kind = get_problem(problem).reference_kind if method == "exact" else method
    return {"mcmc": MCMC, "abc": ABC}.get(kind.lower(), {})


def _first(rows, k: int = OBSERVATIONS):
    """The first ``k`` rows of an array-like of observations or parameters."""
    return None if rows is None else rows[:k]


def _train(args: tuple, kw: dict) -> tuple[tuple, dict]:
    if "budget_overrides" in kw or len(args) > 2:
        raise AssertionError("no rule shrinks api.train's budget_overrides or a budget passed by position: name "
                             "the budget as a keyword (preset=, simulations=) or extend _train in tests/test_readme.py")
    if any(k in kw for k in ("simulations", "data", "simulation_budget")):
        if "simulations" in kw:
            kw["simulations"] = min(kw["simulations"], SIMULATIONS)
        kw["simulation_budget"] = {**(kw.get("simulation_budget") or {}), "max_epochs": EPOCHS}
    else:
        kw["preset"] = "tiny"
    return args, {**kw, "progress": False}


def _evaluate(args: tuple, kw: dict) -> tuple[tuple, dict]:
    from innbench.api import load
    from innbench.models import Model

    if len(args) > 1:
        raise AssertionError("api.evaluate with arguments by position: name them, or extend _evaluate")
    model = args[0] if isinstance(args[0], Model) else load(args[0])
    if "observations" in kw:  # the first few given observations, with their parameters
        kw["observations"], kw["true_parameters"] = _first(kw["observations"]), _first(kw.get("true_parameters"))
    kw = {**kw, "num_observations": min(kw.get("num_observations", 200), OBSERVATIONS),
          "n_samples": min(kw.get("n_samples", 4000), SAMPLES), "timing_observations": 1,
          "noise_floor_observations": 1, "c2st_observations": min(kw.get("c2st_observations", 5), 1)}
    short = _reference_options(model.problem, kw.get("reference_method", "exact"))
    return args, {**kw, "reference_options": {**short, **(kw.get("reference_options") or {})}}


def _reference(args: tuple, kw: dict) -> tuple[tuple, dict]:
    if len(args) != 2:
        raise AssertionError("api.reference(problem, observations, ...) with its other arguments named: "
                             "extend _reference otherwise")
    short = _reference_options(args[0], kw.get("method", "exact"))
    return (args[0], _first(args[1])), {**short, **kw, "n": min(kw.get("n", 4000), SAMPLES)}


def _noise_floor(args: tuple, kw: dict) -> tuple[tuple, dict]:
    if len(args) != 2:
        raise AssertionError("api.noise_floor(problem, observations, ...) with its other arguments named")
    return (args[0], _first(args[1])), {**kw, "n": min(kw.get("n", 4000), SAMPLES)}


#: budget rules: function name -> rewrite of the call's ``(args, kwargs)``; a call they cannot shrink fails
SMALL = {"train": _train, "evaluate": _evaluate, "reference": _reference, "noise_floor": _noise_floor}
#: functions whose cost does not grow with a budget worth shrinking (sampling a trained model, loading, drawing)
CHEAP = {"evaluation_figures", "load", "posterior", "resolve_device", "sample", "width_for_params", "Posterior"}


def _wrap(name, fn, rule):
    @functools.wraps(fn)
    def call(*args, **kwargs):
        args, kwargs = rule(args, dict(kwargs))
        return fn(*args, **kwargs)

    return call


def _refuse(name):
    def call(*args, **kwargs):
        raise AssertionError(f"a README example calls innbench.api.{name}, which has no budget rule: add one to "
                             "SMALL in tests/test_readme.py (or to CHEAP if its cost does not grow with a budget)")

    return call


@pytest.fixture
def small_budgets(monkeypatch, scratch_registries):
    """innbench.api and the contract checks at the small budgets of the rules above."""
    from innbench import api

    for name in api.__all__:
        if name in SMALL:
            monkeypatch.setattr(api, name, _wrap(name, getattr(api, name), SMALL[name]))
        elif name not in CHEAP:
            monkeypatch.setattr(api, name, _refuse(name))
    # the contract check trains briefly by design (a few batches); it stays as it is


def test_every_api_function_has_a_budget_rule():
    from innbench import api

    assert set(api.__all__) == set(SMALL) | CHEAP, "decide for each new api function: a rule in SMALL, or CHEAP"


def test_readme_has_python_examples():
    assert len(_examples()) >= 3


@pytest.mark.parametrize("index", range(len(_examples())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch, small_budgets):
    monkeypatch.chdir(tmp_path)
    exec(compile(_examples()[index], f"README.md example {index}", "exec"), {})


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_examples())))
def test_readme_python_example_runs_at_full_size(index, tmp_path, monkeypatch, scratch_registries):
    """The slow tier (``bash scripts/test.sh -m slow``): the examples exactly as a user runs them."""
    monkeypatch.chdir(tmp_path)
    exec(compile(_examples()[index], f"README.md example {index}", "exec"), {})


def test_a_rule_shrinks_what_the_readme_asks_for():
    """The rules do what they say: the budgets the README's calls name come out capped, each reference is
    drawn by its short sampler, and a budget no rule can shrink is refused rather than run at full size."""
    from innbench.models import build_model

    assert _train(("kinematics", "cinn"), {"preset": "quick"})[1]["preset"] == "tiny"
    sims = _train(("two_moons", "cinn"), {"simulations": 10_000})[1]
    assert sims["simulations"] == SIMULATIONS and sims["simulation_budget"] == {"max_epochs": EPOCHS}
    assert _train(("linear", "mdn"), {"data": (1, 2)})[1]["simulation_budget"]["max_epochs"] == EPOCHS
    with pytest.raises(AssertionError, match="budget_overrides"):
        _train(("kinematics", "cinn"), {"budget_overrides": {"n_batches": 10**6}})
    epidemic = build_model("cinn", "epidemic")
    _, ev = _evaluate((epidemic,), {"num_observations": 100, "n_samples": 1000})
    assert (ev["num_observations"], ev["n_samples"], ev["reference_options"]) == (3, SAMPLES, MCMC)
    _, ev = _evaluate((epidemic,), {"observations": list(range(10)), "true_parameters": list(range(10))})
    assert ev["observations"] == ev["true_parameters"] == [0, 1, 2]
    assert _evaluate((build_model("cinn", "linear"),), {})[1]["reference_options"] == {}
    assert _reference(("kinematics", [[1.5, 0.0]] * 5), {}) == (("kinematics", [[1.5, 0.0]] * 3), {"n": SAMPLES})
    assert _reference(("kinematics", [[1.5, 0.0]]), {"method": "abc"})[1]["pool_size"] == ABC["pool_size"]


@pytest.mark.parametrize("page", ["README.md", "docs/models.md"])
def test_models_tables_match_every_registered_model(page):
    """The README's short models table and the full one in docs/models.md: every registered model, with
    its title, latent sizes and the paper's facts as the classes declare them."""
    from innbench.models import get_model_class, list_models

    rows = {}
    for line in (README.parent / page).read_text().splitlines():
        m = re.match(r"\| `(\w+)` \| (.+?) \| .* \| (\S+) / (\S+) \| (yes|no) \| (yes|no) \| (yes|no)[^|]* "
                     r"\| (yes|no) \|$", line)
        if m:
            rows[m.group(1)] = m.groups()[1:]
    # the models that run MCMC per query have no latent size on the paper's problems (row without "kin. / ball.")
    per_query = {n for n in list_models() if get_model_class(n).requires_likelihood
                 or get_model_class(n).requires_prior_density}
    assert set(rows) >= set(list_models()) - {"rejection_abc"} - per_query
    text = (README.parent / page).read_text()
    assert all(f"| `{n}` |" in text for n in per_query)
    yes = {"yes": True, "no": False}
    for name, (title, dk, db, ml, ysup, inv, dens) in rows.items():
        cls = get_model_class(name)
        assert title == cls.title, name
        assert (int(dk), int(db)) == (cls("kinematics").dim_z(), cls("ballistics").dim_z()), name
        f = cls.facts
        facts = (f.ml_loss, f.y_supervised, f.exact_inverse, f.density)
        assert facts == (yes[ml], yes[ysup], yes[inv], yes[dens]), name
