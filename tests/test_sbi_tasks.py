"""The sbibm tasks with closed-form posteriors: simulators against hand-computed draws, references
against the closed form and against an independent importance-sampling check."""

import numpy as np
import pytest

from innbench import api
from innbench.problems import ObservationError, get_problem


def test_gaussian_linear_simulator_and_posterior():
    p = get_problem("gaussian_linear")
    assert (p.x_dim, p.y_dim) == (10, 10)
    theta = np.arange(20, dtype=float).reshape(2, 10) / 100
    y = p.forward(theta, np.random.default_rng(5))
    np.testing.assert_allclose(y, theta + np.sqrt(0.1) * np.random.default_rng(5).standard_normal((2, 10)))
    x, _ = p.simulate(200_000, np.random.default_rng(0))
    assert np.var(x, 0) == pytest.approx(np.full(10, 0.1), rel=0.02)
    y_star = np.linspace(-0.5, 0.5, 10)[None]
    s, prov = api.reference(p, y_star, n=50_000, cache=False)
    assert prov["method"] == "exact-closed-form"
    np.testing.assert_allclose(s[0].mean(0), y_star[0] / 2, atol=0.005)  # N(y / 2, 0.05 I)
    np.testing.assert_allclose(s[0].var(0), 0.05, rtol=0.03)
    with pytest.raises(ObservationError, match="out of reach"):
        p.validate_observations(np.full((1, 10), 6.0))


def test_gaussian_mixture_simulator_and_posterior():
    p = get_problem("gaussian_mixture")
    theta = np.array([[1.0, -2.0], [0.0, 3.0], [5.0, 5.0]])
    y = p.forward(theta, np.random.default_rng(8))
    r = np.random.default_rng(8)
    scale = np.where(r.uniform(size=(3, 1)) < 0.5, 1.0, 0.1)
    np.testing.assert_allclose(y, theta + scale * r.standard_normal((3, 2)))
    # the exact sampler against self-normalised importance weights of 1,000,000 prior draws
    y_star = np.array([[0.5, -1.0], [9.8, 0.0]])
    s, prov = api.reference(p, y_star, n=40_000, cache=False)
    th = p.sample_prior(1_000_000, np.random.default_rng(1))
    for i, yi in enumerate(y_star):
        d2 = ((th - yi) ** 2).sum(1)
        w = np.exp(-0.5 * d2) + np.exp(-0.5 * d2 / 0.01) / 0.01
        w /= w.sum()
        np.testing.assert_allclose(s[i].mean(0), (w[:, None] * th).sum(0), atol=0.02)
        narrow_is = w[d2 < 0.3**2].sum()  # mass within 3 narrow standard deviations
        narrow_exact = np.mean(((s[i] - yi) ** 2).sum(1) < 0.3**2)
        assert narrow_exact == pytest.approx(narrow_is, abs=0.02)
    assert prov["component_weights"][0] == pytest.approx([0.5, 0.5], abs=1e-9)  # far from the walls
    assert prov["component_weights"][1][1] > 0.6  # the broad mode loses mass outside the box at 9.8
    assert (np.abs(s) <= 10).all()
