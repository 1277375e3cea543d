"""The epidemic problem (solver, likelihood, observations), the set problem's re-simulation distance, and the
structured grid's calibration on observations of its own."""

import json

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import solve_ivp

from innbench import api
from innbench.benchmark import get_grid
from innbench.cli import main
from innbench.metrics import err_resim
from innbench.problems import ObservationError, get_problem
from innbench.problems.epidemic import DISPERSION, INFECTED0, POPULATION, sir_trajectories
from innbench.problems.epidemic.problem import _contact_rate


def _accurate_trajectory(x):
    """Daily new infections and deaths of one parameter row by an adaptive 8th-order solver at tight tolerance."""
    b0, b1, tc, g, f = np.exp(x[0]), np.exp(x[1]), x[2], np.exp(x[3]), np.exp(x[4])

    def rhs(t, u):
        s, i, _ = u
        force = _contact_rate(t, b0, b1, tc) * s * i / POPULATION
        return [-force, force - g * i, g * i]

    sol = solve_ivp(rhs, (0, 80), [POPULATION - INFECTED0, INFECTED0, 0.0], t_eval=np.arange(81), method="DOP853",
                    rtol=1e-11, atol=1e-9)
    return -np.diff(sol.y[0]), f * np.diff(sol.y[2])


def test_the_rk4_solver_matches_a_high_accuracy_trajectory():
    p = get_problem("epidemic")
    x = p.sample_prior(6, np.random.default_rng(3))
    cases, deaths = sir_trajectories(x)
    assert cases.shape == deaths.shape == (6, 80)
    for k in range(6):
        ref_cases, ref_deaths = _accurate_trajectory(x[k])
        np.testing.assert_allclose(cases[k], ref_cases, rtol=1e-3, atol=1e-3)
        np.testing.assert_allclose(deaths[k], ref_deaths, rtol=1e-3, atol=1e-5)
    # everyone infected is counted once: cumulative cases never exceed the population
    assert (cases.sum(1) < POPULATION).all() and cases.sum(1).max() > 1000


def test_the_likelihood_is_the_negative_binomial_of_the_expected_counts():
    p = get_problem("epidemic")
    rng = np.random.default_rng(4)
    x = p.sample_prior(5, rng)
    y = p.forward(x[:1], rng)[0]
    mu = p.expected_counts(x)
    direct = stats.nbinom.logpmf(y.reshape(80, 2)[None], DISPERSION, DISPERSION / (DISPERSION + mu)).sum((1, 2))
    ours = p.log_likelihood(x, y)
    np.testing.assert_allclose(ours - ours[0], direct - direct[0], rtol=1e-9, atol=1e-6)  # same up to a constant
    assert np.argmax(ours) == 0  # the parameters that made y explain it best of the five


def test_simulated_counts_have_the_expected_means_and_bad_counts_are_refused():
    p = get_problem("epidemic")
    rng = np.random.default_rng(5)
    x = np.repeat(p.sample_prior(1, rng), 4000, 0)
    y = p.forward(x, rng).reshape(4000, 80, 2)
    mu = p.expected_counts(x[:1])[0]
    var = mu + mu**2 / DISPERSION
    z = (y.mean(0) - mu) / np.sqrt(var / 4000 + 1e-12)
    assert np.abs(z).max() < 5 and np.all(y == np.round(y)) and y.min() >= 0
    assert p.validate_observations(y[:2]).shape == (2, 160)  # (m, days, channels) is accepted
    bad = y[:1].copy()
    bad[0, 3, 0] = 2.5
    with pytest.raises(ObservationError, match="whole numbers"):
        p.validate_observations(bad)
    bad[0, 3, 0] = -1
    with pytest.raises(ObservationError, match="non-negative"):
        p.validate_observations(bad)
    with pytest.raises(ObservationError):
        p.validate_observations(np.zeros((1, 79, 2)))


def test_the_fixed_observations_are_bundled_and_reproduce_from_their_parameters():
    for name, count in (("epidemic", 10), ("gaussian_set", 10)):
        p = get_problem(name)
        x, y = p.fixed_observations()
        assert x.shape == (count, p.x_dim) and y.shape == (count, p.y_dim)
        p.validate_observations(y)
    sizes = get_problem("gaussian_set").observation_lengths(get_problem("gaussian_set").fixed_observations()[1])
    assert sizes.tolist() == [5, 5, 5, 10, 20, 40, 60, 100, 100, 100]
    p = get_problem("epidemic")
    x, y = p.fixed_observations()
    lik = [p.log_likelihood(x, y[i]) for i in range(3)]
    assert [int(np.argmax(v)) for v in lik] == [0, 1, 2]  # each observation is best explained by its own x


def test_a_model_trains_on_epidemic_series_and_reads_log_counts(tmp_path):
    p = get_problem("epidemic")
    model = api.train(p, "mdn", simulations=400, simulation_budget={"max_epochs": 3}, seed=0, out=tmp_path / "m")
    x, y = p.fixed_observations()
    s = model.sample(y[:2], 200)
    assert s.shape == (2, 200, 5) and np.isfinite(s).all()
    c = model.condition(__import__("torch").as_tensor(y[:1], dtype=__import__("torch").float32))
    raw = np.log1p(y[:1]).reshape(80, 2)
    # the model standardises log(1 + counts) per channel
    assert np.corrcoef(c.numpy().reshape(80, 2)[:, 0], raw[:, 0])[0, 1] > 0.999
    again = api.load(tmp_path / "m")
    np.testing.assert_allclose(again.sample(y[:2], 200), s)


def test_energy_distance_on_sets_ranks_the_exact_posterior_above_the_prior_and_ignores_item_order():
    p = get_problem("gaussian_set")
    _, y = p.fixed_observations()
    rng = np.random.default_rng(6)
    y2 = y[[0, 9]]
    post, _ = p.exact_posterior(y2, 400, rng)
    prior = np.stack([p.sample_prior(400, rng)] * 2)
    d_post, _, invalid = err_resim(p, post, y2, np.random.default_rng(1))
    d_prior, _, _ = err_resim(p, prior, y2, np.random.default_rng(1))
    assert (d_post < 0.8 * d_prior).all() and (invalid == 0).all()
    assert d_post[1] < d_post[0]  # 100 items pin the distribution down better than 5
    sims = p.resimulate(post[1][:50], np.repeat(y2[1:], 50, 0), np.random.default_rng(2)).reshape(1, 50, -1)
    shuffled = y2[1:].reshape(100, 2)[np.random.default_rng(0).permutation(100)].reshape(1, -1)
    np.testing.assert_allclose(p.resimulation_sq_distance(sims, y2[1:]), p.resimulation_sq_distance(sims, shuffled))


def test_the_structured_grid_calibrates_on_observations_of_its_own(tmp_path):
    g = get_grid("structured")
    # two problems x (six models and the ensemble of four cINNs) x two budgets
    assert {c.problem for c in g.cells()} == {"epidemic", "gaussian_set"} and len(g.cells()) == 2 * 7 * 2
    assert g.settings()["sbc"] == {"observations": 200, "samples": 1000}
    config = tmp_path / "tiny.toml"
    config.write_text('base = "structured"\nname = "tiny_structured"\nproblems = ["gaussian_set"]\n'
                      'models = ["mdn"]\nsimulations = [300]\nsimulation_budget = {max_epochs = 3}\nsamples = 300\n'
                      'observations = 3\nc2st_observations = 1\ntiming_observations = 1\nc2st_folds = 2\n'
                      'noise_floor_observations = 1\nsbc_observations = 30\nsbc_samples = 50\n')
    db = tmp_path / "s.db"
    assert main(["bench", "--config", str(config), "--db", str(db), "--quiet"]) == 0
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "report")]) == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    rows = summary["problems"]["gaussian_set"]["calibration"]
    assert rows[0]["sbc_observations"] == 30 and 0.0 <= rows[0]["sbc_min_pvalue"] <= 1.0
    from innbench.benchmark.db import ResultsDB

    with ResultsDB(db, create=False) as d:
        run = d.runs()[0]
        ranks, draws = d.calibration([run["run_id"]])[run["run_id"]]
        assert ranks.shape == (30, 5) and draws == 50 and ranks.max() <= 50
        assert len(d.results([run["run_id"]])) == 3  # the scored observations stay three


def test_sets_of_varying_size_go_through_the_cli_from_npz_and_ragged_csv(tmp_path, capsys):
    p = get_problem("gaussian_set")
    x, y = p.fixed_observations()
    model_dir = tmp_path / "m"
    assert main(["train", "--problem", "gaussian_set", "--model", "mdn", "--simulations", "300", "--max-epochs",
                 "2", "--out", str(model_dir), "--quiet"]) == 0
    sets = [p.items(row) for row in y[[0, 3]]]  # 5 and 10 items
    np.savez(tmp_path / "sets.npz", *sets)
    (tmp_path / "sets.csv").write_text("\n".join(",".join(f"{v:.17g}" for v in s.ravel()) for s in sets) + "\n")
    np.savetxt(tmp_path / "truth.csv", x[[0, 3]], delimiter=",")
    assert main(["sample", "--model-path", str(model_dir), "--observations", str(tmp_path / "sets.npz"), "--n",
                 "50", "--out", str(tmp_path / "s.npy")]) == 0
    from_npz = np.load(tmp_path / "s.npy")
    assert main(["sample", "--model-path", str(model_dir), "--observations", str(tmp_path / "sets.csv"), "--n",
                 "50", "--out", str(tmp_path / "s2.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "s2.npy"), from_npz)  # the same two sets either way
    assert from_npz.shape == (2, 50, 5)
    figs = tmp_path / "figs"
    assert main(["evaluate", "--model-path", str(model_dir), "--observations", str(tmp_path / "sets.csv"),
                 "--true-parameters", str(tmp_path / "truth.csv"), "--n", "200", "--c2st-observations", "0",
                 "--timing-observations", "0", "--figures", str(figs), "--json", str(tmp_path / "r.json")]) == 0
    assert {f.name for f in figs.iterdir()} == {"posterior.png", "sbc.png", "coverage.png", "tarp.png"}
    res = json.loads((tmp_path / "r.json").read_text())
    assert res["summary"]["n_observations"] == 2 and "samples" not in res


def test_the_predictive_figure_draws_bands_over_an_epidemic_series(tmp_path):
    p = get_problem("epidemic")
    x, y = p.fixed_observations()
    model = api.train(p, "mdn", simulations=300, simulation_budget={"max_epochs": 1}, seed=0)
    rng = np.random.default_rng(0)
    near = x[:1] + 0.01 * rng.standard_normal((300, 5))
    result = {"per_observation": {"y": y[:1].tolist(), "sbc_ranks": None, "sbc_draws": 300},
              "samples": model.sample(y[:1], 300), "reference": near[None]}
    paths = api.evaluation_figures(model, result, tmp_path, true_parameters=x[:1])
    assert sorted(q.name for q in paths) == ["posterior.png", "predictive.png"]
    assert all(q.stat().st_size > 20_000 for q in paths)
    from innbench.figures import predictive_figure

    fig = predictive_figure([("reference", near)], y[0], p, draws=200)
    ax = fig.axes[0]
    band = ax.collections[0].get_paths()[0].vertices  # the 90 % band of the cases
    assert band[:, 1].max() > 0.5 * y.reshape(10, 80, 2)[0, :, 0].max()  # it reaches the observed peak
