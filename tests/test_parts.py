"""The composable parts around an inference network (innbench.models.parts), each on its own."""

import numpy as np
import pytest
import torch

from innbench import get_problem
from innbench.models.parts import LogitTransform


def test_logit_transform_covers_exactly_the_two_sided_real_parameters():
    assert LogitTransform.for_problem(get_problem("two_moons")).columns == [0, 1]  # uniform on [-1, 1]^2
    assert not LogitTransform.for_problem(get_problem("kinematics"))  # Gaussian prior: no bounds
    assert not LogitTransform.for_problem(get_problem("two_moons"), enabled=False)
    assert LogitTransform.for_problem(get_problem("epidemic")).columns == [2]  # the one bounded parameter
    ballistics = get_problem("ballistics")  # column 2 bounded on both sides, column 3 an integer
    assert ballistics.discrete == (3,) and LogitTransform.for_problem(ballistics).columns == [2]


def test_logit_transform_round_trips_and_its_correction_is_the_log_jacobian():
    t = LogitTransform(lo=[-1.0, 2.0], width=[2.0, 0.5], columns=[0, 2])
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(64, generator=g) * 2 - 1, torch.randn(64, generator=g),
                     2 + 0.5 * torch.rand(64, generator=g)], -1)
    u = t.forward(x)
    assert torch.equal(u[:, 1], x[:, 1])  # other columns untouched
    assert torch.allclose(t.inverse(u), x, rtol=0, atol=1e-5 * float(x.abs().max()))
    # the correction is log |det d forward / dx|, here a diagonal Jacobian computed by autograd
    xd = x.double().requires_grad_(True)
    t64 = LogitTransform(lo=[-1.0, 2.0], width=[2.0, 0.5], columns=[0, 2])
    t64.lo, t64.width = t64.lo.double(), t64.width.double()
    (grad,) = torch.autograd.grad(t64.forward(xd).sum(), xd)
    want = torch.log(grad.abs()).sum(-1)
    got = t64.log_density_correction(xd.detach())
    assert torch.allclose(got, want, rtol=1e-9, atol=0)


def test_logit_transform_puts_points_outside_the_bounds_at_minus_infinity():
    t = LogitTransform(lo=[0.0], width=[1.0], columns=[0])
    x = torch.tensor([[0.5, 3.0], [1.5, 0.0], [-0.1, 0.0], [0.0, 0.0]])
    c = t.log_density_correction(x)
    assert np.isfinite(c[0].item()) and c[0].item() == pytest.approx(-np.log(0.25))
    assert torch.isneginf(c[1:]).all()  # above, below and on the bound
    none = LogitTransform(lo=[], width=[], columns=[])
    assert torch.equal(none.forward(x), x) and torch.equal(none.log_density_correction(x), torch.zeros(4))


def test_log_columns_map_one_sided_rates_to_their_logarithm_with_the_log_jacobian():
    # the ODE tasks' log-normal rates are modelled on log theta; ballistics' one-sided columns are not
    assert LogitTransform.for_problem(get_problem("lotka_volterra")).log_columns == [0, 1, 2, 3]
    assert LogitTransform.for_problem(get_problem("sir")).columns == []
    assert LogitTransform.for_problem(get_problem("ballistics")).log_columns == []
    assert not LogitTransform.for_problem(get_problem("sir"), enabled=False)
    t = LogitTransform(lo=[-1.0], width=[2.0], columns=[0], log_columns=[2], log_lo=[0.5])
    g = torch.Generator().manual_seed(1)
    x = torch.stack([torch.rand(64, generator=g) * 2 - 1, torch.randn(64, generator=g),
                     0.5 + torch.exp(3 * torch.randn(64, generator=g))], -1).double()
    t.lo, t.width, t.log_lo = t.lo.double(), t.width.double(), t.log_lo.double()
    z = t.forward(x)
    assert torch.equal(z[:, 1], x[:, 1]) and torch.allclose(z[:, 2], torch.log(x[:, 2] - 0.5), rtol=1e-12, atol=0)
    assert torch.allclose(t.inverse(z), x, rtol=1e-12, atol=1e-12)
    xd = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(t.forward(xd).sum(), xd)
    assert torch.allclose(t.log_density_correction(x), torch.log(grad.abs()).sum(-1), rtol=1e-9, atol=0)
    below = x[:3].clone()
    below[:, 2] = torch.tensor([0.5, 0.4, -3.0])  # on and below the bound: no density
    assert torch.isneginf(t.log_density_correction(below)).all()


def test_log_columns_must_be_continuous_with_a_lower_bound_only():
    from innbench.problems.sbi.ode import SIR

    class Bad(SIR):
        bounds = ((0.0, 1.0), (0.0, np.inf))
        log_columns = (0,)

    with pytest.raises(ValueError, match=r"log_columns \[0\] must be continuous"):
        LogitTransform.for_problem(Bad())


def test_dequantize_spreads_integer_parameters_over_their_unit_interval_and_nothing_else():
    from innbench.models.parts import Dequantize

    d = Dequantize([1])
    x = torch.tensor([[0.25, 3.0, -1.5]]).repeat(20_000, 1)
    noisy = d(x, torch.Generator().manual_seed(0))
    assert torch.equal(noisy[:, [0, 2]], x[:, [0, 2]])
    offset = noisy[:, 1] - 3.0
    assert offset.min() >= -0.5 and offset.max() < 0.5 and torch.equal(noisy[:, 1].round(), x[:, 1])
    # uniform: each tenth of the interval holds a tenth of the draws (binomial sd 0.002)
    counts = torch.histc(offset, bins=10, min=-0.5, max=0.5) / len(x)
    assert (counts - 0.1).abs().max() < 0.01
    assert Dequantize.for_problem(get_problem("ballistics")).columns == [3]
    assert Dequantize.for_problem(get_problem("kinematics"))(x) is x


def test_standardize_maps_the_training_set_to_mean_zero_sd_one_and_back():
    from innbench.models.parts import Standardize

    g = torch.Generator().manual_seed(1)
    v = (torch.randn(5_000, 3, generator=g, dtype=torch.float64) * torch.tensor([1e-3, 1.0, 1e4], dtype=torch.float64)
         + torch.tensor([5.0, -2.0, 1e5], dtype=torch.float64))
    s = Standardize(3)
    s.fit(v)
    z = s(v.float())
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-3) and torch.allclose(z.std(0), torch.ones(3), rtol=1e-3)
    back = s.inverse(z)
    assert torch.allclose(back.double(), v, rtol=1e-5, atol=0)
    # the log-Jacobian of v -> (v - mean) / std, as autograd finds it
    vd = v[:1].clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(((vd - s.mean.double()) / s.std.double()).sum(), vd)
    assert s.log_abs_det().item() == pytest.approx(torch.log(grad.abs()).sum().item(), rel=1e-6)
    # N - 1 or N in the standard deviation
    pop = Standardize(3)
    pop.fit(v, unbiased=False)
    ratio = pop.std.double() / s.std.double()
    assert torch.allclose(ratio, torch.full((3,), (4_999 / 5_000) ** 0.5, dtype=torch.float64))
    # a constant column is not divided by zero
    const = Standardize(1)
    const.fit(torch.full((10, 1), 2.0, dtype=torch.float64))
    assert torch.isfinite(const(torch.tensor([[2.0], [3.0]]))).all()


def test_standardize_of_a_padded_series_pools_each_channel_over_the_steps_present():
    from innbench.models.parts import Standardize

    # 2 series of 3 steps x 2 channels, the second series padded after its first step
    v = torch.tensor([[1.0, 10.0, 2.0, 20.0, 3.0, 30.0],
                      [5.0, 50.0, float("nan"), float("nan"), float("nan"), float("nan")]], dtype=torch.float64)
    s = Standardize(6)
    s.fit(v, channels=2)
    steps = torch.tensor([[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [5.0, 50.0]], dtype=torch.float64)
    assert torch.allclose(s.mean.double(), steps.mean(0).repeat(3))
    assert torch.allclose(s.std.double(), steps.std(0).repeat(3), rtol=1e-6)
    assert torch.isnan(s(v.float())[1, 2:]).all()  # padding stays NaN for the summary network to skip


def test_condition_noise_is_gaussian_of_its_level_while_training_and_absent_at_inference():
    from innbench.models.parts import ConditionNoise

    c = torch.zeros(50_000, 2)
    torch.manual_seed(0)
    out = ConditionNoise(0.01).training(c)
    assert out.std().item() == pytest.approx(0.01, rel=0.02) and abs(out.mean().item()) < 1e-4
    assert ConditionNoise(0.01).inference(c) is c and ConditionNoise(0.0).training(c) is c
    # annealed geometrically from sd to final over training
    annealed = ConditionNoise(0.01, final=0.001)
    assert [annealed.level(p) for p in (0.0, 0.5, 1.0)] == pytest.approx([0.01, 0.01 * 0.1**0.5, 0.001], rel=1e-12)
    torch.manual_seed(0)
    assert annealed.training(c, progress=1.0).std().item() == pytest.approx(0.001, rel=0.02)
    assert ConditionNoise.from_options({"y_noise": 0.05}).level() == 0.05
    assert ConditionNoise.from_options({}).training(c) is c  # a model without the option: no noise


def test_noise_conditioned_tells_the_network_each_pairs_level():
    from innbench.models.parts import ConditionNoise

    noise = ConditionNoise(0.3, conditioned=True, low=0.01)
    assert noise.extra_features == 1
    c = torch.zeros(40_000, 3)
    torch.manual_seed(1)
    out = noise.training(c)
    assert out.shape == (40_000, 4)
    sigma = 0.3 * torch.exp(out[:, 3])  # the level told, log(sigma / sd)
    assert sigma.min().item() >= 0.01 * (1 - 1e-6) and sigma.max().item() <= 0.3 * (1 + 1e-6)
    # log-uniform: log sigma uniform on [log 0.01, log 0.3]
    assert torch.log(sigma).mean().item() == pytest.approx(0.5 * (np.log(0.01) + np.log(0.3)), abs=0.02)
    z = out[:, :3] / sigma[:, None]  # each pair's noise has its own level
    assert z.std().item() == pytest.approx(1.0, rel=0.02)
    told = noise.inference(torch.zeros(2, 3))
    assert torch.equal(told[:, :3], torch.zeros(2, 3))
    assert told[:, 3].tolist() == pytest.approx([np.log(0.01 / 0.3)] * 2, rel=1e-6)  # y_noise_sample: low
    at = ConditionNoise(0.3, conditioned=True, low=0.01, sample_level=0.1).inference(torch.zeros(1, 3))
    assert at[0, 3].item() == pytest.approx(np.log(0.1 / 0.3), rel=1e-6)
    with pytest.raises(ValueError, match="y_noise_min"):
        ConditionNoise(0.01, conditioned=True, low=0.02)
    with pytest.raises(ValueError, match="y_noise_sample"):
        ConditionNoise(0.01, conditioned=True, low=0.001, sample_level=0.5)


def test_condition_features_give_the_model_y_its_features_or_the_stretched_coordinate():
    from innbench.models.parts import ConditionFeatures

    kinematics = get_problem("kinematics")
    y = torch.tensor([[1.999, 0.0], [0.5, 0.3]])
    with_features = ConditionFeatures(kinematics, features=True, transform=True)
    c = with_features(y)
    assert with_features.dim == 3 and c.shape == (2, 3) and torch.equal(c[:, :2], y)
    assert torch.equal(c[:, 2:], kinematics.condition_features(y))  # features win over the stretch
    stretched = ConditionFeatures(kinematics, features=False, transform=True)
    assert stretched.dim == 2 and torch.equal(stretched(y), kinematics.transform_observations(y))
    plain = ConditionFeatures(kinematics, features=False, transform=False)
    assert plain(y) is y


def test_build_parts_follows_the_settings_and_the_kind_of_model():
    from innbench.models import get_model_class
    from innbench.models.parts import build_parts

    cinn, inn = get_model_class("cinn"), get_model_class("inn")
    moons = get_problem("two_moons")
    parts = build_parts(moons, cinn.Settings(), name="cinn", conditional=True, y_supervised=False)
    assert parts.bounded.columns == [0, 1] and parts.features.dim == 2 and parts.x_scale.mean.shape == (2,)
    off = build_parts(moons, cinn.Settings(bounded_transform=None), name="cinn", conditional=True,
                      y_supervised=False)
    assert not off.bounded
    kin = get_problem("kinematics")
    assert build_parts(kin, cinn.Settings(), name="cinn", conditional=True, y_supervised=False).features.dim == 3
    inn_parts = build_parts(kin, inn.Settings(), name="inn", conditional=False, y_supervised=True)
    assert inn_parts.features.dim == 2 and inn_parts.features.transform  # the stretched coordinate
    with pytest.raises(ValueError, match="model 'inn' predicts y itself and cannot read the series"):
        build_parts(get_problem("epidemic"), inn.Settings(), name="inn", conditional=False, y_supervised=True)
