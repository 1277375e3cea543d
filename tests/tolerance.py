"""Floating-point tolerances for tests that hold on any CPU.

Rounding error is relative: a computation in precision ``eps`` on values of size ``M`` is off by about
``k * eps * M`` after ``k`` operations, whatever BLAS kernel, instruction set or thread count did the
arithmetic. A test therefore bounds a difference by a number of units in the last place (``ulps``) of
the magnitude involved, never by a fixed absolute number (an absolute bound that holds for values of 1 fails
for values of 300; see issue 32: a coupling round trip off by 3.0e-4 on a log-determinant of 11).

Choose ``ulps`` from the operations between the two values (a round trip through ``b`` blocks of ``h``
hidden units is about ``b * h`` operations per element) with a margin of ten or more over what was measured
on several instruction sets (``ATEN_CPU_CAPABILITY=default|avx2|avx512``, ``MKL_ENABLE_INSTRUCTIONS``,
one or two threads); write the reason next to the call.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["EPS32", "EPS64", "assert_close_ulps", "magnitude"]

EPS32 = float(torch.finfo(torch.float32).eps)  # 1.19e-7
EPS64 = float(torch.finfo(torch.float64).eps)  # 2.22e-16


def _np(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().double().numpy()
    return np.asarray(a, dtype=float)


def magnitude(*arrays) -> float:
    """``1 + max |v|`` over the arrays: the scale of the largest value a computation carried (the ``1``
    keeps the bound meaningful for values near zero, where the rounding of the O(1) intermediates rules)."""
    return 1.0 + max(float(np.abs(_np(a)).max()) for a in arrays)


def assert_close_ulps(actual, expected, *, ulps: float, eps: float = EPS32, scale: float | None = None,
                      per_row_scale=None, what: str = "value") -> None:
    """Assert ``|actual - expected| <= ulps * eps * scale`` elementwise.

    ``scale`` defaults to :func:`magnitude` of ``expected``; ``per_row_scale`` (an array of one scale per
    leading index) bounds each row by its own magnitude instead.
    """
    a, e = _np(actual), _np(expected)
    assert a.shape == e.shape, f"{what}: shapes differ, {a.shape} vs {e.shape}"
    diff = np.abs(a - e)
    if per_row_scale is not None:
        s = _np(per_row_scale).reshape((-1,) + (1,) * (diff.ndim - 1))
    else:
        s = magnitude(e) if scale is None else scale
    bound = ulps * eps * s
    worst = np.unravel_index(np.argmax(diff - bound), diff.shape) if diff.size else ()
    assert np.all(diff <= bound), (
        f"{what}: |difference| {diff[worst]:.3g} at {worst} exceeds {ulps:g} ulps of the magnitude "
        f"({np.broadcast_to(bound, diff.shape)[worst]:.3g}); largest difference {diff.max():.3g}")
