"""Tasks of the simulation-based-inference benchmark (sbibm; Lueckmann et al. 2021) with exact posteriors."""

from __future__ import annotations

import numpy as np

from .base import Problem

__all__ = ["TwoMoons"]

_SQRT2 = np.sqrt(2.0)


class TwoMoons(Problem):
    r"""The two-moons task (Greenberg et al. 2019; sbibm's ``two_moons``): a stochastic simulator whose
    posterior is two thin crescents.

    Prior ``theta ~ U(-1, 1)^2``. Simulator: ``a ~ U(-pi/2, pi/2)``, ``r ~ N(0.1, 0.01^2)``,
    ``p = (r cos a + 0.25, r sin a)``, and
    ``y = p + (-|theta1 + theta2| / sqrt 2, (-theta1 + theta2) / sqrt 2)``.

    **Exact posterior** (no tolerance, no weights): the map ``g(theta) = (-|theta1 + theta2| / sqrt 2,
    (theta2 - theta1) / sqrt 2)`` is two-to-one with ``|det J| = 1`` on both sheets, so
    ``p(theta | y*) ∝ 1[theta in prior box] p_noise(y* - g(theta))``. Draws: sample the noise ``p`` as the
    simulator does, take one of the two preimages of ``u = y* - p`` with probability 1/2 each (none if
    ``u1 > 0``) and keep it if it lies in the box. Each accepted draw is independent.
    """

    name = "two_moons"
    x_names = ("theta1", "theta2")
    y_names = ("y1", "y2")
    bounds = ((-1.0, 1.0), (-1.0, 1.0))
    stochastic = True

    def sample_prior(self, n, rng):
        return rng.uniform(-1.0, 1.0, (n, 2))

    @staticmethod
    def _noise(n, rng):
        a = rng.uniform(-np.pi / 2, np.pi / 2, n)
        r = 0.1 + 0.01 * rng.standard_normal(n)
        return np.stack([r * np.cos(a) + 0.25, r * np.sin(a)], -1)

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'two_moons' is stochastic: pass a numpy Generator as rng")
        x = np.asarray(x, dtype=float)
        p = self._noise(len(x), rng)
        return p + np.stack([-np.abs(x[:, 0] + x[:, 1]) / _SQRT2, (x[:, 1] - x[:, 0]) / _SQRT2], -1)

    def exact_posterior(self, y, n, rng, max_proposals: int = 10**8, **kwargs):
        y = np.asarray(y, dtype=float)
        out = np.empty((len(y), n, 2))
        acceptance = np.empty(len(y))
        for i, yi in enumerate(y):
            got, tried = [], 0
            filled = 0
            while filled < n:
                if tried >= max_proposals:
                    raise ValueError(f"observations: row {i} ({yi.tolist()}) is practically unreachable under "
                                     f"the prior ({filled} of {n} posterior draws after {tried} proposals)")
                k = max(4 * (n - filled), 10_000)
                u = yi - self._noise(k, rng)
                s = -_SQRT2 * u[:, 0] * rng.choice([-1.0, 1.0], k)  # theta1 + theta2, either sheet
                d = _SQRT2 * u[:, 1]  # theta2 - theta1
                th = np.stack([(s - d) / 2, (s + d) / 2], -1)
                ok = (u[:, 0] <= 0) & (np.abs(th) <= 1).all(-1)
                th = th[ok][: n - filled]
                got.append(th)
                filled += len(th)
                tried += k
            out[i] = np.concatenate(got)
            acceptance[i] = n / tried
        return out, {"method": "exact-inversion", "ess": np.full(len(y), float(n)), "acceptance": acceptance}
