import pytest
import torch

from innbench.models.blocks import AffineCouplingBlock, InvertibleSequence, PermuteRandom, RotateRandom, soft_clamp
from tolerance import EPS32, EPS64, assert_close_ulps, magnitude


def _randomize(module, seed=0):
    """Coupling subnets start at zero (identity); give them random weights so the tests mean something."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return module


@pytest.mark.parametrize("permutation", ["random", "orthogonal"])
@pytest.mark.parametrize("dim, cond", [(4, 2), (4, 0), (2, 1), (5, 3), (10, 0)])
def test_coupling_round_trip_float32(dim, cond, permutation):
    net = _randomize(InvertibleSequence(dim, cond, blocks=6, hidden=32, clamp=2.0, permutation=permutation))
    g = torch.Generator().manual_seed(dim * 10 + cond)  # fixed inputs: the bound must not depend on test order
    x = torch.randn(512, dim, generator=g)
    c = torch.randn(512, cond, generator=g) if cond else None
    z, ld = net(x, c)
    x_back, ld_back = net(z, c, rev=True)
    # float32 round trip through 6 randomised blocks: the error is rounding relative to the largest value a
    # row carried (|z| reaches 268 for the orthogonal 10-D case); measured on AVX-512, AVX2 and SSE kernels and
    # an AMD EPYC: at most 19 ulps of that magnitude per element, 2 on average, 9.4 on the log-determinant.
    # A wrong inverse is off by O(1) of the magnitude, 10^6 ulps and more.
    row = 1.0 + torch.maximum(x.abs().amax(1), z.abs().amax(1))
    assert_close_ulps(x_back, x, ulps=200, per_row_scale=row, what="x round trip")
    assert ((x_back - x).abs().amax(1) / (EPS32 * row)).mean() <= 20
    assert_close_ulps(-ld_back, ld, ulps=200, per_row_scale=row, what="log-determinant")


@pytest.mark.parametrize("permutation", ["random", "orthogonal"])
@pytest.mark.parametrize("dim, cond", [(4, 2), (3, 0), (2, 1)])
def test_log_determinant_matches_autograd_jacobian(dim, cond, permutation):
    net = _randomize(InvertibleSequence(dim, cond, blocks=3, hidden=16, permutation=permutation)).double()
    x = torch.randn(6, dim, dtype=torch.float64)
    c = torch.randn(6, cond, dtype=torch.float64) if cond else None
    _, ld = net(x, c)
    for i in range(len(x)):
        ci = None if c is None else c[i : i + 1]
        jac = torch.autograd.functional.jacobian(lambda v, ci=ci: net(v[None], ci)[0][0], x[i])
        # float64 through 3 small blocks, against a float64 LU: 10^4 ulps of the entries' size covers both
        assert ld[i].item() == pytest.approx(torch.linalg.slogdet(jac)[1].item(), rel=1e4 * EPS64, abs=1e4 * EPS64)
    # and the inverse's log-determinant is the negative, also against autograd
    z, _ = net(x, c)
    _, ld_rev = net(z, c, rev=True)
    c0 = None if c is None else c[:1]
    jac_rev = torch.autograd.functional.jacobian(lambda v: net(v[None], c0, rev=True)[0][0], z[0])
    assert ld_rev[0].item() == pytest.approx(torch.linalg.slogdet(jac_rev)[1].item(), rel=1e4 * EPS64,
                                             abs=1e4 * EPS64)


def test_soft_clamp_is_bounded_and_near_identity_for_small_values():
    s = torch.linspace(-100, 100, 1001)
    out = soft_clamp(s, 2.0)
    assert out.abs().max() < 2.0
    assert soft_clamp(torch.tensor(0.01), 2.0).item() == pytest.approx(0.01 * 0.636, rel=1e-3)


def test_single_block_and_permutation_invert():
    blk = _randomize(AffineCouplingBlock(4, 2, hidden=8))
    x, c = torch.randn(10, 4), torch.randn(10, 2)
    y, _ = blk(x, c)
    assert_close_ulps(blk(y, c, rev=True)[0], x, ulps=100, scale=magnitude(x, y), what="block round trip")
    perm = PermuteRandom(5, seed=3)
    v = torch.randn(3, 5)
    assert torch.equal(perm(perm(v)[0], rev=True)[0], v)
    with pytest.raises(ValueError, match="at least 2 features"):
        AffineCouplingBlock(1)


def test_random_rotation_is_orthogonal_seeded_and_mixes_every_feature():
    rot = RotateRandom(4, seed=1)
    w = rot.w.double()
    # stored in float32: each entry rounded once, so w w^T is the identity to a few float32 ulps
    assert_close_ulps(w @ w.T, torch.eye(4, dtype=torch.float64), ulps=40, what="w w^T")
    assert torch.equal(rot.w, RotateRandom(4, seed=1).w) and not torch.equal(rot.w, RotateRandom(4, seed=2).w)
    assert (rot.w.abs() > 1e-3).all()  # unlike a permutation, every output depends on every input
    v = torch.randn(7, 4)
    out, ld = rot(v)
    assert_close_ulps(rot(out, rev=True)[0], v, ulps=40, scale=magnitude(v, out), what="rotation round trip")
    assert torch.equal(ld, torch.zeros(7))
    with pytest.raises(ValueError, match="permutation: unknown name 'shuffle'"):
        InvertibleSequence(4, permutation="shuffle")
