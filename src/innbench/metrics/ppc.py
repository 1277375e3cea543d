"""A posterior predictive check: the energy score of the re-simulated observations against the observed one.

For observation ``y*`` and posterior samples ``x_j``, each sample is simulated again, ``Y_j ~ p(y | x_j)``
(the problem's own forward process, with its noise), and the check is the energy score of that posterior
predictive distribution at ``y*`` (Gneiting & Raftery 2007)::

    ES = mean_j d(Y_j, y*) - 1/2 mean_k d(Y_a(k), Y_b(k))

with ``d`` the problem's re-simulation distance (Euclidean, or the energy distance of sets) and ``(a(k), b(k))``
random pairs of distinct samples. It generalises Err_resim (the first term) to stochastic simulators: the
second term credits the spread the simulator's own noise puts into the re-simulations. For a deterministic
forward process and an exact posterior it is 0.

Read it against the reference's score, not as "lower is better": the energy score is proper for predicting a
*new* observation, but here ``y*`` is the observation the posterior was conditioned on (the data used twice, as
in every posterior predictive check), so a posterior concentrated too tightly can score below the exact one
(measured in ``tests/test_ppc.py``: on the 10-D Gaussian linear task an exact posterior scores 0.51, one shrunk
to 5 % of its spread 0.48, one three times too wide 0.75). Above the reference's score: the predictive misses
``y*``; below it: over-concentration.
Registered as ``ppc``: per observation ``ppc_energy``, and where the reference posterior has been drawn for the
same call (by Err_post or C2ST) the same score of the reference's samples, ``ppc_energy_reference``: the value
an exact posterior reaches with this many samples. Samples whose simulation fails are left out.
"""

from __future__ import annotations

import numpy as np

from .distances import resimulated
from .registry import Inputs, Metric, Value, register_metric

__all__ = ["energy_score"]


def energy_score(problem, samples: np.ndarray, y: np.ndarray, rng: np.random.Generator | int | None = None,
                 ) -> np.ndarray:
    """The posterior predictive energy score of ``samples`` at the observations ``y`` (module docstring).

    Args:
        problem: the :class:`innbench.problems.Problem` whose forward process re-simulates.
        samples: posterior samples ``(m, n, x_dim)`` (n at least 2).
        y: the observations ``(m, y_dim)``.
        rng: a numpy generator or seed (the simulator's noise and the pairs).

    Returns:
        An array ``(m,)``; NaN for an observation with fewer than two valid re-simulations.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.metrics.ppc import energy_score
        >>> linear = get_problem("linear")  # y = x1 + x2, deterministic
        >>> on_the_line = np.array([[[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]]])
        >>> energy_score(linear, on_the_line, np.array([[1.0]]), rng=0).tolist()
        [0.0]
    """
    samples = np.asarray(samples, dtype=float)
    y = np.asarray(y, dtype=float)
    m, n, d = samples.shape
    if n < 2:
        raise ValueError(f"samples: the energy score needs at least 2 samples per observation, got {n}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    yhat = resimulated(problem, samples, y, rng)
    to_obs = np.sqrt(problem.resimulation_sq_distance(yhat, y))  # (m, n), NaN where the simulation failed
    a = rng.integers(0, n, size=(m, n))
    b = (a + rng.integers(1, n, size=(m, n))) % n  # a different sample
    rows = np.arange(m)[:, None]
    pair_sq = problem.resimulation_sq_distance(yhat[rows, a].reshape(m * n, 1, -1), yhat[rows, b].reshape(m * n, -1))
    between = np.sqrt(pair_sq).reshape(m, n)
    valid = np.isfinite(to_obs).sum(1) >= 2
    first = np.where(np.isfinite(to_obs), to_obs, 0).sum(1) / np.maximum(np.isfinite(to_obs).sum(1), 1)
    second = np.where(np.isfinite(between), between, 0).sum(1) / np.maximum(np.isfinite(between).sum(1), 1)
    return np.where(valid, first - 0.5 * second, np.nan)


def _ppc(inputs: Inputs) -> dict:
    out = {"ppc_energy": energy_score(inputs.problem, inputs.samples, inputs.y,
                                      rng=np.random.default_rng([inputs.seed, 6151])).tolist()}
    if inputs.reference_drawn:  # drawn for Err_post or C2ST: the exact posterior's score, for free
        out["ppc_energy_reference"] = energy_score(inputs.problem, inputs.reference_samples(), inputs.y,
                                                   rng=np.random.default_rng([inputs.seed, 6152])).tolist()
    return out


register_metric(Metric(
    "ppc", _ppc,
    (Value("ppc_energy", "PPC energy score", better=None, summary=(("ppc_energy_mean", "nanmean"),),
           description="energy score of the re-simulated observations at y* (read against the reference's)"),
     Value("ppc_energy_reference", "PPC energy score of the reference", better=None,
           summary=(("ppc_energy_reference_mean", "nanmean"),),
           description="the same score of the reference posterior's samples (where drawn): what an exact "
                       "posterior reaches")),
    needs={"simulator"}, cost="simulations",
    description="posterior predictive check: the energy score of the posterior predictive at y* "
                "(Gneiting & Raftery 2007), Err_resim's generalisation to stochastic simulators"))
