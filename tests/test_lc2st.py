"""L-C2ST (innbench.metrics.lc2st): the local classifier two-sample test on a conjugate Gaussian toy whose posterior
is exact, its null, its input checks, and the registered metric in a model's evaluation (opt-in)."""

import numpy as np
import pytest
import torch

from innbench import api
from innbench.metrics import get_metric
from innbench.metrics.lc2st import LocalC2ST, lc2st

K = 10
P_MIN = 1 / (K + 1)
SMALL = {"null_trials": 3, "hidden": 8, "steps": 50}  # fast settings for the tests that check no statistics


def _toy(seed: int, sd_factor: float, n: int = 1000, m: int = 8, n_samples: int = 1000):
    """theta ~ N(0, I_2), x = theta + N(0, I_2): the posterior is N(x / 2, I / 2); the estimator under test has the
    right mean and ``sd_factor`` times the posterior's standard deviation."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=(n, 2))
    x = theta + rng.normal(size=(n, 2))
    q_theta = x / 2 + sd_factor * rng.normal(size=x.shape) / np.sqrt(2)
    y = rng.normal(size=(m, 2)) + rng.normal(size=(m, 2))  # observations from the prior predictive
    samples = np.stack([yi / 2 + sd_factor * rng.normal(size=(n_samples, 2)) / np.sqrt(2) for yi in y])
    return theta, x, q_theta, y, samples


def test_an_exact_posterior_passes_and_one_twice_too_wide_is_rejected():
    """With 1000 calibration pairs and 10 null classifiers. Over ten seeds of this toy (docs/journal/
    metric_registry.md) the exact posterior's mean p-value was 0.24-0.68 (0-3 of 8 observations at the minimum
    p-value 1/11), the wide one's 0.09-0.25 (5-8 of 8 at the minimum), its median T 2.2-3.5 times the exact
    one's: the thresholds leave a margin beyond each."""
    t_ok, p_ok = lc2st(*_toy(101, 1.0), seed=1, null_trials=K)
    t_bad, p_bad = lc2st(*_toy(102, 2.0), seed=1, null_trials=K)
    assert t_ok.shape == p_ok.shape == (8,)
    assert ((p_ok >= P_MIN - 1e-12) & (p_ok <= 1)).all() and ((t_ok >= 0) & (t_ok <= 0.25)).all()
    assert p_ok.mean() > 0.15 and np.count_nonzero(np.isclose(p_ok, P_MIN)) <= 5
    assert p_bad.mean() < 0.35 and np.count_nonzero(np.isclose(p_bad, P_MIN)) >= 4
    assert np.median(t_bad) > 1.6 * np.median(t_ok)


def test_the_p_value_ranks_the_statistic_among_the_null_classifiers():
    theta, x, q_theta, y, samples = _toy(3, 1.0, n=200, m=3, n_samples=100)
    test = LocalC2ST(theta, x, q_theta, seed=0, **SMALL)
    t, p = test.test(y[0], samples[0])
    t_null = test.null_statistics(y[0], samples[0])
    assert t_null.shape == (SMALL["null_trials"],)
    assert t == test.statistic(y[0], samples[0])
    assert p == (1 + np.count_nonzero(t_null >= t)) / (1 + SMALL["null_trials"])
    prob = test.probabilities(y[1], samples[1])
    assert prob.shape == (100,) and ((prob > 0) & (prob < 1)).all()
    assert test.statistic(y[1], samples[1]) == pytest.approx(np.mean((prob - 0.5) ** 2), rel=1e-6)
    # a sample cap uses a fixed subsample
    capped = LocalC2ST(theta, x, q_theta, seed=0, max_samples=30, **SMALL)
    assert capped.statistic(y[0], samples[0]) == capped.statistic(y[0], samples[0]) != test.statistic(y[0],
                                                                                                       samples[0])


def test_the_null_labels_swap_within_pairs():
    """Under the null the two rows of a pair, (theta_i, x_i) and (q_i, x_i), are exchangeable: each null
    classifier sees every pair once in each class, swapped with probability one half."""
    theta, x, q_theta, *_ = _toy(5, 1.0, n=400, m=1, n_samples=10)
    test = LocalC2ST(theta, x, q_theta, seed=2, **SMALL)
    labels = test._null_labels(0)
    first, second = labels[:400], labels[400:]
    assert set(np.unique(labels)) == {0.0, 1.0} and np.array_equal(first + second, np.ones(400))
    assert 0.4 < first.mean() < 0.6 and not np.array_equal(labels, test._null_labels(1))


def test_same_seed_same_result_and_the_global_random_state_untouched():
    theta, x, q_theta, y, samples = _toy(4, 1.0, n=200, m=3, n_samples=100)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    first = lc2st(theta, x, q_theta, y, samples, seed=7, **SMALL)
    second = lc2st(theta, x, q_theta, y, samples, seed=7, **SMALL)
    assert torch.equal(torch_state, torch.get_rng_state()) and np.array_equal(np_state[1], np.random.get_state()[1])
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], lc2st(theta, x, q_theta, y, samples, seed=8, **SMALL)[0])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"theta": np.zeros(20)}, r"theta must have shape \(N, d\)"),
    ({"x": np.zeros((19, 2))}, r"x must have shape \(N, k\)"),
    ({"q_theta": np.zeros((20, 3))}, r"q_theta must have shape \(N, d\)"),
    ({"theta": np.zeros((5, 2)), "x": np.zeros((5, 2)), "q_theta": np.zeros((5, 2))}, "at least 10"),
    ({"null_trials": 0}, "null_trials must be an integer >= 1"),
    ({"null_trials": 2.5}, "null_trials must be an integer >= 1"),
    ({"seed": -1}, "seed must be an integer >= 0"),
])
def test_bad_calibration_input_is_refused_by_name(kwargs, message):
    rng = np.random.default_rng(0)
    args = {"theta": rng.normal(size=(20, 2)), "x": rng.normal(size=(20, 2)), "q_theta": rng.normal(size=(20, 2)),
            **kwargs}
    with pytest.raises(ValueError, match=message):
        LocalC2ST(**args)


def test_non_finite_rows_are_left_out_and_an_observation_with_nothing_finite_gets_nan():
    theta, x, q_theta, y, samples = _toy(3, 1.0, n=200, m=3, n_samples=100)
    clean = LocalC2ST(theta, x, q_theta, seed=0, **SMALL)
    bad = [np.concatenate([a, np.zeros((3, 2))]) for a in (theta, x, q_theta)]
    bad[0][-3, 0], bad[1][-2, 1], bad[2][-1, 0] = np.nan, np.inf, -np.inf
    dirty = LocalC2ST(*bad, seed=0, **SMALL)
    assert (dirty.n_calibration, dirty.n_dropped) == (200, 3)
    assert dirty.test(y[0], samples[0]) == clean.test(y[0], samples[0])
    holes = samples[0].copy()
    holes[[2, 5], 0] = np.nan
    assert clean.test(y[0], holes) == clean.test(y[0], np.delete(samples[0], [2, 5], axis=0))
    assert all(np.isnan(clean.test(y[0], np.full((4, 2), np.nan))))
    assert all(np.isnan(clean.test(np.array([np.nan, 0.0]), samples[0])))
    with pytest.raises(ValueError, match=r"x0 must have shape \(k,\) = \(2,\)"):
        clean.test(np.zeros(3), samples[0])
    with pytest.raises(ValueError, match=r"samples must have shape \(m, n, d\) = \(3, n, 2\)"):
        lc2st(theta, x, q_theta, y, samples[:2])


def test_the_registered_metric_is_opt_in_and_scores_an_amortized_model():
    """``lc2st`` runs only where named; with its options it scores each observation of a model's evaluation,
    reaches the summary by its declared keys, and a model that is not amortized gets no value (a query per
    calibration pair would be an MCMC run each)."""
    metric = get_metric("lc2st")
    assert not metric.default and metric.cost == "classifier" and metric.needs == {"model", "simulator"}
    model = api.train("linear", "mdn", preset="tiny", seed=0)
    common = {"num_observations": 4, "n_samples": 200, "timing_observations": 0, "noise_floor_observations": 0,
              "c2st_observations": 0}
    plain = api.evaluate(model, **common)
    assert "lc2st" not in plain["per_observation"] and "lc2st_rejected" not in plain["summary"]
    options = {"lc2st_calibration": 300, "lc2st_null": 4}
    res = api.evaluate(model, metrics=["err_post", "lc2st"], metric_options=options, **common)
    t, p = np.asarray(res["per_observation"]["lc2st"]), np.asarray(res["per_observation"]["lc2st_pvalue"])
    assert t.shape == p.shape == (4,) and (t >= 0).all() and np.isin(np.round(p * 5), [1, 2, 3, 4, 5]).all()
    s = res["summary"]
    assert s["lc2st_observations"] == 4 and s["lc2st_mean"] == pytest.approx(t.mean())
    assert s["lc2st_rejected"] == pytest.approx(np.mean(p <= 0.05))
    again = api.evaluate(model, metrics=["lc2st"], metric_options=options, **common)
    assert again["per_observation"]["lc2st"] == res["per_observation"]["lc2st"]  # the seed fixes it
    with pytest.raises(ValueError, match="metric_options: unknown 'lc2st_nul'"):
        api.evaluate(model, metrics=["lc2st"], metric_options={"lc2st_nul": 4}, **common)
    abc = api.train("linear", "rejection_abc", preset="tiny", seed=0)
    res = api.evaluate(abc, metrics=["lc2st"], metric_options=options, **{**common, "n_samples": 50})
    assert res["per_observation"]["lc2st"] == [] and res["summary"]["lc2st_rejected"] is None
