"""The latent-mixture INN: its density against its sampler, the per-class latent Gaussians after training, the
per-label mode weights on the Gaussian mixture, the continuous-observation extension, save/load."""

import numpy as np
import pytest
import torch

from innbench.models import build_model, load_model
from innbench.problems import get_problem
from innbench.problems.toys import MODE_CENTRES
from innbench.training import fit, get_budget
from tolerance import assert_close_ulps

SMALL = {"blocks": 4, "hidden": 32}


def _train(problem, n_batches=400, **options):
    m = build_model("latent_mixture_inn", problem, **{**SMALL, **options})
    fit(m, get_budget("tiny", n_batches=n_batches, model={}), seed=0, progress=False)
    return m


@pytest.fixture(scope="module")
def some():
    """Trained on the Gaussian mixture whose label 0 covers four modes and label 1 two."""
    return _train("gaussian_modes_some")


def test_density_integrates_to_the_sampler_histogram(some):
    # the change of variables through f, the standardisation and the mixture, against the sampler itself
    p = some.problem
    y = np.eye(p.n_labels)[[0]]
    s = some.sample(y, 200_000, seed=3)[0]
    edges = np.linspace(-3.5, 3.5, 36)
    hist, _, _ = np.histogram2d(s[:, 0], s[:, 1], bins=[edges, edges])
    hist = hist / len(s)
    mid = (edges[:-1] + edges[1:]) / 2
    gx, gy = np.meshgrid(mid, mid, indexing="ij")
    area = (edges[1] - edges[0]) ** 2
    # the density at 3 x 3 points per cell, averaged: the cell's probability to within the curvature
    fine = np.linspace(-1, 1, 3) * (edges[1] - edges[0]) / 3
    dens = np.mean([np.exp(some.log_prob(np.stack([gx.ravel() + a, gy.ravel() + b], 1), y))
                    for a in fine for b in fine], 0).reshape(gx.shape)
    prob = dens * area
    assert 0.97 < prob.sum() <= 1.01  # almost all the mass inside the window, none created
    tv = 0.5 * np.abs(prob - hist).sum()
    assert tv < 0.04, f"total variation between exp(log_prob) and the samples' histogram: {tv:.3f}"


def test_every_mode_gets_its_posterior_weight(some):
    # label 0: four modes of weight 1/4 each; label 1: two of 1/2; labels 2 and 3: one mode each
    p = some.problem
    s = some.sample(np.eye(p.n_labels), 8000, seed=1)
    for label in range(p.n_labels):
        modes = np.flatnonzero(p.label_map == label)
        frac = np.bincount(p.nearest_mode(s[label]), minlength=8) / len(s[label])
        assert frac[modes].sum() > 0.99, f"label {label}: samples in other labels' modes"
        np.testing.assert_allclose(frac[modes], 1 / len(modes), atol=0.04, err_msg=f"label {label}")


def test_one_label_for_all_eight_modes():
    # the `none` map: y says nothing, the posterior is the prior; each mode gets 1/8 and no sample bridges modes
    m = _train("gaussian_modes_none")
    p = m.problem
    s = m.sample(np.ones((1, 1)), 8000, seed=1)[0]
    near = p.nearest_mode(s)
    np.testing.assert_allclose(np.bincount(near, minlength=8) / len(s), 1 / 8, atol=0.03)
    dist = np.linalg.norm(s - MODE_CENTRES[near], axis=1)
    assert np.mean(dist < 0.6) > 0.98  # within 3 standard deviations of its mode


def test_latent_codes_are_organised_by_class(some):
    # after training, f(x) of each class's x lies under that class's latent mixture: p(k | z) picks the
    # class, and the codes' mean and spread match the mixture's
    p = some.problem
    rng = np.random.default_rng(5)
    x, y = p.simulate(4000, rng)
    labels = y.argmax(1)
    with torch.no_grad():
        xs = some.standardize_x(torch.as_tensor(x, dtype=torch.float32))
        z, _ = some.net(xs)
        post = some.class_log_likelihoods(z) + some.log_class_prior
        w = torch.softmax(some.weight_logits, -1)
    assert (post.argmax(1).numpy() == labels).mean() > 0.99
    for k in range(p.n_labels):
        zk = z[torch.as_tensor(labels == k)]
        mix_mean = (w[k, :, None] * some.means[k]).sum(0)
        var = (w[k, :, None] * (torch.exp(2 * some.log_scales[k]) + some.means[k] ** 2)).sum(0) - mix_mean**2
        assert torch.allclose(zk.mean(0), mix_mean, atol=0.1), k
        np.testing.assert_allclose(zk.std(0).numpy(), var.sqrt().detach().numpy(), rtol=0.15, err_msg=str(k))
    # the training set's label frequencies are the mixture's class prior: 1/2, 1/4, 1/8, 1/8
    np.testing.assert_allclose(torch.exp(some.log_class_prior).numpy(), [0.5, 0.25, 0.125, 0.125], atol=0.02)


def test_save_and_load_keep_samples_and_density(some, tmp_path):
    y = np.eye(some.problem.n_labels)[[1, 3]]
    s = some.sample(y, 50, seed=2)
    some.save(tmp_path / "m")
    back = load_model(tmp_path / "m")
    np.testing.assert_array_equal(back.sample(y, 50, seed=2), s)
    want = some.log_prob(s[0], y[:1])
    assert_close_ulps(back.log_prob(s[0], y[:1]), want, ulps=10, what="log_prob after loading")


def test_continuous_observations_move_the_latent_gaussian():
    # kinematics: the head reads y; different targets give different posteriors whose arms reach them
    m = _train("kinematics", n_batches=300)
    p = m.problem
    y = np.array([[1.5, 0.0], [0.5, 0.8]])
    s = m.sample(y, 2000, seed=0)
    ends = np.stack([p.forward(s[i]) for i in range(2)])
    err = np.linalg.norm(ends - y[:, None], axis=-1).mean(1)
    prior_ends = p.forward(p.sample_prior(2000, np.random.default_rng(1)))
    prior_err = np.linalg.norm(prior_ends[None] - y[:, None], axis=-1).mean(1)
    assert (err < 0.6 * prior_err).all(), (err, prior_err)  # a short run: nearer the target than the prior
    assert np.abs(s[0].mean(0) - s[1].mean(0)).max() > 0.2
    lp = m.log_prob(s[0][:100], y[:1])
    assert lp.shape == (100,) and np.isfinite(lp).all()


def test_options_are_checked():
    with pytest.raises(ValueError, match="beta: the information-bottleneck weighting needs class observations"):
        build_model("latent_mixture_inn", "kinematics", beta=2.0)
    with pytest.raises(ValueError, match="covariance: expected 'diag' or 'full'"):
        build_model("latent_mixture_inn", "gaussian_modes", covariance="dense")
    with pytest.raises(ValueError, match="components"):
        build_model("latent_mixture_inn", "gaussian_modes", components=0)
    m = build_model("latent_mixture_inn", "gaussian_modes", covariance="full", **SMALL)
    assert m.off_diag.shape == (8, 8, 1) and get_problem("gaussian_modes").observation_classes == 8
