"""sbibm's ODE tasks (SIR, Lotka-Volterra): the batched solver, the simulators, the likelihoods, the reference."""

import numpy as np
import pytest
from scipy import stats
from scipy.integrate import solve_ivp

from innbench.problems import ObservationError, get_problem
from innbench.problems.sbi import sbibm_observations
from innbench.problems.sbi.ode import CHUNK, solve_batched


def _alone(rhs, u0, p, t):
    """One trajectory solved by itself at a tolerance far tighter than the package's."""
    sol = solve_ivp(lambda _, u: rhs(u[:, None], p[None])[:, 0], (t[0], t[-1]), u0, method="DOP853", t_eval=t,
                    rtol=1e-12, atol=1e-12)
    return sol.y


def test_the_batched_solver_agrees_with_each_trajectory_solved_alone():
    # a chunk's error norm is shared by its trajectories: each must still be as accurate as solved alone
    rng = np.random.default_rng(0)
    for name in ("sir", "lotka_volterra"):
        p = get_problem(name)
        theta = p.sample_prior(CHUNK + 7, rng)  # two chunks
        t = np.asarray(p.DAYS if name == "sir" else p.TIMES, dtype=float)
        u0 = np.array([1e6 - 1, 1.0, 0.0]) if name == "sir" else np.log([30.0, 1.0])
        batch = solve_batched(p._rhs, u0, theta, t, rtol=1e-8, atol=1e-6 if name == "sir" else 1e-8)
        for i in (0, 5, CHUNK + 3):
            alone = _alone(p._rhs, u0, theta[i], t)
            if name == "sir":  # infected fraction, against the binomial's resolution of 1 / 1000
                assert np.abs(batch[i, 1] - alone[1]).max() / 1e6 < 1e-6
            else:  # log populations, against the noise's 0.1
                assert np.abs(batch[i] - alone).max() < 1e-3


def test_the_sir_solution_keeps_its_first_integral():
    # S(t) = S(0) exp(-(beta / gamma) R(t) / N) along every exact trajectory: an independent check of the solve
    p = get_problem("sir")
    theta = np.array([[0.61479264, 0.19172086], [1.2, 0.1], [0.3, 0.2]])
    t = np.asarray(p.DAYS, dtype=float)
    u = solve_batched(p._rhs, np.array([p.N - 1, 1.0, 0.0]), theta, t, rtol=1e-8, atol=1e-6)
    s, r = u[:, 0], u[:, 2]
    predicted = (p.N - 1) * np.exp(-(theta[:, :1] / theta[:, 1:]) * r / p.N)
    np.testing.assert_allclose(s, predicted, rtol=1e-6)
    np.testing.assert_allclose(u.sum(1), p.N, rtol=1e-9)  # the population is conserved


def test_the_lotka_volterra_solution_keeps_its_first_integral():
    # V = delta x - gamma log x + beta y - alpha log y is constant along every trajectory
    p = get_problem("lotka_volterra")
    theta = p.sample_prior(50, np.random.default_rng(1))
    u = solve_batched(p._rhs, np.log([30.0, 1.0]), theta, np.asarray(p.TIMES, dtype=float), rtol=1e-8, atol=1e-8)
    a, b, g, d = (theta[:, i:i + 1] for i in range(4))
    terms = np.stack([d * np.exp(u[:, 0]), -g * u[:, 0], b * np.exp(u[:, 1]), -a * u[:, 1]])
    v = terms.sum(0)
    # V is a difference of larger terms: its drift is measured against their magnitude (a wrong right-hand side
    # drifts by order 1)
    assert (np.abs(v - v[:, :1]) <= 1e-5 * np.abs(terms).sum(0)).all()


def test_sbibm_observations_and_simulations_at_the_true_parameters():
    for name, shape in (("sir", (10, 2, 10)), ("lotka_volterra", (10, 4, 20))):
        p = get_problem(name)
        x_true, y = sbibm_observations(name)
        assert (x_true.shape[0], x_true.shape[1], y.shape[1]) == shape
        p.validate_observations(y)  # sbibm's own observations pass the checks
        # the true parameters explain their observation better than 99 % of prior draws do
        rng = np.random.default_rng(0)
        prior = p.log_likelihood(p.sample_prior(2000, rng), y[0])
        assert p.log_likelihood(x_true[:1], y[0])[0] > np.quantile(prior, 0.99)


def test_sir_simulator_and_likelihood_by_hand():
    p = get_problem("sir")
    x = np.array([[0.61479264, 0.19172086]])
    frac = p.infected_fraction(x)[0]
    y = p.forward(np.repeat(x, 4000, 0), np.random.default_rng(0))
    assert set(np.unique(y)) <= set(range(1001))
    np.testing.assert_allclose(y.mean(0), 1000 * frac, rtol=0.05, atol=0.5)  # binomial means
    y0 = sbibm_observations("sir")[1][0]
    expected = stats.binom.logpmf(y0, 1000, frac).sum()
    np.testing.assert_allclose(p.log_likelihood(x, y0), [expected], rtol=1e-10)
    with pytest.raises(ObservationError, match="integer in \\[0, 1000\\]"):
        p.validate_observations(np.r_[y0[:9], 1001.0][None])


def test_lotka_volterra_simulator_and_likelihood_by_hand():
    p = get_problem("lotka_volterra")
    x_true, y_all = sbibm_observations("lotka_volterra")
    x, y0 = x_true[:1], y_all[0]
    mean = p.log_populations(x)[0]
    y = p.forward(np.repeat(x, 4000, 0), np.random.default_rng(0))
    np.testing.assert_allclose(np.log(y).mean(0), mean, atol=0.01)  # log-normal around the populations
    np.testing.assert_allclose(np.log(y).std(0), 0.1, rtol=0.05)
    expected = stats.lognorm.logpdf(y0, s=0.1, scale=np.exp(mean)).sum()
    np.testing.assert_allclose(p.log_likelihood(x, y0), [expected], rtol=1e-10)
    with pytest.raises(ObservationError, match="positive"):
        p.validate_observations(np.r_[y0[:19], -1.0][None])


def test_the_sir_reference_matches_the_posterior_on_a_grid():
    # the 2-D posterior tabulated on a fine grid against a short run of the MCMC reference: means and sds
    p = get_problem("sir")
    y = sbibm_observations("sir")[1][:1]
    draws, info = p.exact_posterior(y, 1000, np.random.default_rng(0), burn=200, pilot=100, init_draws=2000,
                                    max_thin=4)
    mean, sd = draws[0].mean(0), draws[0].std(0)
    grid = [np.linspace(m - 6 * s, m + 6 * s, 161) for m, s in zip(mean, sd, strict=True)]
    b, g = np.meshgrid(*grid, indexing="ij")
    pts = np.stack([b.ravel(), g.ravel()], -1)
    logp = p.log_prior(pts) + p.log_likelihood(pts, y[0])
    w = np.exp(logp - logp.max())
    w /= w.sum()
    grid_mean = w @ pts
    grid_sd = np.sqrt(w @ (pts - grid_mean) ** 2)
    assert info["rhat"][0] < 1.05
    # 1000 draws with ESS above 500: the mean within 0.2 sd, the sd within 15 %
    assert info["ess"][0] > 500 and (np.abs(mean - grid_mean) < 0.2 * grid_sd).all()
    np.testing.assert_allclose(sd, grid_sd, rtol=0.15)


def test_the_lotka_volterra_reference_matches_sbibms():
    # a short run of the MCMC reference on sbibm's observation 1 against the moments of sbibm's own reference
    # samples (scripts/import_sbibm.py: slice sampling, then rejection sampling, on Julia's ODE solution); the full
    # comparison, C2ST on all ten observations, is benchmarks/sbibm_references.py
    import json
    from pathlib import Path

    moments = json.loads((Path(__file__).parent / "data" / "sbibm_reference_moments.json").read_text())
    p = get_problem("lotka_volterra")
    y = sbibm_observations("lotka_volterra")[1][:1]
    draws, info = p.exact_posterior(y, 1000, np.random.default_rng(0), burn=300, pilot=100, init_draws=2000,
                                    max_thin=4, rhat_max=None)
    first = moments["tasks"]["lotka_volterra"][0]
    mean, sd = np.array(first["mean"]), np.array(first["sd"])
    assert info["rhat"][0] < 1.1 and info["ess"][0] > 300
    assert (np.abs(draws[0].mean(0) - mean) < 0.25 * sd).all()
    np.testing.assert_allclose(draws[0].std(0), sd, rtol=0.2)
