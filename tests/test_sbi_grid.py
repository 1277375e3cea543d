"""The sbi grid: simulation budgets per cell, sbibm's fixed observations, the budget table and figure."""

import hashlib
import json

import pytest

from innbench.benchmark import get_grid
from innbench.benchmark.config import Cell, GridConfig, ModelSpec, budget_label
from innbench.cli import main


def test_the_sbi_preset_expands_every_model_over_the_budgets():
    g = get_grid("sbi")
    cells = g.cells()
    labels = {c.spec.label for c in cells}
    # eight conditional models, NLE, two NREs, TSNPE, SNLE, ABC at three budgets, MCMC once
    assert len(cells) == 7 * (14 * 3 + 1)
    assert {"cinn@1e3", "nsf@1e4", "nle@1e5", "tsnpe@1e3", "snle@1e4", "rejection_abc@1e5", "mcmc"} <= labels
    assert all(c.spec.simulations == {"1e3": 1000, "1e4": 10_000, "1e5": 100_000}[c.spec.label.split("@")[1]]
               for c in cells if "@" in c.spec.label)
    s = g.settings()
    assert s["observation_set"] == "fixed" and s["c2st"] == {"backend": "torch", "folds": 5}
    assert s["simulation_budget"] == {"max_steps": 20_000} and s["samples"] == 10_000
    assert [budget_label(n) for n in (1000, 25_000, 100_000)] == ["1e3", "2.5e4", "1e5"]
    fewer = g.select(["slcp"], simulations=[1000])
    assert [c.spec.label for c in fewer.cells()][:2] == ["cinn@1e3", "nsf@1e3"] and len(fewer.cells()) == 15


def test_cells_without_a_simulation_budget_keep_their_keys():
    """Databases of earlier grids resume: a cell's key is the hash of the same payload as before."""
    cell = get_grid("quick").cells()[0]
    payload = {"problem": cell.problem, "model": cell.spec.model, "label": cell.spec.label,
               "options": cell.spec.options, "seed": cell.seed, "settings": cell.settings,
               "versions": dict(cell.versions)}
    assert cell.key == hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]
    assert "simulation_budget" not in cell.settings and "observation_set" not in cell.settings
    budgeted = Cell("g", "two_moons", ModelSpec("mdn", "mdn@1e3", {}, 1000), 0, {})
    assert budgeted.key != Cell("g", "two_moons", ModelSpec("mdn", "mdn@1e3", {}), 0, {}).key


@pytest.mark.parametrize("overrides, message", [
    ({"problems": ["kinematics"]}, "no published fixed observations"),
    ({"observations": 11}, "fewer than 11"),
    ({"c2st_backend": "keras"}, "c2st_backend"),
    ({"c2st_folds": 1}, "at least 2 folds"),
    ({"simulation_budget": {"patients": 3}}, "unknown keys"),
    ({"simulations": [0]}, "simulations"),
])
def test_bad_sbi_grid_settings_are_refused(overrides, message):
    with pytest.raises(ValueError, match=message):
        g = GridConfig(**{**get_grid("sbi").to_dict(), **overrides})
        g.check_names()


def test_a_small_budget_grid_runs_and_reports_the_budget_table(tmp_path, capsys):
    config = tmp_path / "tiny_sbi.toml"
    config.write_text('base = "sbi"\nname = "tiny_sbi"\nproblems = ["two_moons"]\nmodels = ["mdn", "mcmc"]\n'
                      'simulations = [1000]\nsimulation_budget = {max_epochs = 2}\nsamples = 300\n'
                      'observations = 2\nc2st_observations = 2\ntiming_observations = 1\n'
                      'noise_floor_observations = 1\nc2st_folds = 2\n')
    db = tmp_path / "sbi.db"
    assert main(["bench", "--config", str(config), "--db", str(db), "--quiet"]) == 0
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "report")]) == 0
    table = (tmp_path / "report" / "budgets_two_moons.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:]}
    assert set(rows) == {"mixture density network", "MCMC on the likelihood (baseline), no simulations",
                         "NPE, published (sbibm)"}
    assert "0.725" in rows["NPE, published (sbibm)"]  # the published NPE value at 10^3 simulations
    mcmc = float(rows["MCMC on the likelihood (baseline), no simulations"].split(" | ")[1].strip("| "))
    assert 0.4 < mcmc < 0.62  # MCMC on the exact likelihood is close to the reference
    assert (tmp_path / "report" / "figures" / "budget_two_moons.png").stat().st_size > 10_000
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["problems"]["two_moons"]["budgets"][0]["label"] == "mdn"
    table = (tmp_path / "report" / "table_two_moons.md").read_text()
    assert "mixture density network [mdn@1e3]" in table
    caption = (tmp_path / "report" / "table_two_moons.tex").read_text()
    assert "published (sbibm) observations, exact reference" in caption
