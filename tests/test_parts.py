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
