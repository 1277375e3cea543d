"""TARP (Lemos et al. 2023): uniform credibilities for an exact posterior, a clear signal for a wrong one."""

import numpy as np
import pytest
from scipy.stats import kstest

from innbench import api
from innbench.metrics.tarp import tarp_credibility, tarp_ecp


def _gaussian_case(m=400, n=500, seed=0):
    """Truths x ~ N(0, I_3), y = x + N(0, I): the exact posterior is N(y / 2, I / 2)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, 3))
    y = x + rng.normal(size=(m, 3))
    noise = rng.normal(size=(m, n, 3))
    return x, y, noise


def test_an_exact_posterior_gives_uniform_credibilities_and_wrong_ones_do_not():
    x, y, noise = _gaussian_case()
    exact = y[:, None] / 2 + noise * np.sqrt(0.5)
    f = tarp_credibility(exact, x, rng=1)
    assert f.shape == (400,) and ((f > 0) & (f < 1)).all()
    assert kstest(f, "uniform").pvalue > 0.01 and abs(0.5 - f.mean()) < 0.05
    for wrong in (y[:, None] / 2 + noise * 0.3,  # over-confident: too narrow
                  y[:, None] / 2 + noise * 1.5,  # under-confident: too wide
                  y[:, None] / 2 + 0.8 + noise * np.sqrt(0.5)):  # biased
        assert kstest(tarp_credibility(wrong, x, rng=1), "uniform").pvalue < 1e-4
    alphas, ecp = tarp_ecp(f)
    assert alphas[0] == 0 and alphas[-1] == 1 and np.abs(ecp - alphas).max() < 0.1  # near the diagonal


def test_bad_shapes_are_named_and_invalid_samples_count_as_farther():
    x, y, noise = _gaussian_case(m=5, n=20)
    with pytest.raises(ValueError, match="^samples, x_true: expected shapes"):
        tarp_credibility(noise, x[:, :2])
    broken = noise.copy()
    broken[0] = np.nan  # observation 0: no finite sample, so none is closer than the truth
    f = tarp_credibility(broken, x, rng=0)
    assert 0 < f[0] < 1 / 21 and np.isfinite(f).all()


def test_tarp_is_in_the_evaluation_where_the_true_parameters_are_known():
    from innbench.models import build_model

    model = build_model("mdn", "linear", hidden=16, seed=0)
    res = api.evaluate(model, num_observations=30, n_samples=100, timing_observations=0,
                       noise_floor_observations=0, c2st_observations=0, metrics=["tarp"])
    s, per = res["summary"], res["per_observation"]
    assert s["tarp_observations"] == 30 and len(per["tarp_credibility"]) == 30
    f = np.asarray(per["tarp_credibility"])
    assert s["tarp_atc"] == pytest.approx(0.5 - f.mean(), rel=1e-12)
    assert ((f > 0) & (f < 1)).all()
    assert s["tarp_ks_pvalue"] == pytest.approx(kstest(f, "uniform").pvalue, rel=1e-12)
    unknown = api.evaluate(model, [[0.5]], n_samples=50, timing_observations=0, noise_floor_observations=0,
                           c2st_observations=0)["summary"]
    assert unknown["tarp_observations"] == 0 and unknown["tarp_ks_pvalue"] is None
