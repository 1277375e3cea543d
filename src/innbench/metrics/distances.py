"""The distances behind the metrics: kernel MMD, posterior mismatch (Err_post), re-simulation error (Err_resim),
support violations.

Definitions follow docs/protocol.md, i.e. the authors' evaluation code where it disagrees with the paper.
"""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from ..memo import Memo

__all__ = ["KERNELS", "err_post", "err_resim", "mmd", "support_violation"]

#: (C, a) pairs of the multi-scale inverse-multiquadric kernel ``k(d^2) = sum (a C / (C + d^2))^a``.
KERNELS = ((0.2, 0.1), (0.2, 0.5), (0.2, 2.0))


def _kernel_sum(a: torch.Tensor, b: torch.Tensor | None, kernels, chunk: int) -> float:
    """Sum over all pairs of ``k(|a_i - b_j|^2)`` (``b=None``: pairs within ``a``, using symmetry).

    Computed in row chunks so memory stays O(chunk * len(b)). The kernel terms are added into one
    float32 block in place and summed by torch's cascaded float32 sum; the chunk sums are added in
    float64 (relative error ~1e-7 on the total, measured 3e-8; far below the metric's noise floor).
    """
    sym = b is None
    if sym:
        b = a
    total = 0.0
    b_sq = (b * b).sum(1)
    shared_c = len({c for c, _ in kernels}) == 1
    for start in range(0, len(a), chunk):
        ac = a[start : start + chunk]
        bc, bc_sq = (b[start:], b_sq[start:]) if sym else (b, b_sq)
        d2 = torch.addmm(bc_sq[None, :], ac, bc.T, alpha=-2.0).add_((ac * ac).sum(1)[:, None]).clamp_min_(0.0)
        k = None
        if shared_c:  # u = C / (C + d^2) formed once, in place
            c0 = kernels[0][0]
            u = d2.add_(c0).reciprocal_().mul_(c0)
        # the fractional powers first (they read u), the square last (it may overwrite u)
        for c, alpha in sorted(kernels, key=lambda ca: ca[1] == 2.0):
            if not shared_c:
                u = c / (c + d2)
            if alpha == 2.0:
                part = u.square_() if shared_c else u.square()
            elif alpha == 1.0:
                part = u
            elif alpha == 0.5:
                part = u.sqrt()
            else:
                part = u.log().mul_(alpha).exp_()
            w = alpha**alpha
            if k is None:
                k = part.mul_(w) if part is not u else part * w
            else:
                k.add_(part, alpha=w)
        s = float(k.sum())
        if sym:  # off-diagonal blocks appear twice, the diagonal block once
            s = 2.0 * s - float(k[:, : len(ac)].sum())
        total += s
    return total


def _as_f32(x) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))


def mmd(x, y, kernels=KERNELS, chunk: int = 128) -> float:
    r"""Biased (V-statistic) squared MMD between sample sets ``x (n, d)`` and ``y (m, d)``.

    ``MMD^2 = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)``, diagonals included (the authors'
    estimator), with the multi-scale inverse-multiquadric kernel on raw, unnormalised coordinates.
    Memory is O(chunk * m): 128-row chunks keep the elementwise work in the CPU caches (measured 30–40 %
    faster than 1024 rows for 4000 x 4000 on one thread).

    Args:
        x: samples ``(n, d)``.
        y: samples ``(m, d)`` (for Err_post: the reference; its self-term is remembered between calls).
        kernels: the ``(C, a)`` pairs of the kernel (:data:`KERNELS`).
        chunk: rows per block of the pairwise sums.

    Returns:
        The squared MMD (a float; near 0 for samples of the same distribution, never much below 0).

    Example:
        >>> import numpy as np
        >>> from innbench.metrics import mmd
        >>> rng = np.random.default_rng(0)
        >>> a, b = rng.normal(size=(300, 2)), rng.normal(size=(300, 2))
        >>> abs(mmd(a, a)) < 1e-6, mmd(a, b) < mmd(a, b + 1.0)
        (True, True)
    """
    xt, yt = _as_f32(x), _as_f32(y)
    n, m = len(xt), len(yt)
    xx = _kernel_sum(xt, None, kernels, chunk) / (n * n)
    yy = _self_term(yt, kernels, chunk) / (m * m)
    xy = _kernel_sum(xt, yt, kernels, chunk) / (n * m)
    return xx + yy - 2.0 * xy


_SELF_TERMS = Memo(4096)


def _self_term(yt: torch.Tensor, kernels, chunk: int) -> float:
    """``_kernel_sum(yt, None)``, remembered for the last few hundred reference sets: every model of a
    benchmark is scored against the same reference draws, so their self-term is computed once."""
    key = (hashlib.sha1(yt.numpy().tobytes()).hexdigest(), tuple(yt.shape), tuple(kernels), chunk)
    return _SELF_TERMS.get(key, lambda: _kernel_sum(yt, None, kernels, chunk))


def err_post(samples, reference, kernels=KERNELS, progress: bool = False) -> np.ndarray:
    """Posterior mismatch per observation: MMD between model samples and reference samples.

    ``samples (m, n, x_dim)`` and ``reference (m, n_ref, x_dim)``; returns an array of length m.
    Samples with non-finite coordinates are dropped (and should be counted by the caller).

    Args:
        samples: a model's samples ``(m, n, x_dim)``.
        reference: reference samples ``(m, n_ref, x_dim)`` of the same observations.
        kernels: the ``(C, a)`` pairs of the kernel (:data:`KERNELS`).
        progress: show a progress bar.

    Returns:
        An array ``(m,)``: :func:`mmd` per observation (NaN where no sample is finite).

    Example:
        >>> import numpy as np
        >>> from innbench.metrics import err_post
        >>> rng = np.random.default_rng(0)
        >>> reference = rng.normal(size=(3, 200, 2))
        >>> good, shifted = rng.normal(size=(3, 200, 2)), rng.normal(size=(3, 200, 2)) + 1.0
        >>> err_post(good, reference).shape, bool((err_post(good, reference) < err_post(shifted, reference)).all())
        ((3,), True)
    """
    out = np.empty(len(samples))
    rows = range(len(samples))
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc="Err_post", unit="obs", leave=False)
    for i in rows:
        s = samples[i]
        s = s[np.isfinite(s).all(1)]
        if len(s) == 0:
            out[i] = np.nan
            continue
        out[i] = mmd(s, reference[i], kernels)
    return out


def err_resim(problem, samples, y, rng=None):
    """Re-simulation error per observation: mean ``||f(x_hat) - y*||`` and mean squared distance (the
    problem's :meth:`innbench.problems.Problem.resimulation_sq_distance`: Euclidean, or for sets the
    energy distance).

    Returns ``(distance (m,), squared (m,), invalid_fraction (m,))``. Samples whose forward process
    gives no observation (the invalid marker, NaN) are left out of both means and counted in
    ``invalid_fraction``; an observation with no valid sample gets NaN.

    Args:
        problem: the :class:`innbench.problems.Problem` whose forward process re-simulates.
        samples: posterior samples ``(m, n, x_dim)``.
        y: the observations ``(m, y_dim)`` they were drawn for.
        rng: ``numpy.random.Generator`` for a stochastic forward process.

    Returns:
        ``(distance (m,), squared (m,), invalid_fraction (m,))``.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.metrics import err_resim
        >>> linear = get_problem("linear")  # y = x1 + x2
        >>> samples = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 0.0], [3.0, 0.0]]])
        >>> distance, squared, invalid = err_resim(linear, samples, np.array([[1.0], [1.0]]))
        >>> distance.tolist(), squared.tolist(), invalid.tolist()
        ([0.0, 1.5], [0.0, 2.5], [0.0, 0.0])
    """
    samples = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)
    n = samples.shape[1]
    sq = problem.resimulation_sq_distance(resimulated(problem, samples, y, rng), y)
    valid = np.isfinite(sq)
    cnt = valid.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.where(valid, np.sqrt(np.where(valid, sq, 0)), 0).sum(1) / cnt
        sqm = np.where(valid, sq, 0).sum(1) / cnt
    return dist, sqm, 1.0 - cnt / n


def resimulated(problem, samples: np.ndarray, y: np.ndarray, rng=None) -> np.ndarray:
    """The observations simulated again from ``samples (m, n, x_dim)`` drawn for ``y (m, y_dim)``: ``(m, n,
    y_dim)``, NaN for a non-finite sample or a failed simulation (Err_resim's and the predictive check's).

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.metrics.distances import resimulated
        >>> resimulated(get_problem("linear"), np.array([[[0.5, 0.5], [np.nan, 0.0]]]), np.array([[1.0]])).tolist()
        [[[1.0], [nan]]]
    """
    m, n, d = samples.shape
    flat = samples.reshape(m * n, d)
    ok = np.isfinite(flat).all(1)
    yhat = np.full((m * n, problem.y_dim), np.nan)
    if ok.any():
        like = np.repeat(y, n, 0)[ok] if problem.variable_length else None  # only lengths are read
        yhat[ok] = problem.resimulate(flat[ok], like, rng)
    return yhat.reshape(m, n, -1)


def support_violation(problem, samples) -> np.ndarray:
    """Fraction of each observation's samples that lie outside the prior's support (bounds, integrality).

    Args:
        problem: the :class:`innbench.problems.Problem` whose support counts.
        samples: posterior samples ``(m, n, x_dim)``.

    Returns:
        An array ``(m,)`` of fractions in [0, 1].

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.metrics import support_violation
        >>> box = get_problem("gaussian_mixture")  # theta in [-10, 10]^2
        >>> support_violation(box, np.array([[[0.0, 0.0], [20.0, 0.0], [1.0, 1.0], [0.0, -11.0]]]))
        array([0.5])
    """
    return 1.0 - problem.in_support(np.asarray(samples)).mean(axis=1)
