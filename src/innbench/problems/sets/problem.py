"""A problem observed through a set: a Gaussian's mean and covariance from ``n`` i.i.d. draws, 5 <= n <= 100."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..base import Problem, bundled_observations

__all__ = ["GaussianSet"]


class GaussianSet(Problem):
    r"""The mean and covariance of a 2-D Gaussian from a set of ``n`` of its draws, ``n`` from 5 to 100.

    Prior (normal-inverse-Wishart, conjugate): ``Sigma ~ IW(nu0 = 5, Psi0 = 2 I)`` (so ``E[Sigma] = I``),
    ``mu | Sigma ~ N(0, Sigma / kappa0)`` with ``kappa0 = 1``. Parameters ``x = (mu1, mu2, log L11, L21,
    log L22)`` with ``Sigma = L L^T`` (``L`` lower triangular with a positive diagonal): unconstrained
    coordinates, one to one with ``(mu, Sigma)``. Observation: ``n ~ U{5, ..., 100}`` draws ``y_i ~ N(mu,
    Sigma)``, an exchangeable set (order carries nothing), stored as 100 items of 2 values with the items
    past ``n`` NaN.

    The posterior is normal-inverse-Wishart again, with ``kappa_n = kappa0 + n``, ``nu_n = nu0 + n``,
    ``mu_n = n ybar / kappa_n`` and ``Psi_n = Psi0 + S + kappa0 n / kappa_n ybar ybar^T`` (``S`` the scatter
    matrix about ``ybar``; Gelman et al., Bayesian Data Analysis, sec. 3.6), so :meth:`exact_posterior`
    draws it exactly; it narrows as ``n`` grows, which a summary network must learn from the set's size.
    :meth:`log_prior` and :meth:`log_likelihood` are the same model in ``x`` (with the Jacobian
    ``|d Sigma / d x| = 4 exp(3 a + 2 c)`` of ``a = log L11``, ``c = log L22``), for the MCMC baseline.

    Registered as ``"gaussian_set"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import GaussianSet
        >>> p = GaussianSet()
        >>> x, y = p.simulate(3, np.random.default_rng(0))
        >>> x.shape, y.shape, p.observation_shape  # each row: 100 items of 2 values, flat
        ((3, 5), (3, 200), (100, 2))
        >>> p.observation_lengths(y)  # items present in each set; the rest is NaN padding
        array([ 5, 16,  5])
    """

    name = "gaussian_set"
    x_names = ("mu1", "mu2", "log_l11", "l21", "log_l22")
    observation_kind = "set"
    observation_shape = (100, 2)
    min_length = 5
    y_names = tuple(f"item{i + 1}_{c}" for i in range(100) for c in ("u", "v"))
    stochastic = True
    version = "1"
    nu0, kappa0 = 5.0, 1.0
    psi0 = 2.0 * np.eye(2)

    @staticmethod
    def to_params(mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """``(mu (k, 2), Sigma (k, 2, 2))`` as parameter rows ``(k, 5)``."""
        chol = np.linalg.cholesky(sigma)
        return np.column_stack([mu, np.log(chol[:, 0, 0]), chol[:, 1, 0], np.log(chol[:, 1, 1])])

    @staticmethod
    def from_params(x: np.ndarray):
        """Parameter rows ``(k, 5)`` as ``(mu (k, 2), L (k, 2, 2))`` with ``Sigma = L L^T``."""
        x = np.asarray(x, dtype=float)
        chol = np.zeros((len(x), 2, 2))
        chol[:, 0, 0], chol[:, 1, 0], chol[:, 1, 1] = np.exp(x[:, 2]), x[:, 3], np.exp(x[:, 4])
        return x[:, :2], chol

    def _niw(self, n, mu_c, kappa, nu, psi, rng):
        """``n`` draws of (mu, Sigma) from NIW(mu_c, kappa, nu, psi) as parameter rows."""
        sigma = stats.invwishart(df=nu, scale=psi).rvs(size=n, random_state=rng).reshape(n, 2, 2)
        chol = np.linalg.cholesky(sigma / kappa)
        mu = mu_c + np.einsum("kij,kj->ki", chol, rng.standard_normal((n, 2)))
        return self.to_params(mu, sigma)

    def sample_prior(self, n, rng):
        return self._niw(n, np.zeros(2), self.kappa0, self.nu0, self.psi0, rng)

    def _draws(self, x, rng, sizes):
        mu, chol = self.from_params(x)
        items = mu[:, None, :] + np.einsum("kij,knj->kni", chol, rng.standard_normal((len(x), 100, 2)))
        items[np.arange(100) >= np.asarray(sizes)[:, None]] = np.nan
        return items.reshape(len(x), -1)

    def draw_sets(self, x, sizes, rng: np.random.Generator) -> np.ndarray:
        """:meth:`forward` with chosen set sizes: one set of ``sizes[k]`` draws for each parameter row ``x[k]``.

        Returns flat observations ``(k, y_dim)``, NaN past each set's size, so one parameter vector can be
        seen through sets of several sizes.

        Example:
            >>> import numpy as np
            >>> from innbench.problems import GaussianSet
            >>> p = GaussianSet()
            >>> x = p.sample_prior(1, np.random.default_rng(0))
            >>> y = p.draw_sets(np.repeat(x, 2, axis=0), [5, 100], np.random.default_rng(1))
            >>> p.observation_lengths(y).tolist()
            [5, 100]
        """
        return self._draws(x, rng, sizes)

    def forward(self, x, rng=None):
        rng = np.random.default_rng() if rng is None else rng
        return self._draws(x, rng, rng.integers(self.min_length, 101, size=len(x)))

    def resimulate(self, x, y, rng=None):
        """Sets of the same sizes as ``y``'s rows."""
        rng = np.random.default_rng() if rng is None else rng
        return self._draws(x, rng, self.observation_lengths(y))

    def resimulation_sq_distance(self, yhat, y):
        r"""The energy distance between each re-simulated set and the observed one (Szekely and Rizzo 2013):
        ``2 E|a - b| - E|a - a'| - E|b - b'|`` over the items ``a`` of one set and ``b`` of the other (all
        pairs, V-statistics, so it is never negative; its square root is a metric between the sets' empirical
        distributions). Comparing items position by position would be meaningless for an exchangeable set."""
        m, n, _ = yhat.shape
        out = np.full((m, n), np.nan)
        for i in range(m):
            b = self.items(y[i])
            self_b = np.linalg.norm(b[:, None] - b[None], axis=-1).mean()
            sims = yhat[i].reshape(n, *self.observation_shape)[:, : len(b)]
            ok = np.isfinite(sims).all((1, 2))
            for start in range(0, n, 256):
                a = sims[start : start + 256]
                cross = np.linalg.norm(a[:, :, None] - b[None, None], axis=-1).mean((1, 2))
                self_a = np.linalg.norm(a[:, :, None] - a[:, None], axis=-1).mean((1, 2))
                out[i, start : start + 256] = 2 * cross - self_a - self_b
            out[i, ~ok] = np.nan
        return out

    def items(self, y) -> np.ndarray:
        """The items present in one flat set ``y (y_dim,)``: ``(n, 2)``."""
        items = np.asarray(y, dtype=float).reshape(self.observation_shape)
        return items[np.isfinite(items).all(1)]

    def posterior_parameters(self, y):
        """``(mu_n, kappa_n, nu_n, Psi_n)`` of the normal-inverse-Wishart posterior for one set ``y (y_dim,)``."""
        items = self.items(y)
        n = len(items)
        ybar = items.mean(0)
        dev = items - ybar
        kappa, nu = self.kappa0 + n, self.nu0 + n
        psi = self.psi0 + dev.T @ dev + self.kappa0 * n / kappa * np.outer(ybar, ybar)
        return n * ybar / kappa, kappa, nu, psi

    def exact_posterior(self, y, n, rng, **kwargs):
        y = np.asarray(y, dtype=float)
        out = np.stack([self._niw(n, *self.posterior_parameters(row), rng) for row in y])
        return out, {"method": "exact (normal-inverse-Wishart posterior)"}

    def fixed_observations(self):
        """Ten prior draws (seed 2021) seen through sets of 5, 5, 5, 10, 20, 40, 60, 100, 100 and 100 items."""
        return bundled_observations(self.name, __package__)

    def showcase_observations(self):
        """The first (five items) and the last (100 items) of the fixed observations."""
        return self.fixed_observations()[1][[0, -1]]

    def log_prior(self, x):
        x = np.asarray(x, dtype=float)
        mu, chol = self.from_params(x)
        sigma = chol @ np.swapaxes(chol, 1, 2)
        inv = np.linalg.inv(sigma)
        logdet = 2 * (x[:, 2] + x[:, 4])
        lp_sigma = -(self.nu0 + 3) / 2 * logdet - 0.5 * np.einsum("ij,kji->k", self.psi0, inv)
        lp_mu = -0.5 * self.kappa0 * np.einsum("ki,kij,kj->k", mu, inv, mu) - 0.5 * logdet
        return lp_sigma + lp_mu + np.log(4.0) + 3 * x[:, 2] + 2 * x[:, 4]

    def log_likelihood(self, x, y):
        x = np.asarray(x, dtype=float)
        items = self.items(y)
        mu, chol = self.from_params(x)
        # solve L z = (y_i - mu) for every item: z = L^{-1} (y_i - mu), log N = -|z|^2 / 2 - log det L - log 2 pi
        d = items[None, :, :] - mu[:, None, :]
        z0 = d[..., 0] / chol[:, 0, 0, None]
        z1 = (d[..., 1] - chol[:, 1, 0, None] * z0) / chol[:, 1, 1, None]
        quad = (z0**2 + z1**2).sum(1)
        return -0.5 * quad - len(items) * (x[:, 2] + x[:, 4] + np.log(2 * np.pi))
