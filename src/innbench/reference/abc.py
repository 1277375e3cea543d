"""Quantile ABC, the authors' ground-truth method: for each y*, the k pool draws nearest in y."""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..runtime import check_deadline

__all__ = ["SAMPLER_VERSION", "quantile_abc"]

#: bumped whenever a change here changes what :func:`quantile_abc` draws: part of the reference cache's key
SAMPLER_VERSION = "1"


def quantile_abc(problem, y, n, rng, pool_size=2_000_000, chunk=1_000_000):
    """Approximate posterior draws for each row of ``y`` by quantile ABC.

    One pool of ``pool_size`` prior draws is simulated once; for every observation the ``n`` pool
    members whose simulated ``y`` lies nearest (Euclidean) are returned. The tolerance (distance of
    the n-th neighbour) therefore varies per observation and is reported. The authors used a pool of
    1e8; the default here is smaller so it fits in memory and minutes. Works for stochastic simulators.

    Returns ``(samples (m, n, x_dim), info)`` with ``info['tolerance']`` per observation.

    Args:
        problem: the :class:`innbench.problems.Problem` (any; no likelihood needed).
        y: observations ``(m, y_dim)``.
        n: samples per observation (at most ``pool_size``).
        rng: the ``numpy.random.Generator`` of the pool's simulations.
        pool_size: prior draws simulated once for all observations.
        chunk: simulations per batch.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.reference import quantile_abc
        >>> samples, info = quantile_abc(get_problem("linear"), np.array([[1.0]]), 100, np.random.default_rng(0),
        ...                              pool_size=20_000)
        >>> samples.shape, bool(info["tolerance"][0] < 0.05)  # the 100 nearest of 20,000 simulations
        ((1, 100, 2), True)
    """
    if n > pool_size:
        raise ValueError(f"n: quantile ABC needs n <= pool_size ({pool_size}), got {n}")
    xs, ys = [], []
    for start in range(0, pool_size, chunk):
        check_deadline()
        x, yy = problem.simulate(min(chunk, pool_size - start), rng)
        xs.append(x.astype(np.float32) if problem.x_dim > 8 else x)
        ys.append(yy)
    pool_x, pool_y = np.concatenate(xs), np.concatenate(ys)
    tree = cKDTree(pool_y)
    y = np.asarray(y, dtype=float)
    out = np.empty((len(y), n, problem.x_dim))
    tol = np.empty(len(y))
    for i, yi in enumerate(y):
        dist, idx = tree.query(yi, k=n, workers=-1)
        dist, idx = np.atleast_1d(dist), np.atleast_1d(idx)
        out[i] = pool_x[rng.permutation(idx)]
        tol[i] = dist.max()
    return out, {"method": "quantile-abc", "pool_size": pool_size, "tolerance": tol}
