"""The README's Python examples run as written (with the tiny budget so the suite stays fast)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_has_python_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _python_blocks()[index]
    code = code.replace('preset="quick"', 'preset="tiny", progress=False').replace("num_observations=100", "num_observations=3")
    code = code.replace('innbench.register_problem(problem)', 'innbench.register_problem(problem, overwrite=True)')
    for call in ("simulations=1000)", "data=(x_sims, y_sims))"):  # two epochs are enough to run the example
        code = code.replace(call, call[:-1] + ', simulation_budget={"max_epochs": 2}, progress=False)')
    exec(compile(code, f"README.md example {index}", "exec"), {})


@pytest.mark.parametrize("page", ["README.md", "docs/models.md"])
def test_models_tables_match_every_registered_model(page):
    """The README's short models table and the full one in docs/models.md: every registered model, with
    its title, latent sizes and the paper's facts as the classes declare them."""
    from innbench.models import get_model_class, list_models

    rows = {}
    for line in (README.parent / page).read_text().splitlines():
        m = re.match(r"\| `(\w+)` \| (.+?) \| .* \| (\S+) / (\S+) \| (yes|no) \| (yes|no) \| (yes|no)[^|]* \| (yes|no) \|$", line)
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
        assert (f.ml_loss, f.y_supervised, f.exact_inverse, f.density) == (yes[ml], yes[ysup], yes[inv], yes[dens]), name
