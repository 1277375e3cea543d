"""MCMC on a tractable likelihood: the SLCP and Bernoulli-GLM tasks, the MCMC reference against closed
forms and against an independent chain, the mcmc baseline model, and users' own likelihoods."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from innbench import SimulatorProblem, api
from innbench.calibration import c2st
from innbench.problems import ObservationError, get_problem
from innbench.problems.sbi import sbibm_observations
from innbench.reference.mcmc import MCMCError, mcmc_posterior
from tolerance import EPS64, assert_close_ulps, magnitude

FAST = {"burn": 500, "pilot": 500, "init_draws": 20_000}


def test_sbibm_observations_are_bundled_and_reachable():
    for task, (d, m) in {"two_moons": (2, 2), "gaussian_linear": (10, 10), "gaussian_mixture": (2, 2),
                         "slcp": (5, 8), "bernoulli_glm": (10, 10), "sir": (2, 10), "lotka_volterra": (4, 20)}.items():
        p = get_problem(task)
        x, y = p.fixed_observations()
        assert x.shape == (10, d) and y.shape == (10, m)
        p.validate_observations(y)
        assert p.in_support(x).all() if p.bounds else True
        assert all(np.isfinite(p.log_likelihood(x[k:k + 1], y[k])[0]) for k in range(10)), task
    x, y = sbibm_observations("slcp")  # sbibm's observation 1, as its CSV files print it
    assert x[0].tolist() == [-2.8581212, -0.44451332, 2.9473476, 1.2396116, 2.9712725]
    assert y[0, :2].tolist() == [2.3718784, 0.49947417]
    assert sbibm_observations("bernoulli_glm")[1][0, 0] == 56.0
    with pytest.raises(KeyError, match="bundled for"):
        sbibm_observations("sir_with_deaths")


def test_slcp_simulator_and_likelihood_by_hand():
    p = get_problem("slcp")
    theta = np.array([[1.0, -0.5, 1.2, -0.8, 0.4]])
    s1, s2, rho = 1.2**2, 0.8**2, np.tanh(0.4)
    cov = np.array([[s1**2 + 1e-6, rho * s1 * s2], [rho * s1 * s2, s2**2 + 1e-6]])
    y = p.forward(np.repeat(theta, 100_000, 0), np.random.default_rng(0)).reshape(-1, 2)  # 400,000 points
    np.testing.assert_allclose(y.mean(0), [1.0, -0.5], atol=0.01)
    np.testing.assert_allclose(np.cov(y.T), cov, rtol=0.02, atol=0.005)
    y_star = np.array([0.3, 0.1, 1.9, -0.7, 0.5, 0.2, 1.1, -1.0])
    direct = sum(multivariate_normal(theta[0, :2], cov).logpdf(y_star[2 * j: 2 * j + 2]) for j in range(4))
    assert p.log_likelihood(theta, y_star)[0] == pytest.approx(direct, rel=1e-9)
    flipped = theta * [1, 1, -1, -1, 1]  # the likelihood sees only theta3^2 and theta4^2
    assert p.log_likelihood(flipped, y_star)[0] == pytest.approx(direct, rel=1e-12)
    with pytest.raises(ObservationError, match="out of reach"):
        p.validate_observations(np.full((1, 8), 150.0))


def test_bernoulli_glm_simulator_prior_and_likelihood_by_hand():
    p = get_problem("bernoulli_glm")
    X = p.design_matrix()
    stim = np.random.RandomState(42).randn(100).astype(np.float32).astype(float)
    assert (X[:, 0] == 1).all() and X[5, 3] == stim[3] and X[1, 2] == stim[0] and X[0, 2] == 0.0
    theta = np.array([[-1.0, 0.5, 1.0, 0.2, -0.3, 0.0, 0.1, 0.0, 0.0, 0.0]])
    y = p.forward(theta, np.random.default_rng(3))
    spikes = (np.random.default_rng(3).uniform(size=(1, 100)) < 1 / (1 + np.exp(-theta @ X.T))).astype(float)
    np.testing.assert_allclose(y, spikes @ X)  # the spike count and the spike-triggered sums
    assert y[0, 0] == spikes.sum()
    # sufficiency: the likelihood of the summary differs from the raw spike train's by a constant in theta
    thetas = p.sample_prior(5, np.random.default_rng(4))
    psi = thetas @ X.T
    raw = (spikes * -np.logaddexp(0, -psi) + (1 - spikes) * -np.logaddexp(0, psi)).sum(1)
    diff = p.log_likelihood(thetas, y[0]) - raw
    # float64 sums of 100 terms each side: rounding relative to the log-likelihoods' size
    assert_close_ulps(diff, np.full_like(diff, diff[0]), ulps=1e4, eps=EPS64, scale=magnitude(raw), what="constant")
    draws = p.sample_prior(200_000, np.random.default_rng(5))  # prior covariance = inverse of the precision
    np.testing.assert_allclose(np.cov(draws.T), np.linalg.inv(p.prior_precision()), atol=0.03)
    bad = y.copy()
    bad[0, 0] = 10.5
    with pytest.raises(ObservationError, match="spike count"):
        p.validate_observations(bad)


def test_mcmc_matches_the_closed_form_and_the_exact_sampler():
    p = get_problem("gaussian_linear")
    y = p.fixed_observations()[1][:1]
    s, info = mcmc_posterior(p, y, 4000, np.random.default_rng(0), **FAST)
    assert info["method"] == "mcmc-emcee" and info["rhat"][0] < 1.02 and info["ess"][0] > 1000
    np.testing.assert_allclose(s[0].mean(0), y[0] / 2, atol=0.02)  # N(y / 2, 0.05 I)
    np.testing.assert_allclose(s[0].var(0), 0.05, rtol=0.15)  # emcee's DE snooker move fails this (0.027)
    moons = get_problem("two_moons")
    y = moons.fixed_observations()[1][:1]
    s, _ = mcmc_posterior(moons, y, 3000, np.random.default_rng(1), **FAST)
    exact, _ = moons.exact_posterior(y, 3000, np.random.default_rng(2))
    assert c2st(s[0], exact[0]) < 0.56  # two crescents, both found (the symmetry flip)


def test_batched_sampler_matches_the_closed_form_and_the_exact_sampler_for_several_observations_at_once():
    """batched_posterior (the DE move vectorised over observations, used by NLE) with the exact likelihood."""
    from innbench.reference.mcmc import batched_posterior

    def batched(problem):
        return lambda x, y: np.stack([problem.log_likelihood(xi, yi) for xi, yi in zip(x, y, strict=True)])

    p = get_problem("gaussian_linear")
    y = p.fixed_observations()[1][:2]
    s, info = batched_posterior(p, batched(p), y, 3000, np.random.default_rng(0), burn=500, pilot=500)
    assert info["method"] == "de-mcmc-batched" and max(info["rhat"]) < 1.02 and min(info["ess"]) > 1000
    np.testing.assert_allclose(s.mean(1), y / 2, atol=0.025)  # N(y / 2, 0.05 I), each observation its own
    np.testing.assert_allclose(s.var(1), 0.05, rtol=0.15)
    moons = get_problem("two_moons")
    y = moons.fixed_observations()[1][:2]
    s, _ = batched_posterior(moons, batched(moons), y, 3000, np.random.default_rng(1), burn=500, pilot=500)
    exact, _ = moons.exact_posterior(y, 3000, np.random.default_rng(2))
    assert c2st(s[0], exact[0]) < 0.56 and c2st(s[1], exact[1]) < 0.56


def test_slcp_reference_two_independent_chains_agree_and_modes_are_balanced():
    p = get_problem("slcp")
    y = p.fixed_observations()[1][:1]
    a, prov = api.reference(p, y, n=3000, cache=False)  # SLCP needs the default burn-in (500 steps: R-hat 1.10)
    b, _ = api.reference(p, y, n=3000, cache=False, seed=7)
    assert prov["method"] == "mcmc-emcee" and prov["rhat"][0] < 1.05 and len(prov["ess"]) == 1
    assert c2st(a[0], b[0]) < 0.56
    for k in (2, 3):  # the four mirrored modes carry equal mass
        assert np.mean(a[0][:, k] > 0) == pytest.approx(0.5, abs=0.03)


def test_mcmc_refuses_problems_without_likelihood_and_unconverged_chains():
    with pytest.raises(ValueError, match="no tractable likelihood"):
        api.reference("kinematics", [[1.0, 0.2]], n=100, method="mcmc", cache=False)
    with pytest.raises(ValueError, match="no tractable likelihood"):
        api.train("ballistics", "mcmc", simulations=100, progress=False)
    p = get_problem("slcp")
    with pytest.raises(MCMCError, match="did not converge"):
        mcmc_posterior(p, p.fixed_observations()[1][:1], 500, np.random.default_rng(0), burn=100, pilot=100,
                       init_draws=200, rhat_max=1.0001)


def test_mcmc_baseline_model_answers_per_query():
    m = api.train("gaussian_linear", "mcmc", simulations=200, progress=False, burn=300, pilot=300)
    y = np.full((2, 10), 0.4)
    s = m.sample(y, 2000, seed=0)
    assert s.shape == (2, 2000, 10) and not m.amortized
    np.testing.assert_allclose(s.mean(1), 0.2, atol=0.03)
    assert len(m.last_diagnostics["rhat"]) == 2 and min(m.last_diagnostics["steps"]) > 600
    with pytest.raises(ValueError, match="burn"):
        api.train("gaussian_linear", "mcmc", simulations=200, progress=False, burn=10)


def test_mcmc_baseline_runs_the_problems_own_sampler():
    """A problem's ``likelihood_mcmc`` is what the baseline runs per query (the ODE tasks sample log theta with
    all observations together): its draws come back, with the model's options passed on."""
    from innbench.models import build_model
    from innbench.problems.sbi.ode import SIR

    calls = []

    class OwnSampler(SIR):
        def likelihood_mcmc(self, y, n, rng, **options):
            calls.append((np.asarray(y).shape, n, options))
            draws = np.broadcast_to(np.arange(1.0, 3.0), (len(y), n, 2)).copy()
            return draws, {k: np.ones(len(y)) for k in ("rhat", "ess", "steps", "seconds")}

    m = build_model("mcmc", OwnSampler(), burn=300, pilot=200)
    s = m.sample(np.full((3, 10), 100.0), 50)
    assert s.shape == (3, 50, 2) and np.array_equal(s[2, 7], [1.0, 2.0])
    assert calls == [((3, 10), 50, {"walkers": None, "burn": 300, "pilot": 200, "init_draws": 20000,
                                    "rhat_max": None})]
    assert m.last_diagnostics["rhat"] == [1.0, 1.0, 1.0]


def test_ode_reference_and_baseline_share_one_sampler():
    """SIR's reference is its ``likelihood_mcmc`` with the reference's settings: the same draws, bit for bit."""
    from innbench.problems.sbi.ode import SIR

    p, y = SIR(), sbibm_observations("sir")[1][:2]
    opts = {"burn": 100, "pilot": 100, "init_draws": 2000, "rhat_max": None}
    a, _ = p.exact_posterior(y, 200, np.random.default_rng(5), **opts)
    b, info = p.likelihood_mcmc(y, 200, np.random.default_rng(5), **{**opts, "pilot": 100})
    assert a.shape == (2, 200, 2) and np.array_equal(a, b) and (a > 0).all() and len(info["rhat"]) == 2


def test_a_users_simulator_with_a_likelihood_gets_an_mcmc_reference():
    prob = SimulatorProblem(
        "noisy_mean", x_names=["mu"], y_names=["ybar"], stochastic=True,
        prior=lambda n, rng: rng.normal(size=(n, 1)),
        simulator=lambda x, rng: x + 0.5 * rng.normal(size=x.shape),
        log_prior=lambda x: -0.5 * x[:, 0] ** 2, log_likelihood=lambda x, y: -0.5 * ((y[0] - x[:, 0]) / 0.5) ** 2)
    assert prob.has_likelihood and prob.reference_kind == "MCMC"
    s, prov = api.reference(prob, [[1.0]], n=4000, method="mcmc", cache=False, **FAST)
    # conjugate: mu | y ~ N(y / 1.25, 0.2)
    assert s[0, :, 0].mean() == pytest.approx(0.8, abs=0.03) and s[0, :, 0].var() == pytest.approx(0.2, rel=0.12)
    with pytest.raises(ValueError, match="needs the prior density too"):
        SimulatorProblem("half", x_names=["a"], y_names=["b"], prior=None, simulator=None,
                         log_likelihood=lambda x, y: x[:, 0])
    prior_only = SimulatorProblem("half", x_names=["a"], y_names=["b"], prior=None, simulator=None,
                                  log_prior=lambda x: -x[:, 0] ** 2)
    assert not prior_only.has_likelihood and prior_only.log_prior(np.ones((2, 1))).tolist() == [-1.0, -1.0]


def test_symmetries_must_be_commuting_reflections():
    from innbench.reference.mcmc import _normals

    np.testing.assert_allclose(np.abs(_normals(get_problem("slcp").symmetries, 5)), np.eye(5)[[2, 3]])
    np.testing.assert_allclose(np.abs(_normals(get_problem("two_moons").symmetries, 2)), np.sqrt(0.5))
    with pytest.raises(ValueError, match="expected reflections"):
        _normals([[[0.0, 1.0], [1.0, 0.5]]], 2)
    with pytest.raises(ValueError, match="orthogonal"):
        _normals([np.eye(2) - 2 * np.outer(u, u) for u in (np.array([1.0, 0.0]), np.array([0.6, 0.8]))], 2)


def test_bernoulli_glm_reference_against_importance_sampling():
    """An independent check of the MCMC reference: self-normalised importance sampling from a Student-t
    proposal around the posterior mode (the posterior is log-concave), compared in mean and spread."""
    from scipy.optimize import minimize

    p = get_problem("bernoulli_glm")
    y = p.fixed_observations()[1][0]
    s, prov = api.reference(p, y[None], n=4000, cache=False)
    assert prov["rhat"][0] < 1.02

    def neg(t):
        return -(p.log_prior(t[None]) + p.log_likelihood(t[None], y))[0]

    mode = minimize(neg, np.zeros(10), method="BFGS").x
    cov = np.cov(s[0].T)  # the proposal's shape only; the weights correct it exactly
    rng = np.random.default_rng(3)
    df = 5
    z = rng.standard_normal((200_000, 10)) / np.sqrt(rng.chisquare(df, (200_000, 1)) / df)
    draws = mode + z @ np.linalg.cholesky(cov * 1.5).T
    from scipy.stats import multivariate_t

    logq = multivariate_t(mode, cov * 1.5, df=df).logpdf(draws)
    logw = p.log_prior(draws) + p.log_likelihood(draws, y) - logq
    w = np.exp(logw - logw.max())
    w /= w.sum()
    assert 1 / np.sum(w**2) > 20_000  # a good proposal: the estimate below is precise
    mean_is = w @ draws
    sd_is = np.sqrt(w @ (draws - mean_is) ** 2)
    np.testing.assert_allclose(s[0].mean(0), mean_is, atol=0.06 * sd_is.max())
    np.testing.assert_allclose(s[0].std(0), sd_is, rtol=0.06)


def _noisy_mean(**density):
    """x ~ N(0, 1), y = x + N(0, 0.5^2): conjugate, mu | y ~ N(y / 1.25, 0.2)."""
    return SimulatorProblem(
        "noisy_mean_nle", x_names=["mu"], y_names=["y"], stochastic=True,
        prior=lambda n, rng: rng.normal(size=(n, 1)),
        simulator=lambda x, rng: x + 0.5 * rng.normal(size=x.shape), **density)


def test_neural_likelihood_learns_the_likelihood_and_samples_the_posterior_by_mcmc():
    with pytest.raises(ValueError, match="no prior density"):
        api.train(_noisy_mean(), "nle", simulations=100, progress=False)
    prob = _noisy_mean(log_prior=lambda x: -0.5 * x[:, 0] ** 2)  # the prior density alone: no likelihood
    m = api.train(prob, "nle", simulations=3000, progress=False, hidden=32, transforms=2, burn=200, pilot=200,
                  simulation_budget={"max_epochs": 40})
    assert not m.amortized and m.train_info["epochs"] <= 40
    # the learned likelihood is the simulator's: log q(y | x) - log N(y; x, 0.25) is nearly constant in x
    # where the posterior of y = 0.4 has its mass (N(0.32, 0.45^2); residuals up to 1.6 sd)
    x = np.linspace(-0.4, 1.0, 6)[:, None]
    diff = m.log_likelihood(x, np.array([0.4])) + 0.5 * ((0.4 - x[:, 0]) / 0.5) ** 2
    assert np.ptp(diff) < 0.3
    s = m.sample([[1.0], [-0.5]], 3000, seed=0)
    assert s.shape == (2, 3000, 1)
    np.testing.assert_allclose(s[:, :, 0].mean(1), [0.8, -0.4], atol=0.05)
    np.testing.assert_allclose(s[:, :, 0].var(1), 0.2, rtol=0.15)
    assert len(m.last_diagnostics["rhat"]) == 2 and max(m.last_diagnostics["rhat"]) < 1.05
    with pytest.raises(ValueError, match="deterministic simulator"):
        api.train("kinematics", "nle", simulations=100, progress=False)
    with pytest.raises(ValueError, match="burn"):
        api.train(prob, "nle", simulations=100, progress=False, burn=10)


def test_nle_ensemble_mixes_the_members_likelihoods_under_one_sampler():
    # members=3: three likelihood models; the ensemble's likelihood is their weighted mixture, and its draws come
    # from one MCMC on the prior times that mixture (not from the members' own posteriors in shares)
    from innbench.models import build_model
    from innbench.models.ensemble import PosteriorEnsemble

    small = {"hidden": 16, "transforms": 1, "burn": 60, "pilot": 60, "init_draws": 500, "walkers": 16}
    m = build_model("nle", "two_moons", members=3, **small)
    assert isinstance(m, PosteriorEnsemble) and m.mixes == "likelihood" and len(m.members) == 3
    assert [k.config["seed"] for k in m.members] == [0, 1, 2]
    x = m.problem.sample_prior(50, np.random.default_rng(0))
    y = np.array([0.1, -0.2])
    each = np.stack([k.log_likelihood(x, y) for k in m.members])
    assert np.ptp(each, axis=0).max() > 1e-3  # the members differ (their own initialisations)
    np.testing.assert_allclose(m.log_likelihood(x, y), np.log(np.exp(each).mean(0)), rtol=1e-9, atol=1e-9)
    weighted = PosteriorEnsemble(list(m.members), weights=[2, 1, 1])
    np.testing.assert_allclose(weighted.log_likelihood(x, y), np.log(np.exp(each).T @ [0.5, 0.25, 0.25]),
                               rtol=1e-9, atol=1e-9)
    # an ensemble of one model twice is that model: the same MCMC, draw for draw
    a = m.members[0]
    twice = PosteriorEnsemble([a, a])
    np.testing.assert_allclose(twice.sample([y], 40, seed=5), a.sample([y], 40, seed=5), rtol=1e-12, atol=1e-12)
    assert len(twice.last_diagnostics["rhat"]) == 1
    with pytest.raises(ValueError, match="^ensemble: replaced in innbench 0.3.0 by members=K"):
        build_model("nle", "two_moons", ensemble=3)
