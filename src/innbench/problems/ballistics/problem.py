"""Inverse ballistics with linear air drag (Kruse et al. 2019, Sec. 3.2; docs/protocol.md)."""

from __future__ import annotations

import numpy as np

from ..base import Problem, first_showcase, importance_resample, refuse_rows
from .physics import K, M, impact_time

__all__ = ["Ballistics"]

X3_LOW, X3_HIGH = np.deg2rad(9.0), np.deg2rad(81.0)
X1_STD = 0.5
X2_MEAN, X2_STD = 1.5, 0.5
X4_RATE = 15.0
#: the plausible impacts: the range of a throw is below its horizontal speed times m/k (linear drag), a
#: speed above 72 has prior log-probability below -60 under Poisson(15), and x1 lies within sqrt(120)
#: standard deviations (log density -60, the weights the exact sampler cannot resolve); beyond these
#: an impact has (numerically) no solution in the prior's support
_X1_REACH = X1_STD * np.sqrt(120.0)
Y_LOW, Y_HIGH = -_X1_REACH, 72 * M / K + _X1_REACH


class Ballistics(Problem):
    r"""A throw from ``(x1, x2)`` at angle ``x3`` with speed ``x4``; ``y`` is where it hits the ground.

    Constants ``g = 9.81``, ``k = 0.25``, ``m = 0.2``, linear drag, closed-form trajectory
    (docs/protocol.md's corrected ``T2``). Prior: ``x1 ~ N(0, 0.5^2)``, ``x2 ~ N(1.5, 0.5^2)`` clipped below
    at 0, ``x3 ~ U(9 deg, 81 deg)`` (in radians), ``x4 ~ Poisson(15)`` (integer). ``y = T1(t*)`` at the
    exact descending root ``t*``. Throws that never land give NaN, the explicit invalid marker.
    Since ``y = x1 + R(x2, x3, x4)`` with ``0 <= R < 0.8 x4``, impacts outside ``[Y_LOW, Y_HIGH]``
    (about [-5.5, 63]) need a start or a speed the prior (numerically) never gives; they are refused.

    The **reference** posterior is exact (:meth:`exact_posterior`). Registered as ``"ballistics"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import Ballistics
        >>> throw = Ballistics()
        >>> throw.y_names, throw.discrete  # the speed x4 is an integer
        (('impact',), (3,))
        >>> x, y = throw.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, bool((x[:, 3] == np.round(x[:, 3])).all())
        ((5, 4), (5, 1), True)
    """

    name = "ballistics"
    x_names = ("x1 (start horizontal)", "x2 (start height)", "x3 (angle, rad)", "x4 (speed)")
    y_names = ("impact",)
    discrete = (3,)
    bounds = ((-np.inf, np.inf), (0.0, np.inf), (X3_LOW, X3_HIGH), (0.0, np.inf))

    def check_observations(self, y):
        refuse_rows((y[:, 0] < Y_LOW) | (y[:, 0] > Y_HIGH), y,
                    f"impact must lie in [{Y_LOW:.2f}, {Y_HIGH:.2f}] (where the prior's throws land)", column=0)

    def showcase_observations(self):
        """The paper's Figure 3 impact position, 5."""
        return np.array([[5.0]])

    def posterior_figure(self, panels, observations=None):
        """Figure 3 of the paper for the first showcase impact: trajectories and the impact density."""
        from .figures import ballistics_posterior_figure

        first, y_star = first_showcase(panels)
        if y_star is None:
            return None
        fig = ballistics_posterior_figure(first, y_star, problem=self)
        return fig, f"Figure 3: posteriors for y* = {y_star.tolist()}: trajectories and the impact density."

    def draw_prior(self, fig, spec, samples, color):
        """Figure 1 of the paper: prior throws and the density of their impacts."""
        from .figures import draw_ballistics_prior

        draw_ballistics_prior(fig, spec, self, samples, color)

    view_kind = "ballistics"

    def view_drawing(self, x, y_star):
        """Trajectories, the most likely throw and the impact density (:func:`~innbench.problems.ballistics.view.
        ballistics_drawing`)."""
        from .view import ballistics_drawing

        return ballistics_drawing(self, x, float(np.ravel(y_star)[0]))

    def view_info(self):
        """The impact slider's range: 1-99 % of 2000 prior-predictive impacts."""
        _, y = self.simulate(2000, np.random.default_rng(0))
        return {"y_range": np.round(np.percentile(y[:, 0], [1, 99]), 2).tolist()}

    def sample_prior(self, n, rng):
        x = np.empty((n, 4))
        x[:, 0] = rng.normal(0.0, X1_STD, n)
        x[:, 1] = np.maximum(rng.normal(X2_MEAN, X2_STD, n), 0.0)
        x[:, 2] = rng.uniform(X3_LOW, X3_HIGH, n)
        x[:, 3] = rng.poisson(X4_RATE, n)
        return x

    def range_(self, x):
        """Horizontal distance travelled, ``R = T1(t*) - x1`` (NaN if the throw never lands)."""
        x = np.asarray(x, dtype=float)
        t = impact_time(x)
        vx = x[..., 3] * np.cos(x[..., 2])
        return vx * M / K * (1 - np.exp(-K * t / M))

    def forward(self, x, rng=None):
        x = np.asarray(x, dtype=float)
        return (x[..., 0] + self.range_(x))[..., None]

    def exact_posterior(self, y, n, rng, min_ess=10_000, batch=500_000, max_proposals=20_000_000):
        r"""Importance resampling: ``(x2, x3, x4)`` from the prior, ``x1 = y* - R``, weight ``p(x1)``.

        One proposal pool serves all observations; an observation whose ESS stays below ``min_ess``
        draws more proposals (up to ``max_proposals``; the ESS reached is reported either way).
        """
        y = np.asarray(y, dtype=float)[:, 0]
        pool = self.sample_prior(batch, rng)
        pool_r = self.range_(pool)
        out = np.empty((len(y), n, 4))
        ess = np.empty(len(y))
        used = np.empty(len(y), dtype=np.int64)
        for i, ys in enumerate(y):
            props, rs = [pool], [pool_r]
            total = batch
            while True:
                x1 = ys - np.concatenate(rs)
                lw = -0.5 * (x1 / X1_STD) ** 2
                w = np.exp(lw - lw.max())
                cur = w.sum() ** 2 / np.sum(w**2)
                if cur >= min_ess or total >= max_proposals:
                    break
                extra = self.sample_prior(batch, rng)
                props.append(extra)
                rs.append(self.range_(extra))
                total += batch
            cand = np.concatenate(props).copy()
            cand[:, 0] = x1
            out[i], ess[i] = importance_resample(cand, lw, n, rng)
            used[i] = total
        return out, {"method": "exact-importance", "ess": ess, "proposals": used, "min_ess": min_ess}
