"""TARP: tests of accuracy with random points (Lemos, Coogan, Hezaveh & Perreault-Levasseur 2023).

For observation ``i`` with true parameters ``x_i``, posterior samples ``x_i^(1..n)`` and a random reference point
``r_i``, the credibility of ``x_i`` is the fraction of samples closer to ``r_i`` than ``x_i`` is::

    k_i = #{j : |x_i^(j) - r_i| < |x_i - r_i|},   f_i = (k_i + u_i) / (n + 1),   u_i ~ U(0, 1)

(distances in coordinates scaled by the pooled samples' standard deviation per parameter; the uniform ``u_i``
breaks the discreteness of ``k_i``, so ``f_i`` is exactly uniform on (0, 1) for an exact posterior). The expected
coverage probability ``ECP(a)`` is the fraction of observations with ``f_i < a``, the empirical distribution
function of the ``f_i``: the diagonal for an exact posterior. Unlike SBC's per-parameter ranks, it looks at all
parameters at once, and with reference points spread over the parameter space it is a necessary and sufficient
test of the posterior (the paper's Theorem 3).

Registered as ``tarp``: per observation ``tarp_credibility`` (``f_i``); summarised by ``tarp_ks_pvalue`` (the
Kolmogorov-Smirnov test of the ``f_i`` against U(0, 1)) and ``tarp_atc`` (the signed area between the ECP curve
and the diagonal, ``1/2 - mean f``: 0 for an exact posterior). Needs the true parameters. The reference points
are drawn uniformly over the box the samples span (pooled over all observations: a function of the observations
only, never of the true parameters).
"""

from __future__ import annotations

import numpy as np

from .registry import Inputs, Metric, Value, register_metric

__all__ = ["TARP_TITLE", "tarp_credibility", "tarp_ecp"]

#: the title of TARP's figure (:func:`innbench.api.evaluation_figures` and the report), drawn from :func:`tarp_ecp`
TARP_TITLE = "TARP: expected coverage of balls around random points (diagonal: exact)"


def tarp_credibility(samples: np.ndarray, x_true: np.ndarray, rng: np.random.Generator | int | None = None,
                     ) -> np.ndarray:
    """The TARP credibility ``f_i`` of each true parameter vector among its posterior samples (module docstring).

    Args:
        samples: posterior samples ``(m, n, x_dim)``; a non-finite sample counts as farther from the reference
            than the truth.
        x_true: the true parameters ``(m, x_dim)``.
        rng: a numpy generator or seed for the reference points and the tie-breaking.

    Returns:
        An array ``(m,)`` in (0, 1): uniform for an exact posterior.

    Example:
        >>> import numpy as np
        >>> from innbench.metrics.tarp import tarp_credibility
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(500, 2))                 # truths from the prior N(0, I)
        >>> y = x + rng.normal(size=(500, 2))             # observed with unit noise: posterior N(y/2, I/2)
        >>> exact = y[:, None] / 2 + rng.normal(size=(500, 300, 2)) * np.sqrt(0.5)
        >>> f = tarp_credibility(exact, x, rng=1)
        >>> bool(abs(f.mean() - 0.5) < 0.05)
        True
    """
    samples = np.asarray(samples, dtype=float)
    x_true = np.asarray(x_true, dtype=float)
    if samples.ndim != 3 or x_true.shape != (samples.shape[0], samples.shape[2]):
        raise ValueError(f"samples, x_true: expected shapes (m, n, d) and (m, d), got {samples.shape} and "
                         f"{x_true.shape}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    m, n, d = samples.shape
    pooled = samples.reshape(-1, d)
    pooled = pooled[np.isfinite(pooled).all(axis=1)]
    if not len(pooled):
        return np.full(m, np.nan)
    scale = pooled.std(axis=0)
    scale[~(scale > 0)] = 1.0
    lo, hi = pooled.min(axis=0), pooled.max(axis=0)
    ref = lo + (hi - lo) * rng.random((m, d))
    d_samples = np.linalg.norm((samples - ref[:, None]) / scale, axis=-1)  # (m, n); NaN: not closer
    d_true = np.linalg.norm((x_true - ref) / scale, axis=-1)
    closer = (d_samples < d_true[:, None]).sum(axis=1)
    return (closer + rng.random(m)) / (n + 1)


def tarp_ecp(credibility: np.ndarray, alphas: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The expected coverage probability curve: ``(alphas, ECP(alphas))``, ``ECP(a)`` the fraction of
    observations with credibility below ``a`` (NaN credibilities left out).

    Example:
        >>> import numpy as np
        >>> from innbench.metrics.tarp import tarp_ecp
        >>> a, ecp = tarp_ecp(np.array([0.1, 0.4, 0.6, 0.9]), np.array([0.0, 0.5, 1.0]))
        >>> ecp.tolist()
        [0.0, 0.5, 1.0]
    """
    f = np.asarray(credibility, dtype=float)
    f = f[np.isfinite(f)]
    alphas = np.linspace(0.0, 1.0, 101) if alphas is None else np.asarray(alphas, dtype=float)
    if not len(f):
        return alphas, np.full(len(alphas), np.nan)
    return alphas, (f[None, :] < alphas[:, None]).mean(axis=1)


def _tarp(inputs: Inputs) -> dict:
    f = tarp_credibility(inputs.samples, inputs.x_true, rng=np.random.default_rng([inputs.seed, 5077]))
    return {"tarp_credibility": f.tolist()}


def _summarize(values: dict, inputs) -> dict:
    f = values.get("tarp_credibility")
    f = None if f is None else np.asarray(f, dtype=float)
    if f is None or not np.isfinite(f).any():
        return {"tarp_ks_pvalue": None, "tarp_atc": None}
    from scipy.stats import kstest

    f = f[np.isfinite(f)]
    return {"tarp_ks_pvalue": float(kstest(f, "uniform").pvalue), "tarp_atc": float(0.5 - f.mean())}


register_metric(Metric(
    "tarp", _tarp,
    (Value("tarp_credibility", "TARP credibility", better=None, fmt=".3f",
           description="fraction of samples closer to a random reference point than the truth (uniform if exact)"),),
    needs={"x_true"}, cost="free", count="tarp_observations", summarize=_summarize,
    summary_titles=(("tarp_ks_pvalue", "TARP KS p-value"), ("tarp_atc", "TARP area to diagonal")),
    description="tests of accuracy with random points (Lemos et al. 2023): coverage of all parameters at once"))
