"""The models added for the full comparison: INN (L2 + MMD), IAF/MAF + decoder, iResNet, invertible
autoencoder, neural spline flow, flow matching, rejection ABC; the fair-budget parameter scaling."""

import numpy as np
import pytest
import torch

from innbench.api import train, width_for_params
from innbench.checks import _fixed_batch_loss
from innbench.models import build_model, get_model_class, list_models, load_model
from innbench.training import fit, get_budget
from tolerance import EPS32, assert_close_ulps, magnitude

LEARNED = ["inn_mmd", "iaf", "maf", "iresnet", "invauto", "nsf", "flow_matching"]
SMALL = {
    "inn_mmd": {"blocks": 3, "hidden": 32},
    "iaf": {"transforms": 2, "hidden": 32},
    "maf": {"transforms": 2, "hidden": 32},
    "iresnet": {"blocks": 3, "hidden": 32},
    "invauto": {"blocks": 3, "hidden": 16},
    "nsf": {"transforms": 2, "hidden": 32},
    "flow_matching": {"hidden": 32, "layers": 2},
}
BUDGET = get_budget("tiny", n_train=5000, n_batches=150)


@pytest.fixture(scope="module")
def trained():
    out = {}
    for name in LEARNED:
        for problem in ("kinematics", "ballistics"):
            m = build_model(name, problem, **SMALL[name])
            x, y = m.problem.simulate(BUDGET.n_train, np.random.default_rng(0))
            m.set_normalization(x, y)
            before = _fixed_batch_loss(m)
            fit(m, BUDGET, seed=0, data=(x, y), progress=False)
            out[name, problem] = (m, before, _fixed_batch_loss(m))
    return out


@pytest.mark.parametrize("name", LEARNED)
@pytest.mark.parametrize("problem", ["kinematics", "ballistics"])
def test_training_lowers_loss_sampling_is_seeded_and_survives_save_load(trained, name, problem, tmp_path):
    m, before, after = trained[name, problem]
    assert np.isfinite(after) and after < before - 0.05 * abs(before), (before, after)
    _, y = m.problem.simulate(3, np.random.default_rng(1))
    s = m.sample(y, 50, seed=3)
    assert s.shape == (3, 50, 4) and np.isfinite(s).all()
    np.testing.assert_array_equal(s, m.sample(y, 50, seed=3))
    assert not np.array_equal(s, m.sample(y, 50, seed=4))
    m.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").sample(y, 50, seed=3), s)


@pytest.mark.parametrize("name", LEARNED)
def test_construction_is_deterministic_for_a_seed(name):
    a = build_model(name, "kinematics", seed=5, **SMALL[name])
    b = build_model(name, "kinematics", seed=5, **SMALL[name])
    c = build_model(name, "kinematics", seed=6, **SMALL[name])
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point() and sa[k].numel() > 8)


def test_inn_mmd_is_exactly_invertible_and_ramps_the_backward_mmd():
    m = build_model("inn_mmd", "kinematics", **SMALL["inn_mmd"])
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.1 * torch.randn_like(p))
        x = torch.randn(64, 4)
        out, _ = m.net(x)
        back, _ = m.net(out, rev=True)
    # float32 round trip through the INN's blocks: rounding relative to the largest value carried
    assert_close_ulps(back, x, ulps=300, scale=magnitude(x, out), what="INN round trip")
    m.progress = 0.0
    start = m.backward_ramp()
    m.progress = 1.0
    assert start == pytest.approx(0.004) and m.backward_ramp() == 1.0


def test_iresnet_blocks_are_contractions_with_a_fixed_point_inverse_and_logdet():
    torch.manual_seed(0)
    m = build_model("iresnet", "kinematics", blocks=2, hidden=32)
    m.train()
    for _ in range(20):  # let the spectral-norm power iterations converge
        m.forward_net(torch.randn(256, 4))
    m.eval()
    with torch.no_grad():
        b = m.blocks_[0]
        a, c = torch.randn(2000, 4), torch.randn(2000, 4)
        ratio = (b.g(a) - b.g(c)).norm(dim=-1) / (a - c).norm(dim=-1)
        assert float(ratio.max()) < 1.0
        h = torch.randn(500, 4)
        # the fixed-point inverse stops once a step moves x by less than inverse_tol = 1e-4 (absolute, iresnet.py):
        # its error is of that order (times L / (1 - L) for a contraction of constant L), not rounding
        torch.testing.assert_close(m.inverse_net(m.forward_net(h)), h, atol=1e-3, rtol=0)
    # stochastic power-series log-determinant: unbiased (up to truncation) against the exact one
    x = torch.randn(8, 4)
    exact = b.logdet_exact(x)
    g = torch.Generator().manual_seed(0)
    est = b.logdet_estimate(x.repeat(4000, 1), 10, g)[1].detach().reshape(4000, 8).mean(0)
    torch.testing.assert_close(est, exact.detach(), atol=0.03, rtol=0)


def test_iresnet_facts_follow_its_loss_option():
    ml = build_model("iresnet", "kinematics", blocks=2, hidden=8)
    mmd = build_model("iresnet", "kinematics", blocks=2, hidden=8, loss="mmd")
    assert (ml.facts.ml_loss, ml.facts.equation) == (True, "Eq. 4")
    assert (mmd.facts.ml_loss, mmd.facts.equation) == (False, "Eq. 3")
    assert mmd.state()["facts"]["ml_loss"] is False


def test_iresnet_trains_with_the_estimated_log_determinant():
    m = build_model("iresnet", "kinematics", blocks=2, hidden=32, loss="ml")
    info = fit(m, get_budget("tiny", n_train=3000, n_batches=60), progress=False)
    assert np.isfinite(info["final_loss"]) and info["loss_history"][-1][1] < info["loss_history"][0][1]


def test_invertible_autoencoder_decoder_is_the_exact_inverse_for_orthogonal_weights():
    m = build_model("invauto", "kinematics", blocks=3, hidden=8)
    with torch.no_grad():
        for w, b in zip(m.weights, m.biases, strict=True):
            w.copy_(torch.linalg.qr(torch.randn(8, 8))[0])
            b.normal_()
        x = torch.randn(100, 4)
        # float32 through 3 orthogonal 8x8 layers and back: tens of operations per element
        assert_close_ulps(m.decode(m.encode(x)), x, ulps=200, scale=magnitude(x, m.encode(x)), what="round trip")
        # random (non-orthogonal) weights: the transposed decoder is not an inverse
        for w in m.weights:
            w.mul_(1.5)
        assert float((m.decode(m.encode(x)) - x).abs().max()) > 0.1
        assert float(m.orthogonality_penalty()) > 0.5


def test_invertible_autoencoder_orthogonal_start_and_penalty():
    """init="orthogonal" starts with the decoder as the exact inverse (penalty 0); orthogonality_weight adds
    the penalty to the training loss; bad values are refused."""
    m = build_model("invauto", "kinematics", blocks=3, hidden=8, init="orthogonal", orthogonality_weight=2.0)
    x = torch.randn(100, 4)
    with torch.no_grad():
        assert_close_ulps(m.decode(m.encode(x)), x, ulps=200, scale=magnitude(x, m.encode(x)), what="round trip")
        # |W^T W - I|^2 summed over 3 float32 8x8 matrices: each entry a few ulps from exact
        assert float(m.orthogonality_penalty()) < 3 * 64 * (100 * EPS32) ** 2
        for w in m.weights:
            w.mul_(1.1)
        pen = float(m.orthogonality_penalty())
        y = torch.randn(100, 2)
        torch.manual_seed(0)
        with_pen, parts = m.loss(x, y)
        plain = build_model("invauto", "kinematics", blocks=3, hidden=8, init="orthogonal", orthogonality_weight=0.0)
        plain.load_state_dict(m.state_dict())
        torch.manual_seed(0)
        without, _ = plain.loss(x, y)
    # the difference of two float32 losses: rounding relative to the losses' size, not to the penalty's
    assert parts["orthogonality"] == pytest.approx(pen, rel=100 * EPS32)
    assert float(with_pen - without) == pytest.approx(2 * pen, abs=100 * EPS32 * (abs(float(with_pen)) + 2 * pen))
    with pytest.raises(ValueError, match="init"):
        build_model("invauto", "kinematics", init="identity")
    with pytest.raises(ValueError, match="orthogonality_weight"):
        build_model("invauto", "kinematics", orthogonality_weight=-1)


def test_invertible_autoencoder_training_drives_the_cycle_error_down(trained):
    m, _, _ = trained["invauto", "kinematics"]
    fresh = build_model("invauto", "kinematics", **SMALL["invauto"])
    x = torch.randn(500, 4)
    with torch.no_grad():
        def err(mod):
            return float(((mod.decode(mod.encode(x)) - x) ** 2).sum(-1).mean())

        assert err(m) < 0.3 * err(fresh)


@pytest.mark.parametrize("name", ["maf", "iaf", "nsf"])
def test_flows_have_exact_inverses(name, trained):
    m, _, _ = trained[name, "kinematics"]
    c = m.condition(torch.tensor([[1.2, 0.4]]).repeat(200, 1))
    x = torch.randn(200, 4)
    with torch.no_grad():
        t = m.flow(c).transform
        # float32 through the flow's transforms and back (a spline's inverse solves a quadratic)
        assert_close_ulps(t.inv(t(x)), x, ulps=1000, scale=magnitude(x, t(x)), what="flow round trip")
        lp = m.log_prob_standardized(x, c)
    assert lp.shape == (200,) and torch.isfinite(lp).all()


def test_maf_decoder_and_iaf_encoder_learn_the_slow_direction(trained):
    maf, _, _ = trained["maf", "kinematics"]
    iaf, _, _ = trained["iaf", "kinematics"]
    x, y = maf.problem.simulate(500, np.random.default_rng(9))
    with torch.no_grad():
        xs = maf.standardize_x(torch.as_tensor(x, dtype=torch.float32))
        c = maf.condition(torch.as_tensor(y, dtype=torch.float32))
        z = maf.flow(c).transform(xs)
        cycle = float(((maf.decoder(torch.cat([z, c], -1)) - xs) ** 2).sum(-1).mean())
        assert cycle < 0.5 * float((xs**2).sum(-1).mean())
        xs = iaf.standardize_x(torch.as_tensor(x, dtype=torch.float32))
        c = iaf.condition(torch.as_tensor(y, dtype=torch.float32))
        z = iaf.flow(c).transform(xs)
        assert float(((iaf.encode(xs, c) - z) ** 2).sum(-1).mean()) < 0.5 * float((z**2).sum(-1).mean())
    # the MAF can also sample through its exact (sequential) inverse
    flow_sampler = build_model("maf", "kinematics", sampler="flow", **SMALL["maf"])
    flow_sampler.load_state_dict(maf.state_dict())
    s = flow_sampler.sample(y[:2], 30, seed=0)
    assert s.shape == (2, 30, 4) and np.isfinite(s).all()


def test_flow_matching_ode_runs_backwards_to_its_start(trained):
    m, _, _ = trained["flow_matching", "kinematics"]
    fine = build_model("flow_matching", "kinematics", steps=200, **SMALL["flow_matching"])
    fine.load_state_dict(m.state_dict())
    c = fine.condition(torch.tensor([[1.0, 0.5]]).repeat(100, 1))
    z = torch.randn(100, 4)
    with torch.no_grad():
        back = fine.integrate(fine.integrate(z, c), c, reverse=True)
    # 200 midpoint steps each way: the discretisation error of the ODE solver (O(h^2)), not rounding, dominates
    torch.testing.assert_close(back, z, atol=1e-3 * magnitude(z), rtol=1e-3)


def test_rejection_abc_accepts_nearest_simulations_and_tightens_with_budget():
    y = np.array([[1.5, 0.0]])
    small = train("kinematics", "rejection_abc", preset="tiny", progress=False, simulations=50_000, chunk=20_000)
    big = train("kinematics", "rejection_abc", preset="tiny", progress=False, simulations=400_000, chunk=100_000)
    s_small = small.sample(y, 500, seed=0)
    tol_small = small.last_tolerances[0]
    s_big = big.sample(y, 500, seed=0)
    tol_big = big.last_tolerances[0]
    assert tol_big < tol_small
    resim = np.linalg.norm(big.problem.forward(s_big[0]) - y, axis=-1)
    assert resim.max() <= tol_big * float(big.c_scale.std.max()) + 1e-9
    assert resim.mean() < np.linalg.norm(small.problem.forward(s_small[0]) - y, axis=-1).mean()
    np.testing.assert_array_equal(s_big, big.sample(y, 500, seed=0))
    assert big.n_parameters() == 0 and big.train_info["train_seconds"] == 0.0


def test_rejection_abc_time_budget_stops_early():
    m = train("ballistics", "rejection_abc", preset="tiny", progress=False, simulations=10**9, chunk=20_000,
              time_budget=0.05)
    s = m.sample(np.array([[2.0]]), 100, seed=0)
    assert s.shape == (1, 100, 4) and np.isfinite(s).all()
    with pytest.raises(ValueError, match="time_budget"):
        build_model("rejection_abc", "ballistics", time_budget=-1)


# paper Tables 1 and 2: dim(z) per model (kinematics, ballistics)
PAPER_DIM_Z = {"inn": (2, 3), "inn_mmd": (2, 3), "cinn": (4, 4), "iaf": (4, 4), "maf": (4, 4), "iresnet": (2, 3),
               "invauto": (2, 3), "autoencoder": (2, 3), "cvae": (2, 3), "mdn": (4, 4)}


def test_every_model_declares_the_paper_table_facts():
    names = list_models()
    assert names[:10] == list(PAPER_DIM_Z) and {"nsf", "flow_matching", "rejection_abc"} <= set(names)
    for name, (dk, db) in PAPER_DIM_Z.items():
        cls = get_model_class(name)
        assert (cls("kinematics").dim_z(), cls("ballistics").dim_z()) == (dk, db), name
        assert cls.facts.equation.split()[-1] in (cls.__doc__ or "") or cls.facts.equation in (cls.__doc__ or "")
    assert get_model_class("cinn").facts.ml_loss and not get_model_class("inn_mmd").facts.ml_loss
    assert get_model_class("inn").facts.y_supervised and not get_model_class("mdn").facts.y_supervised


@pytest.mark.parametrize("name", ["cinn", "maf", "iresnet", "invauto", "flow_matching"])
def test_params_target_scales_the_width_to_the_nearest_count(name):
    cls = get_model_class(name)
    target = 50_000
    w = width_for_params(cls, "kinematics", target)
    n = cls("kinematics", **{cls.width_option: w}).n_parameters()
    n_lo = cls("kinematics", **{cls.width_option: w - 1}).n_parameters()
    n_hi = cls("kinematics", **{cls.width_option: w + 1}).n_parameters()
    assert abs(n - target) <= min(abs(n_lo - target), abs(n_hi - target))
    assert abs(n - target) / target < 0.1


def test_train_with_a_params_target_records_the_count(tmp_path):
    m = train("linear", "mdn", preset="tiny", progress=False, budget_overrides={"params": 3000, "n_batches": 5},
              out=tmp_path / "m")
    assert abs(m.n_parameters() - 3000) < 600
    assert load_model(tmp_path / "m").train_info["n_parameters"] == m.n_parameters()
    with pytest.raises(ValueError, match="params"):
        train("linear", "mdn", preset="tiny", progress=False, budget_overrides={"params": 0})


def test_rejection_abc_keeps_the_nearest_and_draws_from_their_density_when_the_budget_is_small():
    """sbibm's REJ-ABC: with 1,000 simulations for 2,000 samples the nearest-n rule returns the prior
    itself; keeping the 100 nearest and sampling their kernel density estimate concentrates on the posterior."""
    from innbench.calibration import c2st
    from innbench.problems import get_problem

    p = get_problem("gaussian_mixture")
    y = p.fixed_observations()[1][:1]
    exact, _ = p.exact_posterior(y, 2000, np.random.default_rng(0))
    scores, spread = {}, {}
    for keep in (0, 100):
        m = train("gaussian_mixture", "rejection_abc", simulations=1000, keep=keep, progress=False)
        s = m.sample(y, 2000, seed=1)
        assert s.shape == (1, 2000, 2) and np.isfinite(s).all()
        scores[keep], spread[keep] = c2st(s[0], exact[0]), s[0].std(0).mean()
    assert spread[0] == pytest.approx(20 / np.sqrt(12), rel=0.05)  # the prior U(-10, 10)^2 itself
    assert spread[100] < 0.4 * spread[0] and scores[100] < scores[0] - 0.05
    with pytest.raises(ValueError, match="keep"):
        build_model("rejection_abc", "two_moons", keep=3)
