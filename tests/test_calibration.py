"""Calibration checks: SBC ranks, rank-uniformity p-values, expected coverage, C2ST."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import norm

from innbench.calibration import c2st, expected_coverage, rank_histogram_pvalue, sbc_ranks

M, N = 500, 200  # observations x posterior draws
SIGMA = np.array([0.5, 2.0])  # observation noise per dimension


def gaussian_posterior(scale: float = 1.0, seed: int = 0):
    """Conjugate model x ~ N(0, I), y = x + N(0, diag(SIGMA^2)); posterior N(y / (1 + s^2), s^2 / (1 + s^2)).

    Returns ``(samples, x_true)`` with the posterior std multiplied by ``scale`` (1: exact posterior).
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((M, 2))
    y = x + SIGMA * rng.standard_normal((M, 2))
    mu, sd = y / (1 + SIGMA**2), np.sqrt(SIGMA**2 / (1 + SIGMA**2))
    samples = mu[:, None, :] + scale * sd * rng.standard_normal((M, N, 2))
    return samples, x


def coverage_at(ranks, level, L=N):
    return float(expected_coverage(ranks, L, levels=[level])[1][0])


# -- exact and miscalibrated Gaussian posteriors ------------------------------------------------------


def test_exact_gaussian_posterior_is_calibrated():
    samples, x = gaussian_posterior()
    ranks = sbc_ranks(samples, x, rng=1)
    assert ranks.shape == (M, 2) and ranks.dtype == np.int64
    assert ranks.min() >= 0 and ranks.max() <= N
    assert np.all(rank_histogram_pvalue(ranks, N) > 0.001)
    for level in (0.5, 0.9):
        assert abs(coverage_at(ranks, level) - level) < 0.05
    levels, cov = expected_coverage(ranks, N)
    np.testing.assert_allclose(levels, np.linspace(0, 1, 21))
    assert cov[-1] == 1.0 and np.all(np.diff(cov) >= 0)
    assert np.max(np.abs(cov - levels)) < 0.06


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_miscalibrated_coverage_matches_theory(scale):
    # a central interval of level a of N(mu, (k s)^2) covers x ~ N(mu, s^2) with prob 2 Phi(k z_{(1+a)/2}) - 1
    samples, x = gaussian_posterior(scale)
    ranks = sbc_ranks(samples, x)
    expected = 2 * norm.cdf(scale * norm.ppf(0.75)) - 1  # 0.264 (overconfident), 0.823 (underconfident)
    assert abs(coverage_at(ranks, 0.5) - expected) < 0.05
    assert np.all(rank_histogram_pvalue(ranks, N) < 1e-6)


def test_overconfident_u_shape_and_direction():
    over, x = gaussian_posterior(scale=0.5)  # std shrunk by 2: overconfident
    under, _ = gaussian_posterior(scale=2.0)  # std doubled: conservative
    exact, _ = gaussian_posterior(scale=1.0)
    r_over, r_under, r_exact = (sbc_ranks(s, x) for s in (over, under, exact))
    c_over, c_under, c_exact = (coverage_at(r, 0.5) for r in (r_over, r_under, r_exact))
    assert c_over < 0.4 < c_exact < 0.6 < c_under

    # U shape: the outer fifths of the rank range hold far more than 40 % of the ranks, the middle fifth far less
    def outer(r):
        return np.mean((r < N / 5) | (r > 4 * N / 5))

    def middle(r):
        return np.mean(np.abs(r - N / 2) < N / 10)

    assert outer(r_over) > 0.6 and middle(r_over) < 0.12
    assert outer(r_under) < 0.2 and middle(r_under) > 0.3
    assert 0.35 < outer(r_exact) < 0.45
    # the whole coverage curve is below the diagonal for the overconfident sampler, above it for the conservative one
    levels, cov_over = expected_coverage(r_over, N, levels=np.linspace(0.1, 0.9, 9))
    _, cov_under = expected_coverage(r_under, N, levels=levels)
    assert np.all(cov_over < levels - 0.05) and np.all(cov_under > levels + 0.05)


def test_per_dimension_coverage_isolates_the_bad_dimension():
    samples, x = gaussian_posterior()
    samples[:, :, 1] = samples.mean(1)[:, None, 1] + 0.5 * (samples[:, :, 1] - samples.mean(1)[:, None, 1])
    ranks = sbc_ranks(samples, x)
    levels, cov = expected_coverage(ranks, N, levels=[0.5, 0.9], per_dim=True)
    assert cov.shape == (2, 2)
    assert np.all(np.abs(cov[:, 0] - levels) < 0.05)
    assert np.all(cov[:, 1] < levels - 0.15)
    p = rank_histogram_pvalue(ranks, N)
    assert p[0] > 0.001 and p[1] < 1e-6
    np.testing.assert_allclose(expected_coverage(ranks, N, levels=levels)[1], cov.mean(axis=1))


# -- ties: discrete parameters -------------------------------------------------------------------------


def discrete_posterior(seed: int = 0):
    """x uniform on {0..9} (e.g. an integer speed), y = x + N(0, 1); exact posterior by enumeration."""
    rng = np.random.default_rng(seed)
    support = np.arange(10)
    x = rng.integers(0, 10, size=M)
    y = x + rng.standard_normal(M)
    logp = -0.5 * (y[:, None] - support[None, :]) ** 2
    p = np.exp(logp - logp.max(1, keepdims=True))
    cdf = np.cumsum(p / p.sum(1, keepdims=True), axis=1)
    u = rng.random((M, N))
    draws = (u[:, :, None] > cdf[:, None, :-1]).sum(-1)  # inverse-CDF sampling
    return draws[:, :, None].astype(float), x[:, None].astype(float)


def test_ties_broken_uniformly_for_integer_parameter():
    samples, x = discrete_posterior()
    assert np.mean(samples == x[:, None, :]) > 0.2  # many ties
    ranks = sbc_ranks(samples, x, rng=np.random.default_rng(3))
    assert rank_histogram_pvalue(ranks, N)[0] > 0.001
    assert abs(coverage_at(ranks, 0.5) - 0.5) < 0.05
    # counting only draws strictly below (no tie-breaking) is clearly not uniform
    naive = (samples < x[:, None, :]).sum(1)
    assert rank_histogram_pvalue(naive, N)[0] < 1e-6


def test_ranks_deterministic_for_a_seed():
    samples, x = discrete_posterior()
    r1 = sbc_ranks(samples, x, rng=np.random.default_rng(7))
    r2 = sbc_ranks(samples, x, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(sbc_ranks(samples, x), sbc_ranks(samples, x, rng=0))  # default: seed 0
    assert np.any(sbc_ranks(samples, x, rng=8) != r1)  # the seed matters where there are ties
    # without ties the rank is exactly the number of draws below, whatever the seed
    cont, xc = gaussian_posterior()
    np.testing.assert_array_equal(sbc_ranks(cont, xc, rng=1), (cont < xc[:, None, :]).sum(1))


def test_n_rank_and_nan_draws():
    samples = np.array([[[0.0], [1.0], [2.0], [3.0], [np.nan]]])  # (1, 5, 1)
    x = np.array([[2.5]])
    assert sbc_ranks(samples, x)[0, 0] == 3  # NaN counts as above
    assert sbc_ranks(samples, x, n_rank=2)[0, 0] == 2
    assert sbc_ranks(np.full((1, 5, 1), np.nan), x)[0, 0] == 0
    assert sbc_ranks(samples, np.array([[-1.0]]))[0, 0] == 0
    assert sbc_ranks(samples, np.array([[9.0]]))[0, 0] == 4


def test_sbc_ranks_validates_shapes():
    samples = np.zeros((4, 10, 2))
    with pytest.raises(ValueError, match=r"samples must have shape \(m, n, d\)"):
        sbc_ranks(np.zeros((4, 10)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"x_true must have shape \(m, d\) = \(4, 2\)"):
        sbc_ranks(samples, np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x_true"):
        sbc_ranks(samples, np.zeros(4))
    with pytest.raises(ValueError, match="n_rank"):
        sbc_ranks(samples, np.zeros((4, 2)), n_rank=11)
    with pytest.raises(ValueError, match="x_true contains NaN"):
        sbc_ranks(samples, np.full((4, 2), np.nan))


# -- histogram p-value and coverage on constructed ranks ------------------------------------------------


def test_pvalue_exact_for_perfectly_uniform_ranks_with_uneven_bins():
    L = 9  # 10 rank values into 3 bins of 3, 3, 4 values (or 4, 3, 3)
    ranks = np.tile(np.arange(L + 1), 50)[:, None]
    assert rank_histogram_pvalue(ranks, L, bins=3)[0] == pytest.approx(1.0)
    assert rank_histogram_pvalue(ranks, L, bins=50)[0] == pytest.approx(1.0)  # capped at L + 1 bins
    skewed = np.concatenate([ranks, np.zeros((150, 1), dtype=int)])
    assert rank_histogram_pvalue(skewed, L, bins=3)[0] < 1e-3
    with pytest.raises(ValueError, match="0..L"):
        rank_histogram_pvalue(ranks, L - 1)


def test_coverage_of_exactly_uniform_ranks():
    L = 199
    ranks = np.arange(L + 1)[:, None]
    _, cov = expected_coverage(ranks, L, levels=[0.0, 0.25, 0.5, 0.9, 1.0])
    # |2 r - L| <= a (L + 1): ranks 50..149 at a = 0.5, i.e. exactly 100 of 200
    np.testing.assert_allclose(cov, [0.0, 0.25, 0.5, 0.9, 1.0])
    with pytest.raises(ValueError, match="levels"):
        expected_coverage(ranks, L, levels=[1.5])


# -- C2ST -----------------------------------------------------------------------------------------------


def test_c2st_identical_distributions_near_chance():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2))
    # indistinguishable sets train longest (often to max_iter): 300 points per set and 2 folds keep it ~2 s;
    # 600 held-out predictions give a binomial std of 0.02, so 0.06 is a 3-sigma band
    acc = c2st(a, b, seed=0, folds=2, max_points=300)
    assert abs(acc - 0.5) < 0.06


def test_c2st_shifted_distributions():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((500, 1)), rng.standard_normal((500, 1))
    acc = c2st(a + 3.0, b, seed=0, folds=5)
    assert abs(acc - norm.cdf(1.5)) < 0.03  # Bayes-optimal accuracy for a 3-std shift is Phi(1.5) = 0.933
    a2, b2 = rng.standard_normal((300, 2)), rng.standard_normal((300, 2))
    assert c2st(a2 + 3.0, b2, seed=0, folds=3) > 0.95  # 3 std in each of 2 dims: Bayes accuracy 0.983


def test_c2st_drops_nonfinite_rows_and_validates():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((300, 2)) + 2.0, rng.standard_normal((300, 2))
    dirty = a.copy()
    dirty[[3, 50], 0] = np.nan
    dirty[7, 1] = np.inf
    with pytest.warns(RuntimeWarning, match="dropped 3 of 300 rows of a"):
        acc_dirty = c2st(dirty, b, folds=3)
    assert acc_dirty == c2st(np.delete(a, [3, 7, 50], axis=0), b, folds=3)
    assert 0.8 < acc_dirty < 0.95

    with pytest.raises(ValueError, match=r"a must have shape \(n_a, d\)"):
        c2st(a[:, 0], b)
    with pytest.raises(ValueError, match="same number of dimensions"):
        c2st(a, b[:, :1])
    few = np.full((12, 2), np.nan)
    few[:9] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="b has 9 finite rows"):
            c2st(a, few, folds=5)


def test_c2st_standardizes_with_reference_set():
    # the score is invariant to a common affine change of units; unscaled inputs of size 1e4 would break the MLP
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((300, 2)) + [2.0, 0.0], rng.standard_normal((300, 2))
    acc = c2st(a, b, folds=3)
    assert 0.8 < acc < 0.9  # Bayes accuracy Phi(1) = 0.841
    assert abs(c2st(1e4 + 1e3 * a, 1e4 + 1e3 * b, folds=3) - acc) < 0.02


def test_c2st_torch_backend_agrees_with_sklearn_convention():
    # a ring against a Gaussian of the same spread: nonlinear, well separable but not perfectly
    rng = np.random.default_rng(3)
    th = rng.uniform(0, 2 * np.pi, 600)
    ring = np.c_[np.cos(th), np.sin(th)] + 0.1 * rng.standard_normal((600, 2))
    gauss = rng.standard_normal((600, 2)) * ring.std(0)
    fast = c2st(ring, gauss, folds=2)
    slow = c2st(ring, gauss, folds=2, backend="sklearn")
    assert 0.7 < fast < 0.95 and abs(fast - slow) < 0.04
    with pytest.raises(ValueError, match="backend"):
        c2st(ring, gauss, backend="keras")


def test_rank_bins_are_one_rule_for_the_test_and_the_figures():
    """floor((r + 0.5) * bins / (L + 1)) exactly: contiguous, non-decreasing bins of (L + 1) / bins values
    (to one), the same rule rank_histogram_pvalue and the SBC figure use."""
    from innbench.calibration import rank_bins

    b = rank_bins(1000, 20)
    assert len(b) == 1001 and b[0] == 0 and b[-1] == 19 and np.all(np.diff(b) >= 0)
    assert set(np.bincount(b)) <= {50, 51} and np.bincount(b).sum() == 1001
    np.testing.assert_array_equal(b, np.floor((np.arange(1001) + 0.5) * 20 / 1001).astype(int))
