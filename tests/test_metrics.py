import numpy as np
import pytest

from innbench.metrics import KERNELS, err_resim, mmd, support_violation
from innbench.problems import get_problem
from tolerance import EPS32, EPS64, magnitude


def brute_mmd(a, b):
    def k(p, q):
        d2 = ((p[:, None] - q[None]) ** 2).sum(-1)
        return sum((al * c / (c + d2)) ** al for c, al in KERNELS).mean()

    return k(a, a) + k(b, b) - 2 * k(a, b)


def test_mmd_matches_brute_force(rng):
    a = rng.normal(size=(300, 4))
    b = rng.normal(size=(250, 4)) * 1.3 + 0.2
    # mmd works in float32 and is a difference of kernel means of a few units: its rounding error is relative
    # to those means (their sum, `scale`), not to the (smaller) result; the float64 brute force is exact here
    scale = sum((al * c) ** al for c, al in KERNELS)  # k(0), the largest kernel value
    assert mmd(a, b) == pytest.approx(brute_mmd(a, b), abs=100 * EPS32 * scale)
    # chunking does not change the value (only the order of the float32 sums)
    assert mmd(a, b, chunk=7) == pytest.approx(mmd(a, b, chunk=4096), abs=100 * EPS32 * scale)


def test_mmd_of_identical_sets_is_zero_and_kernel_at_zero_distance(rng):
    a = rng.normal(size=(200, 2))
    assert abs(mmd(a, a)) < 100 * EPS32 * sum((al * c) ** al for c, al in KERNELS)  # zero up to float32 rounding
    # two single points: 2 k(0) - 2 k(d^2), k(0) = 0.1^0.1 + 0.5^0.5 + 2^2 for the authors' (C, a) pairs;
    # the a = 0.1 kernel's heavy tail keeps k(d^2) = 0.1 even at d^2 = 2e8
    far = mmd(np.zeros((1, 2)), np.full((1, 2), 1e4))
    k_far = sum((al * c / (c + 2e8)) ** al for c, al in KERNELS)
    assert k_far == pytest.approx(0.1, rel=1e-3)
    assert far == pytest.approx(2 * (0.1**0.1 + 0.5**0.5 + 4.0) - 2 * k_far, rel=1e-4)


def test_mmd_4000_by_4000_runs(rng):
    a = rng.normal(size=(4000, 4))
    b = rng.normal(size=(4000, 4))
    v = mmd(a, b)
    assert 0 <= v < 5e-3


def test_err_resim_distance_and_squared():
    p = get_problem("linear")
    y = np.array([[1.0]])
    samples = np.array([[[0.5, 0.5], [1.0, 0.5], [0.0, -1.0]]])  # f = 1, 1.5, -1
    dist, sq, invalid = err_resim(p, samples, y)
    assert dist[0] == pytest.approx((0 + 0.5 + 2.0) / 3)
    assert sq[0] == pytest.approx((0 + 0.25 + 4.0) / 3)
    assert invalid[0] == 0


def test_err_resim_counts_invalid_samples():
    b = get_problem("ballistics")
    x = np.array([[[0.0, 1.0, 0.5, 12.0], [0.0, -1.0, 0.3, 2.0]]])  # the second never lands
    y = b.forward(x[0, :1])
    dist, sq, invalid = err_resim(b, x, y)
    # the landing sample re-simulates y itself: zero up to float64 rounding of y's size
    assert dist[0] == pytest.approx(0.0, abs=1e4 * EPS64 * magnitude(y)) and invalid[0] == 0.5


def test_support_violation():
    b = get_problem("ballistics")
    x = np.array([[[0.0, 1.0, 0.5, 12.0], [0.0, -0.1, 0.5, 12.0], [0.0, 1.0, 0.5, 12.4], [0, 1, 1.5, 12]]])
    assert support_violation(b, x)[0] == pytest.approx(0.75)


def test_memo_is_bounded_and_computes_once():
    """The in-process memo behind the noise floor, the C2ST floor and the MMD self-term: each key is
    computed once, the least recently used entry leaves first, and clear_all empties every memo."""
    from innbench import memo

    m = memo.Memo(2)
    calls = []

    def value(k):
        return lambda: calls.append(k) or k * 10

    assert [m.get(k, value(k)) for k in (1, 2, 1, 3, 1, 2)] == [10, 20, 10, 30, 10, 20]
    assert calls == [1, 2, 3, 2] and len(m) == 2  # 2 was the least recently used when 3 came
    memo.clear_all()
    assert len(m) == 0
    with pytest.raises(ValueError, match="maxsize"):
        memo.Memo(0)
