"""Tasks of the simulation-based-inference benchmark (sbibm; Lueckmann et al. 2021) with exact posteriors."""

from __future__ import annotations

import numpy as np

from .base import Problem, refuse_rows

__all__ = ["GaussianLinear", "GaussianMixture", "TwoMoons"]

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


class GaussianLinear(Problem):
    r"""sbibm's ``gaussian_linear``: ``theta ~ N(0, 0.1 I_10)``, ``y | theta ~ N(theta, 0.1 I_10)``.

    **Closed-form posterior**: ``theta | y ~ N(y / 2, 0.05 I)`` (both covariances are ``0.1 I``).
    Observations farther than ``sqrt(0.2 * 120)`` (about 4.9) from 0 in a coordinate have prior-predictive
    log density below -60 there and are refused as unreachable.
    """

    name = "gaussian_linear"
    dim = 10
    x_names = tuple(f"theta{i + 1}" for i in range(10))
    y_names = tuple(f"y{i + 1}" for i in range(10))
    stochastic = True
    PRIOR_VAR = 0.1
    NOISE_VAR = 0.1

    def sample_prior(self, n, rng):
        return np.sqrt(self.PRIOR_VAR) * rng.standard_normal((n, self.dim))

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'gaussian_linear' is stochastic: pass a numpy Generator as rng")
        x = np.asarray(x, dtype=float)
        return x + np.sqrt(self.NOISE_VAR) * rng.standard_normal(x.shape)

    def check_observations(self, y):
        limit = np.sqrt((self.PRIOR_VAR + self.NOISE_VAR) * 120.0)
        refuse_rows((np.abs(y) > limit).any(1), y,
                    f"every coordinate must lie in [-{limit:.2f}, {limit:.2f}] (where the prior predicts observations)")

    def exact_posterior(self, y, n, rng, **kwargs):
        y = np.asarray(y, dtype=float)
        shrink = self.PRIOR_VAR / (self.PRIOR_VAR + self.NOISE_VAR)
        var = self.PRIOR_VAR * self.NOISE_VAR / (self.PRIOR_VAR + self.NOISE_VAR)
        out = shrink * y[:, None, :] + np.sqrt(var) * rng.standard_normal((len(y), n, self.dim))
        return out, {"method": "exact-closed-form", "ess": np.full(len(y), float(n))}


class GaussianMixture(Problem):
    r"""sbibm's ``gaussian_mixture``: ``theta ~ U(-10, 10)^2`` and ``y | theta`` is ``N(theta, I)`` or
    ``N(theta, 0.01 I)`` with probability 1/2 each: a broad and a narrow mode on the same spot.

    **Exact posterior**: ``p(theta | y) ∝ 1[theta in box] (N(theta; y, I) + N(theta; y, 0.01 I))``, a
    mixture of the two Gaussians truncated to the box; component ``k`` has weight proportional to its mass
    inside the box, ``prod_d (Phi((10 - y_d) / s_k) - Phi((-10 - y_d) / s_k))``, and is drawn exactly by
    the inverse CDF of the truncated normal per coordinate.
    """

    name = "gaussian_mixture"
    x_names = ("theta1", "theta2")
    y_names = ("y1", "y2")
    bounds = ((-10.0, 10.0), (-10.0, 10.0))
    stochastic = True
    SCALES = (1.0, 0.1)
    LOW, HIGH = -10.0, 10.0

    def sample_prior(self, n, rng):
        return rng.uniform(self.LOW, self.HIGH, (n, 2))

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'gaussian_mixture' is stochastic: pass a numpy Generator as rng")
        x = np.asarray(x, dtype=float)
        scale = np.where(rng.uniform(size=(len(x), 1)) < 0.5, self.SCALES[0], self.SCALES[1])
        return x + scale * rng.standard_normal(x.shape)

    def check_observations(self, y):
        limit = self.HIGH + self.SCALES[0] * np.sqrt(120.0)
        refuse_rows((np.abs(y) > limit).any(1), y,
                    f"every coordinate must lie in [-{limit:.2f}, {limit:.2f}] (within reach of the prior box)")

    def exact_posterior(self, y, n, rng, **kwargs):
        from scipy.special import log_ndtr
        from scipy.stats import truncnorm

        def log_mass(lo_, hi_):  # log(Phi(hi) - Phi(lo)) per coordinate, stable in both tails
            flip = lo_ > 0
            lo_, hi_ = np.where(flip, -hi_, lo_), np.where(flip, -lo_, hi_)
            lb, hb = log_ndtr(lo_), log_ndtr(hi_)
            return hb + np.log1p(-np.exp(np.minimum(lb - hb, 0.0)))

        y = np.asarray(y, dtype=float)
        out = np.empty((len(y), n, 2))
        weights = np.empty((len(y), 2))
        for i, yi in enumerate(y):
            lo = [(self.LOW - yi) / s for s in self.SCALES]
            hi = [(self.HIGH - yi) / s for s in self.SCALES]
            # log mass of each component inside the box (both components have prior weight 1/2)
            logm = np.array([log_mass(lo_, h).sum() for lo_, h in zip(lo, hi, strict=True)])
            w = np.exp(logm - logm.max())
            w /= w.sum()
            weights[i] = w
            k = (rng.uniform(size=n) >= w[0]).astype(int)  # 0: broad, 1: narrow
            for comp in (0, 1):
                rows = np.flatnonzero(k == comp)
                if not len(rows):
                    continue
                out[i, rows] = truncnorm.rvs(lo[comp], hi[comp], loc=yi, scale=self.SCALES[comp],
                                             size=(len(rows), 2), random_state=rng)
        return out, {"method": "exact-closed-form", "ess": np.full(len(y), float(n)),
                     "component_weights": weights.tolist()}
