"""Neural ratio estimation (nre_c, bnre): the learned ratio and the MCMC posterior on a conjugate problem."""

import numpy as np
import pytest

from innbench import api
from innbench.models import build_model
from innbench.problems import SimulatorProblem


def _noisy_mean():
    """x ~ N(0, 1), y = x + N(0, 0.5^2): conjugate, mu | y ~ N(y / 1.25, 0.2)."""
    return SimulatorProblem(
        "noisy_mean_nre", x_names=["mu"], y_names=["y"], stochastic=True,
        prior=lambda n, rng: rng.normal(size=(n, 1)),
        simulator=lambda x, rng: x + 0.5 * rng.normal(size=x.shape), log_prior=lambda x: -0.5 * x[:, 0] ** 2)


def test_contrastive_ratio_learns_the_likelihood_ratio_and_samples_the_posterior():
    m = api.train(_noisy_mean(), "nre_c", simulations=3000, progress=False, hidden=32, burn=200, pilot=200,
                  simulation_budget={"max_epochs": 40})
    assert not m.amortized and m.dim_z() == 0
    # log r(x, y) = log p(y | x) - log p(y): minus log N(y; x, 0.25) it is constant in x where the posterior lies
    x = np.linspace(-0.4, 1.0, 6)[:, None]
    diff = m.log_likelihood(x, np.array([0.4])) + 0.5 * ((0.4 - x[:, 0]) / 0.5) ** 2
    assert np.ptp(diff) < 0.15
    s = m.sample([[1.0], [-0.5]], 3000, seed=0)
    np.testing.assert_allclose(s[:, :, 0].mean(1), [0.8, -0.4], atol=0.05)
    np.testing.assert_allclose(s[:, :, 0].var(1), 0.2, rtol=0.15)
    assert max(m.last_diagnostics["rhat"]) < 1.05


def test_balanced_ratio_is_conservative_and_centred():
    # BNRE's balancing term widens the posterior where the classifier is unsure (Delaunoy et al. 2022): centred
    # like the exact one, never narrower
    m = api.train(_noisy_mean(), "bnre", simulations=3000, progress=False, hidden=32, burn=200, pilot=200,
                  simulation_budget={"max_epochs": 40})
    s = m.sample([[1.0], [-0.5]], 3000, seed=0)
    np.testing.assert_allclose(s[:, :, 0].mean(1), [0.8, -0.4], atol=0.06)
    var = s[:, :, 0].var(1)
    assert (var > 0.2 * 0.9).all() and (var < 0.2 * 1.8).all()


def test_ratio_models_refuse_what_they_cannot_learn():
    with pytest.raises(ValueError, match="deterministic simulator"):
        build_model("nre_c", "kinematics")
    with pytest.raises(ValueError, match="gamma: expected a number > 0"):
        build_model("nre_c", "two_moons", gamma=0.0)
    with pytest.raises(ValueError, match="no prior density"):
        build_model("bnre", SimulatorProblem("noisy_mean_nre_nodensity", x_names=["mu"], y_names=["y"],
                                             stochastic=True, prior=lambda n, rng: rng.normal(size=(n, 1)),
                                             simulator=lambda x, rng: x + rng.normal(size=x.shape)))
