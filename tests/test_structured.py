"""Observations that are sets or series: the set problem's posterior, the observation layouts, the summary
networks, and one training path for every shape."""

import json

import numpy as np
import pytest
import torch
from scipy import stats

from innbench import api
from innbench.calibration import c2st
from innbench.metrics import err_resim
from innbench.models import ModelLoadError, get_model_class, load_model
from innbench.models.summary import SeriesSummary, SetSummary
from innbench.problems import ObservationError, SimulatorProblem, get_problem
from innbench.reference.mcmc import mcmc_posterior
from tolerance import assert_close_ulps, magnitude

SET = get_problem("gaussian_set")


def _one_set(n, seed=0):
    x, _ = SET.simulate(1, np.random.default_rng(seed))
    return x[0], SET.resimulate(x, SET.pad_observations([np.zeros((n, 2))]), np.random.default_rng(seed + 1))


def test_set_posterior_density_is_the_normal_inverse_wishart_by_hand():
    """log_prior + log_likelihood differ from scipy's NIW posterior density (times the Jacobian of the
    parameterisation) by one constant, at any parameter point."""
    _, y = _one_set(12)
    mu_n, kappa, nu, psi = SET.posterior_parameters(y[0])
    assert kappa == 13 and nu == 17
    x = SET.sample_prior(6, np.random.default_rng(3))
    mu, chol = SET.from_params(x)
    sigma = chol @ np.swapaxes(chol, 1, 2)
    by_hand = np.array([stats.invwishart(df=nu, scale=psi).logpdf(s) + stats.multivariate_normal(mu_n, s / kappa)
                        .logpdf(m) for m, s in zip(mu, sigma, strict=True)]) + np.log(4) + 3 * x[:, 2] + 2 * x[:, 4]
    ours = SET.log_prior(x) + SET.log_likelihood(x, y[0])
    diff = ours - by_hand
    np.testing.assert_allclose(diff, diff[0], atol=1e-8)


def test_set_exact_posterior_matches_mcmc_and_narrows_with_the_set_size():
    x_true, y5 = _one_set(5, seed=4)
    y100 = SET.resimulate(x_true[None], SET.pad_observations([np.zeros((100, 2))]), np.random.default_rng(9))
    exact, info = SET.exact_posterior(y5, 3000, np.random.default_rng(0))
    assert info["method"].startswith("exact") and exact.shape == (1, 3000, 5)
    mc, _ = mcmc_posterior(SET, y5, 3000, np.random.default_rng(1), burn=500, pilot=500, init_draws=20_000)
    assert c2st(mc[0], exact[0]) < 0.56  # the independent check: MCMC on the likelihood agrees
    wide = exact[0].std(0)
    narrow = SET.exact_posterior(y100, 3000, np.random.default_rng(2))[0][0].std(0)
    assert (narrow < 0.6 * wide).all()


def test_sets_in_every_layout_are_padded_and_bad_ones_are_refused():
    a, b = np.ones((7, 2)), np.arange(40.0).reshape(20, 2)
    flat = SET.validate_observations([a, b])
    assert flat.shape == (2, 200) and SET.observation_lengths(flat).tolist() == [7, 20]
    np.testing.assert_array_equal(flat[1, :40], b.ravel())
    assert np.isnan(flat[0, 14:]).all()
    np.testing.assert_array_equal(SET.validate_observations(a), flat[:1])  # one set as (n, 2)
    np.testing.assert_array_equal(SET.validate_observations(np.stack([a, a + 1])), np.stack([flat[0], flat[0] + 1]))
    with pytest.raises(ObservationError, match="5-100 complete items"):
        SET.validate_observations(np.ones((3, 2)))  # fewer than the 5 items the problem produces
    gap = flat[1].copy()
    gap[4] = np.nan  # a missing value inside the set, not trailing padding
    with pytest.raises(ObservationError, match=r"rows \[0\]"):
        SET.validate_observations(gap[None])
    with pytest.raises(ObservationError, match="up to 100 items of 2 values"):
        SET.validate_observations(np.ones((2, 101, 2)))
    with pytest.raises(ObservationError, match="item 0"):
        SET.validate_observations([np.ones((101, 2)), a])


def test_set_summary_ignores_item_order_and_series_summary_ignores_padding_and_batch_mates():
    torch.manual_seed(0)
    net = SetSummary(100, 2, 6, hidden=16)
    items = torch.randn(1, 100, 2)
    items[:, 30:] = float("nan")
    perm = torch.cat([torch.randperm(30), torch.arange(30, 100)])
    torch.testing.assert_close(net(items[:, perm]), net(items))
    assert not torch.allclose(net(items), net(items[:, torch.arange(100) != 3].nan_to_num(0.0)[:, :100]))

    series = SeriesSummary(50, 2, 6, hidden=16)
    short, long = torch.randn(1, 50, 2), torch.randn(1, 50, 2)
    short[:, 12:] = float("nan")
    alone = series(short)
    together = series(torch.cat([long, short]))
    torch.testing.assert_close(together[1:], alone)
    assert not torch.allclose(together[:1], alone)


def test_set_summary_moments_are_the_items_mean_and_covariance_and_models_saved_without_them_load(tmp_path):
    torch.manual_seed(0)
    net = SetSummary(100, 2, 6, hidden=16, moments=True)
    assert not SetSummary(100, 2, 6, hidden=16, moments=False).moments
    seen = {}
    net.rho.register_forward_hook(lambda mod, inp, out: seen.update(inp=inp[0]))
    items = torch.randn(2, 100, 2)
    items[0, 7:] = float("nan")
    net(items)
    for row, n in ((0, 7), (1, 100)):
        present = items[row, :n].double().numpy()
        moments = seen["inp"][row, -5:].detach().double().numpy()  # mean (2), covariance (11, 21, 22)
        # float32 sums over at most 100 items: rounding of a few hundred ulps of the items' magnitude
        scale = magnitude(present) ** 2
        assert_close_ulps(moments[:2], present.mean(0), ulps=300, scale=scale, what="mean")
        cov = np.cov(present.T, bias=True)
        assert_close_ulps(moments[2:], [cov[0, 0], cov[1, 0], cov[1, 1]], ulps=300, scale=scale, what="covariance")
    perm = torch.cat([torch.randperm(7), torch.arange(7, 100)])
    torch.testing.assert_close(net(items[:1, perm]), net(items[:1]))

    # a model directory written before the option existed holds a summary without moments: it still loads
    m = api.train("gaussian_set", "mdn", simulations=200, progress=False, summary_moments=False, hidden=16,
                  summary_hidden=8, simulation_budget={"max_epochs": 2})
    m.save(tmp_path / "old")
    cfg_file = tmp_path / "old" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    del cfg["config"]["summary_moments"]
    cfg_file.write_text(json.dumps(cfg))
    old = load_model(tmp_path / "old")
    assert old.config["summary_moments"] is False and not old.summary_net.moments
    _, y = SET.simulate(3, np.random.default_rng(0))
    np.testing.assert_array_equal(old.sample(y, 20, seed=1), m.sample(y, 20, seed=1))
    assert api.train("gaussian_set", "mdn", simulations=200, progress=False, hidden=16, summary_hidden=8,
                     simulation_budget={"max_epochs": 1}).summary_net.moments


def test_training_on_sets_samples_saves_and_loads_and_the_posterior_narrows_with_n(tmp_path):
    """One trained network for every set size: its posterior is narrower for 100 items than for 5."""
    m = api.train("gaussian_set", "mdn", simulations=2000, progress=False, simulation_budget={"max_epochs": 120})
    assert type(m.summary_net).__name__ == "SetSummary" and m.config["summary"] == "auto"
    assert m.train_info["best_epoch"] > 30
    x_true, _ = _one_set(5, seed=7)
    y5 = SET.resimulate(x_true[None], SET.pad_observations([np.zeros((5, 2))]), np.random.default_rng(1))
    y100 = SET.resimulate(x_true[None], SET.pad_observations([np.zeros((100, 2))]), np.random.default_rng(1))
    y = np.concatenate([y5, y100])
    s = m.sample(y, 2000, seed=3)
    assert s.shape == (2, 2000, 5) and np.isfinite(s).all()
    assert s[1, :, :2].std(0).mean() < 0.7 * s[0, :, :2].std(0).mean()
    ragged = [y5[0, :10].reshape(5, 2), y100[0].reshape(100, 2)]
    np.testing.assert_array_equal(m.sample(ragged, 50, seed=3), m.sample(y, 50, seed=3))
    dist, _, invalid = err_resim(SET, s[:, :100], y, rng=np.random.default_rng(0))
    assert np.isfinite(dist).all() and (invalid == 0).all()
    m.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").sample(y, 20, seed=1), m.sample(y, 20, seed=1))


class TinySetNet(torch.nn.Module):
    """A user's own summary: mean and standard deviation of the items present."""

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(4))

    def forward(self, y):
        mask = torch.isfinite(y).all(-1, keepdim=True)
        v = torch.where(mask, y, torch.zeros_like(y))
        n = mask.sum(1).clamp(min=1)
        mean = v.sum(1) / n
        var = ((v - mean[:, None]) ** 2 * mask).sum(1) / n
        return self.scale * torch.cat([mean, var.sqrt()], -1)


def test_a_users_summary_network_trains_saves_and_must_be_given_again_to_load(tmp_path):
    m = api.train("gaussian_set", "mdn", simulations=300, progress=False, summary=TinySetNet(), hidden=16,
                  simulation_budget={"max_epochs": 3})
    assert m.config["summary"] == "custom:TinySetNet" and m.cond_dim == 4
    assert not torch.equal(m.summary_net.scale, torch.ones(4))  # trained end to end
    y = SET.validate_observations([np.ones((8, 2))])
    m.save(tmp_path / "m")
    with pytest.raises(ModelLoadError, match="custom summary network"):
        load_model(tmp_path / "m")
    again = load_model(tmp_path / "m", summary=TinySetNet())
    np.testing.assert_array_equal(again.sample(y, 30, seed=2), m.sample(y, 30, seed=2))
    get_model_class("mdn")("two_moons", hidden=8).save(tmp_path / "b")
    with pytest.raises(ModelLoadError, match="built-in summary"):
        load_model(tmp_path / "b", summary=TinySetNet())


def test_models_that_cannot_read_sets_say_so():
    with pytest.raises(ValueError, match="cannot read the set observations"):
        get_model_class("inn")("gaussian_set")
    with pytest.raises(ValueError, match="varying length"):
        get_model_class("rejection_abc")("gaussian_set")
    with pytest.raises(ValueError, match="varying length"):
        get_model_class("nsf")("gaussian_set", summary="none")
    with pytest.raises(ValueError, match="reads series observations"):
        get_model_class("nsf")("gaussian_set", summary="series")


def test_a_users_series_simulator_trains_through_a_summary_network():
    """A fixed-length series from a user's simulator (a noisy line): slope and intercept recovered through
    the MLP summary; the convolutional-recurrent summary trains on it too (its loss falls)."""
    t = np.linspace(0, 1, 30)

    class Line(SimulatorProblem):
        observation_kind, observation_shape = "series", (30, 1)

    line = Line("line_series", x_names=["slope", "intercept"], y_names=[f"y{i}" for i in range(30)],
                prior=lambda n, rng: rng.normal(size=(n, 2)),
                simulator=lambda x, rng: x[:, :1] * t + x[:, 1:] + 0.1 * rng.normal(size=(len(x), 30)),
                stochastic=True)
    x, y = line.simulate(4, np.random.default_rng(5))
    m = api.train(line, "mdn", simulations=2000, progress=False, hidden=32, summary="mlp",
                  simulation_budget={"max_epochs": 40})
    s = m.sample(y.reshape(4, 30, 1), 1000, seed=0)
    assert np.abs(s.mean(1) - x).max() < 0.3  # posterior sd about 0.07 and 0.04; prior sd 1
    m = api.train(line, "mdn", simulations=1000, progress=False, hidden=32, summary_hidden=16,
                  simulation_budget={"max_epochs": 8})
    assert type(m.summary_net).__name__ == "SeriesSummary"
    curve = [v for _, v in m.train_info["validation_curve"]]
    assert min(curve[4:]) < curve[0] - 0.3
    assert m.sample(y[:2], 10).shape == (2, 10, 2)
