"""Tasks of the simulation-based-inference benchmark (sbibm; Lueckmann et al. 2021) with exact posteriors."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

import numpy as np

from ..base import Problem, refuse_rows

__all__ = ["SBIBM_SOURCE", "BernoulliGLM", "GaussianLinear", "GaussianMixture", "MCMCReference", "SLCP",
           "SBIBMTask", "TwoMoons", "sbibm_observations"]

_SQRT2 = np.sqrt(2.0)
_LOG_2PI = np.log(2 * np.pi)


@cache
def _sbibm_data() -> dict:
    return json.loads(resources.files(__package__).joinpath("data/sbibm_observations.json").read_text())


#: where the bundled observations come from (scripts/import_sbibm.py extracted them from the sbibm wheel)
SBIBM_SOURCE = "sbibm 1.1.0 (Lueckmann et al. 2021, https://github.com/sbi-benchmark/sbibm), MIT licence"


def sbibm_observations(task: str) -> tuple[np.ndarray, np.ndarray]:
    """sbibm's ten fixed observations of ``task`` and their true parameters: ``(x_true (10, d), y (10, m))``,
    exactly as sbibm 1.1.0 stores them (observation ``k`` of sbibm is row ``k - 1``).

    Example:
        >>> from innbench.problems.sbi import sbibm_observations
        >>> x_true, y = sbibm_observations("slcp")
        >>> x_true.shape, y.shape
        ((10, 5), (10, 8))
    """
    tasks = _sbibm_data()["tasks"]
    if task not in tasks:
        raise KeyError(f"task: sbibm observations are bundled for {', '.join(sorted(tasks))}; got {task!r}")
    entry = tasks[task]
    return np.asarray(entry["true_parameters"], dtype=float), np.asarray(entry["observations"], dtype=float)


class SBIBMTask(Problem):
    """The base of sbibm's tasks: their ten published observations (sbibm's) are bundled as
    :meth:`fixed_observations`, and the report draws observation 1."""

    def fixed_observations(self):
        return sbibm_observations(self.name)

    def showcase_observations(self):
        """sbibm's observation 1."""
        return sbibm_observations(self.name)[1][:1]


def _box_log_prior(x, low, high):
    x = np.asarray(x, dtype=float)
    return np.where(((x >= low) & (x <= high)).all(-1), 0.0, -np.inf)


class TwoMoons(SBIBMTask):
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

    Registered as ``"two_moons"``; sbibm's ten observations are its :meth:`fixed_observations`.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import TwoMoons
        >>> p = TwoMoons()
        >>> x, y = p.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, p.stochastic
        ((5, 2), (5, 2), True)
        >>> x_true, y_fixed = p.fixed_observations()
        >>> y_fixed.shape
        (10, 2)
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

    #: ``(theta1, theta2) -> (-theta2, -theta1)`` flips the sign of theta1 + theta2 and keeps theta2 - theta1
    symmetries = (((0.0, -1.0), (-1.0, 0.0)),)

    def log_prior(self, x):
        return _box_log_prior(x, -1.0, 1.0)

    def log_likelihood(self, x, y):
        """The noise ``p = y - g(theta)`` has density ``N(r; 0.1, 0.01^2) / (pi r)`` in polar coordinates
        ``(r, a)`` around ``(0.25, 0)`` for ``|a| < pi/2`` (the Jacobian of ``(a, r) -> p`` is ``r``)."""
        x = np.asarray(x, dtype=float)
        p1 = y[0] + np.abs(x[:, 0] + x[:, 1]) / _SQRT2 - 0.25
        p2 = y[1] - (x[:, 1] - x[:, 0]) / _SQRT2
        r = np.hypot(p1, p2)
        with np.errstate(divide="ignore"):
            out = -0.5 * ((r - 0.1) / 0.01) ** 2 - np.log(0.01) - 0.5 * _LOG_2PI - np.log(np.pi * r)
        return np.where(p1 > 0, out, -np.inf)

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


class GaussianLinear(SBIBMTask):
    r"""sbibm's ``gaussian_linear``: ``theta ~ N(0, 0.1 I_10)``, ``y | theta ~ N(theta, 0.1 I_10)``.

    **Closed-form posterior**: ``theta | y ~ N(y / 2, 0.05 I)`` (both covariances are ``0.1 I``).
    Observations farther than ``sqrt(0.2 * 120)`` (about 4.9) from 0 in a coordinate have prior-predictive
    log density below -60 there and are refused as unreachable.

    Registered as ``"gaussian_linear"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import GaussianLinear
        >>> p = GaussianLinear()
        >>> draws, _ = p.exact_posterior(np.ones((1, 10)), 2000, np.random.default_rng(0))
        >>> draws.shape, bool(abs(draws.mean() - 0.5) < 0.01)  # the posterior mean is y / 2
        ((1, 2000, 10), True)
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

    def log_prior(self, x):
        return -0.5 * np.sum(np.asarray(x, dtype=float) ** 2, -1) / self.PRIOR_VAR

    def log_likelihood(self, x, y):
        return -0.5 * np.sum((y - np.asarray(x, dtype=float)) ** 2, -1) / self.NOISE_VAR

    def exact_posterior(self, y, n, rng, **kwargs):
        y = np.asarray(y, dtype=float)
        shrink = self.PRIOR_VAR / (self.PRIOR_VAR + self.NOISE_VAR)
        var = self.PRIOR_VAR * self.NOISE_VAR / (self.PRIOR_VAR + self.NOISE_VAR)
        out = shrink * y[:, None, :] + np.sqrt(var) * rng.standard_normal((len(y), n, self.dim))
        return out, {"method": "exact-closed-form", "ess": np.full(len(y), float(n))}


class GaussianMixture(SBIBMTask):
    r"""sbibm's ``gaussian_mixture``: ``theta ~ U(-10, 10)^2`` and ``y | theta`` is ``N(theta, I)`` or
    ``N(theta, 0.01 I)`` with probability 1/2 each: a broad and a narrow mode on the same spot.

    **Exact posterior**: ``p(theta | y) ∝ 1[theta in box] (N(theta; y, I) + N(theta; y, 0.01 I))``, a
    mixture of the two Gaussians truncated to the box; component ``k`` has weight proportional to its mass
    inside the box, ``prod_d (Phi((10 - y_d) / s_k) - Phi((-10 - y_d) / s_k))``, and is drawn exactly by
    the inverse CDF of the truncated normal per coordinate.

    Registered as ``"gaussian_mixture"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import GaussianMixture
        >>> p = GaussianMixture()
        >>> x, y = p.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, p.bounds
        ((5, 2), (5, 2), ((-10.0, 10.0), (-10.0, 10.0)))
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

    def log_prior(self, x):
        return _box_log_prior(x, self.LOW, self.HIGH)

    def log_likelihood(self, x, y):
        d2 = np.sum((y - np.asarray(x, dtype=float)) ** 2, -1)
        comps = [-0.5 * d2 / s**2 - 2 * np.log(s) for s in self.SCALES]  # 2-D Gaussians, common constants dropped
        return np.logaddexp(*comps) + np.log(0.5)

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


class MCMCReference:
    """The reference posterior by ensemble MCMC on the exact likelihood
    (:func:`innbench.reference.mcmc.mcmc_posterior`), with R-hat and effective sample size per observation in the
    provenance."""

    reference_label = "MCMC"

    def exact_posterior(self, y, n, rng, **kwargs):
        return self.likelihood_mcmc(y, n, rng, **kwargs)


class SLCP(MCMCReference, SBIBMTask):
    r"""sbibm's ``slcp`` ("simple likelihood, complex posterior"; Papamakarios et al. 2019): five parameters,
    ``theta ~ U(-3, 3)^5``; the observation is four i.i.d. draws from a 2-D Gaussian, flattened to 8 numbers
    ``(u1, v1, u2, v2, ...)``, with mean ``(theta1, theta2)``, standard deviations ``s1 = theta3^2``,
    ``s2 = theta4^2`` and correlation ``tanh(theta5)`` (plus ``1e-6`` on the covariance's diagonal, as sbibm).

    The likelihood depends on theta3 and theta4 only through their squares, so the posterior has four
    mirrored modes (:attr:`symmetries`). **Reference**: ensemble MCMC on the exact likelihood with the sign
    flips applied exactly (sbibm itself uses rejection sampling from a flow proposal;
    ``benchmarks/sbibm_references.py`` compares the two).

    Observations with a coordinate beyond ``3 + 9 sqrt(120)`` (about 101.6: the largest mean plus the
    largest standard deviation times ``sqrt(120)``, where the log density is below -60) are refused.

    Registered as ``"slcp"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import SLCP
        >>> p = SLCP()
        >>> x, y = p.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, p.reference_kind
        ((5, 5), (5, 8), 'MCMC')
        >>> flip = np.array(p.symmetries[0])  # the sign of theta3 leaves the likelihood unchanged
        >>> bool(np.allclose(p.log_likelihood(x, y[0]), p.log_likelihood(x @ flip, y[0])))
        True
    """

    name = "slcp"
    x_names = tuple(f"theta{i + 1}" for i in range(5))
    y_names = tuple(f"{c}{j + 1}" for j in range(4) for c in ("u", "v"))
    bounds = ((-3.0, 3.0),) * 5
    stochastic = True
    EPS = 1e-6
    symmetries = (np.diag([1.0, 1.0, -1.0, 1.0, 1.0]).tolist(), np.diag([1.0, 1.0, 1.0, -1.0, 1.0]).tolist())

    def sample_prior(self, n, rng):
        return rng.uniform(-3.0, 3.0, (n, 5))

    def _moments(self, x):
        x = np.asarray(x, dtype=float)
        s1, s2, rho = x[:, 2] ** 2, x[:, 3] ** 2, np.tanh(x[:, 4])
        return x[:, :2], s1**2 + self.EPS, s2**2 + self.EPS, rho * s1 * s2

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'slcp' is stochastic: pass a numpy Generator as rng")
        mean, v1, v2, c = self._moments(x)
        # Cholesky factor of [[v1, c], [c, v2]]
        l11 = np.sqrt(v1)
        l21 = c / l11
        l22 = np.sqrt(np.maximum(v2 - l21**2, 0.0))
        z = rng.standard_normal((len(mean), 4, 2))
        u = mean[:, None, 0] + l11[:, None] * z[..., 0]
        v = mean[:, None, 1] + l21[:, None] * z[..., 0] + l22[:, None] * z[..., 1]
        return np.stack([u, v], -1).reshape(len(mean), 8)

    def log_prior(self, x):
        return _box_log_prior(x, -3.0, 3.0)

    def log_likelihood(self, x, y):
        mean, v1, v2, c = self._moments(x)
        det = v1 * v2 - c**2
        pts = np.asarray(y, dtype=float).reshape(4, 2)
        du = pts[None, :, 0] - mean[:, None, 0]
        dv = pts[None, :, 1] - mean[:, None, 1]
        quad = (v2[:, None] * du**2 - 2 * c[:, None] * du * dv + v1[:, None] * dv**2) / det[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            out = -0.5 * quad.sum(1) - 2.0 * np.log(det) - 4 * _LOG_2PI
        return np.where(det > 0, out, -np.inf)

    def check_observations(self, y):
        limit = 3.0 + 9.0 * np.sqrt(120.0)
        refuse_rows((np.abs(y) > limit).any(1), y,
                    f"every coordinate must lie in [-{limit:.1f}, {limit:.1f}] (where the prior predicts observations)")


class BernoulliGLM(MCMCReference, SBIBMTask):
    r"""sbibm's ``bernoulli_glm``: a generalised linear model of a neuron's spikes in 100 time bins.

    Parameters ``theta = (beta0, f_1..f_9)``: an offset and a 9-tap stimulus filter, prior
    ``N(0, B^{-1})`` with precision ``B = diag(0.5, F^T F)``, ``F = D^2 + diag(sqrt(k / 9))`` (``D`` the
    first-difference matrix, ``k = 0..8``; it favours smooth filters). Design matrix ``X`` (100 x 10): a
    column of ones and the white-noise stimulus ``I ~ N(0, 1)`` (``RandomState(42)``, float32, as sbibm)
    delayed by 0..8 bins. Spikes ``s_t ~ Bernoulli(sigmoid(X theta)_t)``; the observation is the sufficient
    statistic ``X^T s`` (the spike count and the spike-triggered sums, sbibm's 10 summary features).

    ``log p(y | theta) = theta . y - sum_t softplus((X theta)_t)`` up to a constant in ``theta``: the summary
    is sufficient, so this posterior equals the one given the raw spike train. **Reference**: ensemble MCMC
    on it (the posterior is log-concave; sbibm uses Polya-gamma Gibbs sampling on the same likelihood).

    Observations are refused unless the spike count is an integer in [0, 100] and each stimulus sum lies
    between the sums of the stimulus's negative and positive values (what some spike train can produce).

    Registered as ``"bernoulli_glm"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import BernoulliGLM
        >>> p = BernoulliGLM()
        >>> x, y = p.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, BernoulliGLM.design_matrix().shape
        ((5, 10), (5, 10), (100, 10))
        >>> bool(((0 <= y[:, 0]) & (y[:, 0] <= 100)).all())  # the first summary is the spike count
        True
    """

    name = "bernoulli_glm"
    x_names = ("beta0",) + tuple(f"f{i + 1}" for i in range(9))
    y_names = ("spikes",) + tuple(f"sta{i + 1}" for i in range(9))
    stochastic = True
    T = 100

    @staticmethod
    @cache
    def design_matrix() -> np.ndarray:
        stim = np.random.RandomState(42).randn(100).astype(np.float32).astype(float)
        x = np.zeros((100, 10))
        x[:, 0] = 1.0
        for j in range(9):
            x[j:, j + 1] = stim[: 100 - j]
        return x

    @staticmethod
    @cache
    def prior_precision() -> np.ndarray:
        m = 9
        d = np.eye(m) - np.eye(m, k=-1)
        f = d @ d + np.diag(np.sqrt(np.arange(m) / m))
        b = np.zeros((10, 10))
        b[0, 0] = 0.5
        b[1:, 1:] = f.T @ f
        return b

    def sample_prior(self, n, rng):
        chol = np.linalg.cholesky(self.prior_precision())  # B = L L^T, so theta = L^{-T} z has covariance B^{-1}
        return np.linalg.solve(chol.T, rng.standard_normal((10, n))).T

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'bernoulli_glm' is stochastic: pass a numpy Generator as rng")
        design = self.design_matrix()
        psi = np.asarray(x, dtype=float) @ design.T
        with np.errstate(over="ignore"):  # exp(-psi) = inf for psi << 0: probability 0, as it should be
            spikes = (rng.uniform(size=psi.shape) < 1.0 / (1.0 + np.exp(-psi))).astype(float)
        return spikes @ design

    def log_prior(self, x):
        x = np.asarray(x, dtype=float)
        return -0.5 * np.einsum("ki,ij,kj->k", x, self.prior_precision(), x)

    def log_likelihood(self, x, y):
        x = np.asarray(x, dtype=float)
        return x @ np.asarray(y, dtype=float) - np.logaddexp(0.0, x @ self.design_matrix().T).sum(1)

    def check_observations(self, y):
        count = y[:, 0]
        refuse_rows((count < 0) | (count > self.T) | (np.abs(count - np.round(count)) > 1e-6), y,
                    "the spike count (first column) must be an integer in [0, 100]", column=0)
        design = self.design_matrix()[:, 1:]
        low, high = np.minimum(design, 0).sum(0) - 1e-4, np.maximum(design, 0).sum(0) + 1e-4
        refuse_rows(((y[:, 1:] < low) | (y[:, 1:] > high)).any(1), y,
                    "each stimulus sum must lie between the sums of the stimulus's negative and positive values")
