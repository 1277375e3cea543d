"""Score-based posterior estimation (``npse``) and consistency model posterior estimation (``cmpe``): the contract,
posteriors on closed-form Gaussian cases, the ODE's density, the consistency function's boundary and curriculum."""

import functools
import math

import numpy as np
import pytest
import torch

from innbench import SimulatorProblem, api
from innbench.checks import check_model
from innbench.models import build_model
from innbench.problems import get_problem
from tolerance import EPS64, assert_close_ulps

#: small networks and budgets: seconds per model on one core
SMALL = {"npse": {"hidden": 128, "layers": 3}, "cmpe": {"hidden": 128, "layers": 3}}


@functools.cache
def _gaussian_linear(name: str, sde: str | None):
    """A small model trained once on gaussian_linear (cmpe's sampling steps are set by each test)."""
    return _train("gaussian_linear", name, **({"sde": sde} if sde else {}))


def _train(problem, name: str, n_batches: int = 3000, **options):
    options = {**SMALL[name], **options}
    return api.train(problem, name, seed=0, preset="tiny", budget_overrides={"n_train": 20_000, "n_batches": n_batches},
                     progress=False, **options)


@pytest.mark.parametrize("name", ["npse", "cmpe"])
def test_the_contract_holds(name):
    done = check_model(name, "kinematics", width=32)
    assert {"training", "sample", "save/load", "bad observations"} <= set(done)
    assert ("density" in done) == (name == "npse")


def _posterior_error(samples: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """gaussian_linear's exact posterior is N(y / 2, 0.05 I): the largest error of the samples' mean in units of
    the exact standard deviation, and the largest relative error of their standard deviation."""
    sd = math.sqrt(0.05)
    mean_err = np.abs(samples.mean(1) - y / 2).max() / sd
    sd_err = np.abs(samples.std(1) / sd - 1).max()
    return float(mean_err), float(sd_err)


@pytest.mark.parametrize(("name", "options", "sd_tolerance"), [
    ("npse", {"sde": "vp"}, 0.15), ("npse", {"sde": "ve"}, 0.15), ("cmpe", {"steps": 2}, 0.15),
    ("cmpe", {"steps": 1}, 0.25),  # one network evaluation: the coarsest sampler (measured 0.19)
])
def test_the_posterior_of_gaussian_linear_is_recovered(name, options, sd_tolerance):
    """10-D, y = x + noise: the draws' mean and standard deviation per dimension match the exact posterior
    N(y / 2, 0.05 I) within a fraction of its standard deviation (measured: mean off by at most 0.24 sd,
    spread by 11 %, 19 % for one-step CMPE; an untrained model is off by several sd, and the prior is off by
    up to two sd in the mean and 41 % in the spread)."""
    _, y = get_problem("gaussian_linear").simulate(3, np.random.default_rng(11))
    untrained = build_model(name, "gaussian_linear", **SMALL[name], **options)
    x_train, y_train = untrained.problem.simulate(2000, np.random.default_rng(0))
    untrained.set_normalization(x_train, y_train)
    assert max(_posterior_error(untrained.sample(y, 2000, seed=1), y)) > 0.5
    m = _gaussian_linear(name, options.get("sde"))
    m.configure(**{k: v for k, v in options.items() if k in m.sampling_options})
    mean_err, sd_err = _posterior_error(m.sample(y, 2000, seed=1), y)
    # 2,000 draws: the mean's own noise is 0.02 sd, the sd's 0.016; the rest is the small network's error
    assert mean_err < 0.3, mean_err
    assert sd_err < sd_tolerance, sd_err


def _gaussian_2d() -> SimulatorProblem:
    """x ~ N(0, I_2), y = x + 0.5 noise: the posterior is N(0.8 y, 0.2 I)."""
    return SimulatorProblem("gaussian_2d", x_names=["a", "b"], y_names=["ya", "yb"],
                            prior=lambda n, rng: rng.standard_normal((n, 2)),
                            simulator=lambda x, rng: x + 0.5 * rng.standard_normal(x.shape), stochastic=True)


@pytest.mark.parametrize("sde", ["vp", "ve"])
def test_npse_density_integrates_to_one_and_matches_the_exact_posterior(sde):
    m, y = _train(_gaussian_2d(), "npse", n_batches=1500, hidden=64, sde=sde), np.array([[0.6, -1.2]])
    mean, sd = 0.8 * y[0], math.sqrt(0.2)
    # exp(log_prob) on a grid of +-6 posterior standard deviations: the mass of a density
    ticks = np.linspace(-6, 6, 61)
    grid = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2) * sd + mean
    lp = m.log_prob(grid, y)
    mass = float(np.exp(lp).sum() * (ticks[1] - ticks[0]) ** 2 * sd**2)
    assert abs(mass - 1) < 0.03, mass  # measured 0.007 (VP) and 0.001 (VE) with 128 density steps
    # at the model's own draws: finite, and close to the exact log density (KL(q || p) is their mean gap)
    x = m.sample(y, 500, seed=2)[0]
    lq = m.log_prob(x, y)
    lp_exact = -0.5 * ((x - mean) ** 2).sum(-1) / sd**2 - 2 * math.log(sd) - math.log(2 * math.pi)
    assert np.isfinite(lq).all()
    assert abs(float(np.mean(lq - lp_exact))) < 0.1
    assert float(np.median(np.abs(lq - lp_exact))) < 0.15


@pytest.mark.parametrize("sde", ["vp", "ve"])
def test_npse_schedule_and_its_inverse(sde):
    """``time_of_ratio`` inverts the noise-to-signal ratio of both diffusions; VP keeps unit variance."""
    m = build_model("npse", "linear", hidden=8, sde=sde)
    t = torch.linspace(1e-3, 1.0, 50, dtype=torch.float64)
    log_alpha, sigma = m.log_alpha_sigma(t)
    back = m.time_of_ratio(sigma / log_alpha.exp())
    # a square root and a logarithm in float64 on values of about 1: a few ulps of 1e-16, with margin
    assert_close_ulps(back, t, ulps=1e3, eps=EPS64, what="t(r(t))")
    if sde == "vp":
        assert_close_ulps(torch.exp(2 * log_alpha) + sigma**2, torch.ones_like(t), ulps=10, eps=EPS64,
                          what="alpha^2 + sigma^2")
    grid = m.ratio_grid("cpu")
    assert len(grid) == m.config["steps"] + 1 and bool((grid[1:] < grid[:-1]).all())


def test_npse_refuses_an_empty_noise_range():
    with pytest.raises(ValueError, match="beta_max: expected a number above beta_min"):
        build_model("npse", "linear", beta_min=5.0, beta_max=1.0)
    with pytest.raises(ValueError, match="sigma_max: expected a number above sigma_min"):
        build_model("npse", "linear", sde="ve", sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValueError, match="sde: expected 'vp' or 've'"):
        build_model("npse", "linear", sde="sub-vp")


def test_cmpe_is_the_identity_at_the_smallest_noise():
    m = build_model("cmpe", "kinematics", hidden=16)
    x, y = torch.randn(64, 4), torch.randn(64, m.cond_dim)
    with torch.no_grad():
        out = m.consistency(x, torch.full((64,), m.config["sigma_min"]), y)
    assert torch.equal(out, x)


def test_cmpe_curriculum_follows_the_budget_or_its_own_step_count():
    """N(k): the noise intervals double from levels_min to levels_max in equal stages of the fixed budget's
    progress; under early stopping (no progress told) the model's own step counter drives them."""
    m = build_model("cmpe", "linear", hidden=8, levels_min=10, levels_max=80, curriculum_steps=100)
    seen = []
    for p in (0.0, 0.24, 0.26, 0.5, 0.99):
        m.progress = p
        seen.append(m.intervals())
    assert seen == [10, 10, 20, 40, 80]
    m.progress = 1.0  # as the simulation budget's trainer leaves it: the counter counts
    assert m.intervals() == 10
    m.train()
    x, y = torch.randn(32, 2), torch.randn(32, m.cond_dim)
    for _ in range(60):
        m.loss(x, y)
    with torch.no_grad():  # a validation loss does not count
        m.loss(x, y)
    assert int(m.ct_steps) == 60 and m.intervals() == 40
    assert "ct_steps" in m.state_dict()
