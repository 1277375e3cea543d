"""MDN (Eq. 9), conditional VAE (Eq. 8), autoencoder (Eq. 7): training, sampling, save/load, MDN maths."""

import math

import numpy as np
import pytest
import torch

from innbench import api
from innbench.models import build_model, load_model
from innbench.training import fit, get_budget
from tolerance import EPS32, EPS64, assert_close_ulps, magnitude

SMALL = {"hidden": 32, "layers": 3}


@pytest.fixture(scope="module")
def trained():
    out = {}
    for name in ("mdn", "cvae", "autoencoder"):
        for problem in ("kinematics", "ballistics"):
            m = build_model(name, problem, **SMALL)
            out[name, problem] = (m, fit(m, get_budget("tiny"), seed=0, progress=False))
    return out


@pytest.mark.parametrize("name", ["mdn", "cvae", "autoencoder"])
@pytest.mark.parametrize("problem", ["kinematics", "ballistics"])
def test_training_lowers_loss_and_sampling_works(trained, name, problem, tmp_path):
    m, info = trained[name, problem]
    hist = info["loss_history"]
    assert hist[-1][1] < hist[0][1] - 0.3
    _, y = m.problem.simulate(3, np.random.default_rng(0))
    s = m.sample(y, 40, seed=2)
    assert s.shape == (3, 40, 4) and np.isfinite(s).all()
    np.testing.assert_array_equal(s, m.sample(y, 40, seed=2))
    m.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").sample(y, 40, seed=2), s)


def test_mdn_density_matches_a_hand_computed_mixture():
    m = build_model("mdn", "linear", components=2, **SMALL)
    d = 2
    with torch.no_grad():
        c = torch.zeros(1, m.cond_dim)
        log_pi, mu, L, half_logdet = m._params(c)
        x = torch.tensor([[0.3, -0.2]])
        got = m.log_prob_standardized(x, c).item()
        want = 0.0
        for k in range(2):
            prec = L[0, k] @ L[0, k].T
            cov = torch.linalg.inv(prec)
            dist = torch.distributions.MultivariateNormal(mu[0, k], covariance_matrix=cov)
            want += math.exp(log_pi[0, k].item() + dist.log_prob(x[0]).item())
    assert got == pytest.approx(math.log(want), rel=1e-5)
    assert half_logdet.shape == (1, 2) and d == 2


def test_mdn_samples_follow_the_predicted_covariance():
    torch.manual_seed(0)
    m = build_model("mdn", "linear", components=1, **SMALL)
    with torch.no_grad():
        m.net[-1].weight.normal_(std=0.3)  # a non-trivial precision matrix
        c = torch.zeros(1, m.cond_dim)
        _, mu, L, _ = m._params(c)
        cov = torch.linalg.inv(L[0, 0] @ L[0, 0].T)
        s = m.sample_standardized(c, 200_000, torch.Generator().manual_seed(1))[0]
    np.testing.assert_allclose(s.mean(0).numpy(), mu[0, 0].numpy(), atol=0.02)
    np.testing.assert_allclose(torch.cov(s.T).numpy(), cov.numpy(), atol=0.03 * float(cov.abs().max()))


def test_presets_only_pass_options_a_model_has(tmp_path):
    from innbench.api import train

    m = train("linear", "cvae", preset="tiny", progress=False)  # the tiny preset sets coupling "blocks"
    assert m.config["kl_weight"] == 0.05 and "blocks" not in m.config


@pytest.mark.parametrize("name", ["cvae", "autoencoder"])
def test_latent_size_keeps_all_information(name):
    assert build_model(name, "kinematics", **SMALL).dim_z() == 2  # the paper's dim(z) for kinematics
    assert build_model(name, "ballistics", **SMALL).dim_z() == 3
    assert build_model(name, "gaussian_modes", **SMALL).dim_z() == 2  # y (8-D one-hot) is wider than x


def test_training_mmd_loss_is_zero_for_equal_batches_and_grows_with_a_shift():
    from innbench.models.losses import mmd_loss

    a = torch.randn(256, 3, generator=torch.Generator().manual_seed(0))
    # exactly zero up to float32 rounding of the kernel sums (each term at most k(0), a few units)
    assert mmd_loss(a, a).item() == pytest.approx(0.0, abs=1000 * EPS32)
    assert mmd_loss(a, a + 1.0).item() > 10 * mmd_loss(a, torch.randn(256, 3)).item()


def test_observation_weighted_mmd_compares_conditionals_not_only_marginals():
    """INN+MMD's ``backward_y_width``: two batches with the same marginal but conditionals that disagree
    (x = y against x = -y for symmetric y) look alike to the plain MMD and differ under the y-weighted one;
    unit weights give the plain MMD back."""
    from innbench.models.losses import BACKWARD_MMD_KERNELS, mmd_loss, observation_weights

    g = torch.Generator().manual_seed(1)
    y = torch.randn(512, 1, generator=g)
    a = torch.cat([y, 0.1 * torch.randn(512, 1, generator=g)], -1)
    b = torch.cat([-y, 0.1 * torch.randn(512, 1, generator=g)], -1)
    same = torch.cat([y, 0.1 * torch.randn(512, 1, generator=g)], -1)
    plain = mmd_loss(a, b, BACKWARD_MMD_KERNELS).item()
    w = observation_weights(y, 0.2)
    assert w.shape == (512, 512) and torch.allclose(w.diagonal(), torch.ones(512))
    weighted = mmd_loss(a, b, BACKWARD_MMD_KERNELS, weights=w).item()
    weighted_same = mmd_loss(a, same, BACKWARD_MMD_KERNELS, weights=w).item()
    assert weighted > 5 * plain and weighted > 5 * weighted_same
    ones = torch.ones(512, 512)
    # a difference of kernel sums of a few units in float32: rounding relative to those, not to the result
    assert mmd_loss(a, b, BACKWARD_MMD_KERNELS, weights=ones).item() == pytest.approx(plain, rel=1e-5, abs=1000 * EPS32)


@pytest.mark.parametrize("kernels", ["FORWARD_MMD_KERNELS", "BACKWARD_MMD_KERNELS"])
def test_training_mmd_loss_value_and_gradient_match_the_kernel_formula(kernels):
    """The special-cased powers (square, square root, exp-log) give the kernel's value and gradient."""
    from innbench.models import losses

    ks = getattr(losses, kernels)
    g = torch.Generator().manual_seed(3)
    a = torch.randn(64, 3, generator=g, dtype=torch.float64, requires_grad=True)
    b = (torch.randn(64, 3, generator=g, dtype=torch.float64) * 1.2 + 0.3)

    def direct(p, q):
        d2 = ((p[:, None, :] - q[None, :, :]) ** 2).sum(-1)
        return sum(((al * c) / (c + d2)) ** al for c, al in ks).mean()

    want = direct(a, a) + direct(b, b) - 2 * direct(a, b)
    (ga,) = torch.autograd.grad(want, a)
    got = losses.mmd_loss(a, b, ks)
    (gg,) = torch.autograd.grad(got, a)
    assert got.item() == pytest.approx(want.item(), rel=1e-9)
    # float64 gradients of sums of 64 x 64 kernel terms: rounding relative to the largest gradient
    assert_close_ulps(gg, ga, ulps=1e5, eps=EPS64, scale=float(ga.abs().max()), what="gradient")


@pytest.mark.parametrize("model", ["cinn", "inn", "inn_mmd"])
def test_coupling_models_take_an_activation_and_stay_invertible(model):
    m = build_model(model, "kinematics", blocks=2, hidden=16, activation="relu")
    acts = {type(mod).__name__ for mod in m.modules() if isinstance(mod, (torch.nn.ReLU, torch.nn.SiLU))}
    assert acts == {"ReLU"}
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
        x = torch.randn(32, m.net.blocks[0].d1 + m.net.blocks[0].d2)
        c = torch.randn(32, m.cond_dim) if model == "cinn" else None
        out, _ = m.net(x, c)
        back, _ = m.net(out, c, rev=True)
    # float32 through 2 coupling blocks and back: rounding relative to the largest value carried
    assert_close_ulps(back, x, ulps=200, scale=magnitude(x, out), what="round trip")
    with pytest.raises(ValueError, match="activation: unknown name 'swish'"):
        build_model(model, "kinematics", blocks=2, hidden=16, activation="swish")


@pytest.mark.parametrize("name", ["autoencoder", "invauto"])
def test_autoencoders_decode_the_true_observation_in_training(name):
    """decode_from='y' (default): the reconstruction decodes [y + noise, z + noise, noise], the input the
    decoder gets at sampling time ([y*, z']); 'y_hat' decodes the encoder's own output (Eq. 7 as printed)."""
    from innbench.models.losses import autoencoder_loss

    torch.manual_seed(0)
    x, y = torch.randn(4096, 4), torch.randn(4096, 2)
    enc = torch.cat([y + 0.3 * torch.randn_like(y), torch.randn(4096, 2), 0.2 * torch.randn(4096, 3)], -1)
    seen = {}

    def decode(h):
        seen["h"] = h
        return h[:, :4]

    autoencoder_loss(x, y, enc, decode, 2, 50.0, 1.0, "y", 0.05)
    h = seen["h"]
    assert (h[:, :2] - y).std().item() == pytest.approx(0.05, rel=0.05)  # true y, not y_hat (0.3 off)
    assert (h[:, 2:4] - enc[:, 2:4]).std().item() == pytest.approx(0.05, rel=0.05)
    assert h[:, 4:].std().item() == pytest.approx(0.05, rel=0.05)  # the rest: noise around 0
    autoencoder_loss(x, y, enc, decode, 2, 50.0, 1.0, "y_hat", 0.05)
    assert torch.equal(seen["h"], enc)
    with pytest.raises(ValueError, match="decode_from"):
        autoencoder_loss(x, y, enc, decode, 2, 50.0, 1.0, "z", 0.05)
    m = build_model(name, "kinematics", **({"hidden": 16} if name == "autoencoder" else {"hidden": 8}))
    assert m.config["decode_from"] == "y"


def test_bounded_parameters_are_learned_on_the_real_line_and_sampled_inside_the_box(tmp_path):
    """two_moons has a uniform prior on [-1, 1]^2: with the default logit transform every sample lies in
    the box; with bounded_transform=None a model trained the same way puts mass outside it."""
    import json

    from innbench.problems import get_problem

    p = get_problem("two_moons")
    x, y = p.simulate(20_000, np.random.default_rng(0))
    _, y_obs = p.simulate(4, np.random.default_rng(1))
    outside = {}
    for opt in ("logit", None):
        m = build_model("cinn", p, blocks=2, hidden=16, bounded_transform=opt)
        fit(m, get_budget("tiny", n_batches=100), seed=0, data=(x, y), progress=False)
        s = m.sample(y_obs, 2000, seed=0)
        outside[opt] = float((np.abs(s) > 1).any(-1).mean())
    assert outside["logit"] == 0.0 and outside[None] > 0.01
    xt = torch.as_tensor(x[:100], dtype=torch.float32)
    assert torch.allclose(m.from_unbounded(m.to_unbounded(xt)), xt, atol=1e-5)  # identity with None
    m1 = build_model("cinn", p, blocks=2, hidden=16)
    assert torch.allclose(m1.from_unbounded(m1.to_unbounded(xt)), xt, atol=1e-5)
    assert not torch.allclose(m1.to_unbounded(xt), xt)
    # kinematics has no two-sided bounds: nothing changes there
    mk = build_model("cinn", "kinematics", blocks=2, hidden=16)
    v = torch.randn(5, 4)
    assert torch.equal(mk.to_unbounded(v), v)
    with pytest.raises(ValueError, match="bounded_transform"):
        build_model("cinn", p, bounded_transform="tanh")
    # a model directory written before the option existed loads without the transform
    m1.save(tmp_path / "old")
    cfg = json.loads((tmp_path / "old" / "config.json").read_text())
    del cfg["config"]["bounded_transform"]
    (tmp_path / "old" / "config.json").write_text(json.dumps(cfg))
    assert load_model(tmp_path / "old").config["bounded_transform"] is None


def test_noise_conditioned_cinn_samples_as_thin_a_posterior_as_asked(tmp_path):
    """With noise_conditioned the cINN learns p(x | y + sigma e, sigma) for sigma in [y_noise_min, y_noise]
    and samples at y_noise_sample: on the linear toy (y = x1 + x2, exact) the re-simulation error must
    grow with the sampling noise level, and the level must survive save/load."""
    from innbench.metrics import err_resim
    from innbench.problems import get_problem

    p = get_problem("linear")
    m = build_model("cinn", p, blocks=4, hidden=32, noise_conditioned=True, y_noise=0.3, y_noise_min=0.01)
    assert m.cond_dim == p.y_dim + 1  # the network reads the noise level too
    assert m.net.blocks[0].net2[0].in_features == m.net.blocks[0].d1 + m.cond_dim
    fit(m, get_budget("tiny", n_batches=400, n_train=20_000), seed=0, progress=False)
    _, y_obs = p.simulate(8, np.random.default_rng(3))
    resim = {}
    for level in (0.01, 0.3):
        m.configure(y_noise_sample=level)
        dist, _, _ = err_resim(p, m.sample(y_obs, 1000, seed=0), y_obs)
        resim[level] = float(np.nanmean(dist))
    # sigma 0.3 in standardised units is about 0.3 * 1.41 * 0.8 = 0.34 in y
    assert 0.2 < resim[0.3] < 0.5 and resim[0.01] < 0.5 * resim[0.3]
    m.save(tmp_path / "nc")
    again = load_model(tmp_path / "nc")
    assert again.config["y_noise_sample"] == 0.3
    np.testing.assert_allclose(again.sample(y_obs, 50, seed=1), m.sample(y_obs, 50, seed=1), atol=1e-5)
    with pytest.raises(ValueError, match="y_noise_min"):
        build_model("cinn", p, noise_conditioned=True, y_noise=0.01, y_noise_min=0.02)
    with pytest.raises(ValueError, match="y_noise_sample"):
        build_model("cinn", p, noise_conditioned=True, y_noise_sample=0.5)


@pytest.mark.parametrize("name, options", [("cinn", {}), ("maf", {"sampler": "flow"}), ("iaf", {}), ("nsf", {}),
                                           ("mdn", {})])
def test_log_prob_is_the_density_of_the_sampler(name, options):
    """For every density model, exp(log_prob(x | y)) integrates to one over the prior box of two_moons
    and gives each region the mass the sampler puts there (change of variables through the
    standardisation and the logit transform of the bounded parameters included). The MAF is sampled
    through its exact inverse here: its default decoder only approximates the flow whose density it has."""
    from innbench.problems import get_problem

    p = get_problem("two_moons")
    x, y = p.simulate(20_000, np.random.default_rng(0))
    m = build_model(name, p, hidden=32, **options)
    assert m.has_density
    fit(m, get_budget("tiny", n_batches=150), seed=0, data=(x, y), progress=False)
    y_obs = np.array([[0.1, 0.2]])
    post = api.posterior(m, y_obs[0])  # the public posterior interface, default observation set
    g = np.linspace(-1, 1, 401)[1:] - 1 / 400  # cell centres, cell area (2/400)^2
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    dens = np.exp(post.log_prob(grid)) * (2 / 400) ** 2
    assert dens.sum() == pytest.approx(1.0, abs=0.01)
    s = post.sample(20_000, seed=1)
    np.testing.assert_array_equal(s, m.sample(y_obs, 20_000, seed=1)[0])
    right, diag = grid[:, 0] > 0, grid[:, 0] + grid[:, 1] > 0.3
    assert dens[right].sum() == pytest.approx(np.mean(s[:, 0] > 0), abs=0.02)
    assert dens[diag].sum() == pytest.approx(np.mean(s[:, 0] + s[:, 1] > 0.3), abs=0.02)
    # one observation per row gives the same values; outside the box the density is zero
    np.testing.assert_allclose(m.log_prob(grid[:5], np.repeat(y_obs, 5, 0)), m.log_prob(grid[:5], y_obs), rtol=1e-5)
    assert m.log_prob([[1.5, 0.0]], y_obs)[0] == -np.inf
    with pytest.raises(ValueError, match="x: expected shape"):
        m.log_prob(np.zeros((3, 3)), y_obs)


def test_models_without_a_density_say_so():
    m = build_model("cvae", "kinematics", hidden=8)
    assert not m.has_density
    with pytest.raises(NotImplementedError, match="no tractable density"):
        m.log_prob(np.zeros((2, 4)), [[1.0, 0.0]])
    post = api.posterior(m)
    assert not post.has_density and post.sample(5, y=[1.0, 0.0]).shape == (5, 4)
    with pytest.raises(ValueError, match="y: no observation given"):
        post.sample(5)
    with pytest.raises(ValueError, match="observation: expected one observation, got 2"):
        api.posterior(m, [[1.0, 0.0], [1.2, 0.1]])
    with pytest.raises(ValueError, match="observation"):  # checked when set: out of the arm's reach
        api.posterior(m, [5.0, 0.0])


@pytest.mark.parametrize(("name", "problem", "options"), [("nsf", "gaussian_linear", {}), ("nsf", "two_moons", {}),
                                                          ("maf", "kinematics", {"sampler": "flow"})])
def test_the_autoregressive_inverse_is_zukos_bit_for_bit(name, problem, options):
    """Sampling inverts each autoregressive transform building only the solved features' splines per pass
    (innbench.models.flows.autoregressive_inverse): the same numbers as zuko's own inverse, to the last bit, on a
    flow whose weights are far from the identity."""
    model = build_model(name, problem, seed=3, **options).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in model.flow.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen))
        c_dim = model.flow.transform.transforms[0].hyper[0].in_features - model.dim
        c, z = torch.randn(500, c_dim, generator=gen), torch.randn(500, model.dim, generator=gen)
        ours, zukos = model.flow_inverse(z, c), model.flow(c).transform.inv(z)
    assert torch.equal(ours, zukos)
    assert not torch.allclose(ours, z, atol=0.1)  # a transform that does something
