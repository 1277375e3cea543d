"""sbibm's two tasks whose simulators are ordinary differential equations: the SIR epidemic and Lotka-Volterra.

Both follow sbibm 1.1.0's definitions (Lueckmann et al. 2021): its priors, its observation models and its ten
published observations. The ODEs are solved with scipy's ``solve_ivp`` (DOP853), vectorised: a batch of
parameter vectors is one stacked system, solved in chunks of :data:`CHUNK` trajectories, with a tolerance
tight enough that the solver's error is far below the observation noise (``tests/test_ode_tasks.py``
compares a batch with each trajectory solved alone at ``rtol=1e-12``). sbibm solved them with Julia's
DifferentialEquations.jl at its default tolerances.

The likelihoods are exact (binomial counts for SIR, log-normal noise for Lotka-Volterra), so the reference
posteriors are drawn by ensemble MCMC on them (:func:`innbench.reference.mcmc.mcmc_posterior`);
``benchmarks/sbibm_references.py`` compares them with sbibm's published reference samples.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from scipy.special import gammaln

from ..base import refuse_rows
from .problem import SBIBMTask

__all__ = ["CHUNK", "SIR", "LotkaVolterra", "ODETask", "solve_batched"]

#: trajectories per stacked system: the solver's error norm is a root mean square over the whole system, so
#: a chunk bounds how much one trajectory's error is diluted by the others' (by ``sqrt(CHUNK * dim)``)
CHUNK = 1024


def solve_batched(rhs, u0: np.ndarray, params: np.ndarray, t_save: np.ndarray, rtol: float = 1e-9,
                  atol: float = 1e-9) -> np.ndarray:
    """Solve ``du/dt = rhs(u, p)`` for a batch of parameter vectors, saved at ``t_save``.

    Arguments:
        rhs: ``rhs(u (k, m), p (m, q)) -> (k, m)``, the right-hand side for ``m`` trajectories of ``k`` states.
        u0: the initial state ``(k,)``, shared by every trajectory.
        params: ``(n, q)``, one parameter vector per trajectory.
        t_save: increasing times, the first at the initial state.
        rtol, atol: the tolerances of scipy's DOP853.

    Returns:
        ``(n, k, len(t_save))``; rows whose solve failed are NaN.

    Example:
        >>> import numpy as np
        >>> from innbench.problems.sbi.ode import solve_batched
        >>> decay = lambda u, p: -p[:, 0] * u  # du/dt = -a u
        >>> out = solve_batched(decay, np.array([1.0]), np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
        >>> bool(np.allclose(out[:, 0, 1], np.exp([-1.0, -2.0])))
        True
    """
    params = np.asarray(params, dtype=float)
    u0 = np.asarray(u0, dtype=float)
    k, n = len(u0), len(params)
    out = np.full((n, k, len(t_save)), np.nan)
    for start in range(0, n, CHUNK):
        p = params[start:start + CHUNK]
        m = len(p)

        def f(t, u, p=p, m=m):
            return rhs(u.reshape(k, m), p).ravel()

        with np.errstate(over="ignore", invalid="ignore"):
            sol = solve_ivp(f, (float(t_save[0]), float(t_save[-1])), np.repeat(u0, m), method="DOP853",
                            t_eval=t_save, rtol=rtol, atol=atol)
        if sol.status == 0 and sol.y.shape[1] == len(t_save):
            out[start:start + m] = np.moveaxis(sol.y.reshape(k, m, len(t_save)), 1, 0)
        elif m > 1:  # one trajectory blew up the chunk: solve its halves apart, so only the bad rows stay NaN
            half = m // 2
            out[start:start + half] = solve_batched(rhs, u0, p[:half], t_save, rtol, atol)
            out[start + half:start + m] = solve_batched(rhs, u0, p[half:], t_save, rtol, atol)
    return out


class ODETask(SBIBMTask):
    """The base of the ODE tasks (positive parameters with log-normal priors): a likelihood vectorised over
    observations, and reference posteriors by ensemble MCMC on it.

    The chains run on ``log theta`` (the prior density there is Gaussian, the posterior nearly so), with the
    chains of all observations advancing together (:func:`innbench.reference.mcmc.batched_posterior`), so
    that each step solves one stacked ODE system for every observation's walkers rather than one small
    system per observation (the solver's cost is mostly per step, not per trajectory). On ``theta`` itself
    the differential-evolution moves of a spread-out ensemble propose rates near zero, whose stiff
    trajectories slow the whole stacked solve, and Lotka-Volterra's chains had not converged after 300
    steps (R-hat 1.15, journal: docs/journal/sbi_ode_tasks.md).
    """

    reference_label = "MCMC"

    def batched_log_likelihood(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(y_i | x_ij)`` for ``x (m, k, x_dim)`` and ``y (m, y_dim)``: ``(m, k)``."""
        raise NotImplementedError

    def log_likelihood(self, x, y):
        return self.batched_log_likelihood(np.asarray(x, dtype=float)[None], np.asarray(y, dtype=float)[None])[0]

    def exact_posterior(self, y, n, rng, *, walkers: int | None = None, burn: int = 1000, pilot: int = 1000,
                        init_draws: int = 20_000, rhat_max: float | None = 1.05, max_thin: int = 200, **kwargs):
        """The reference: :meth:`likelihood_mcmc` with 1,000 pilot steps, refusing an R-hat above 1.05."""
        return self.likelihood_mcmc(y, n, rng, walkers=walkers, burn=burn, pilot=pilot, init_draws=init_draws,
                                    rhat_max=rhat_max, max_thin=max_thin)

    def likelihood_mcmc(self, y, n, rng, *, walkers: int | None = None, burn: int = 1000, pilot: int = 500,
                        init_draws: int = 20_000, rhat_max: float | None = 1.05, max_thin: int = 200, **kwargs):
        """Ensemble MCMC on ``log theta`` for every row of ``y`` at once; the options are those of
        :func:`~innbench.reference.mcmc.mcmc_posterior`, and an R-hat above ``rhat_max`` raises
        :class:`~innbench.reference.mcmc.MCMCError` (None: never)."""
        from ...reference.mcmc import MCMCError, batched_posterior

        y = np.atleast_2d(np.asarray(y, dtype=float))
        out, info = batched_posterior(_LogParameters(self), self._batched_log_likelihood_of_logs, y, n, rng,
                                      walkers=walkers, burn=burn, pilot=pilot, init_draws=init_draws,
                                      max_thin=max_thin)
        worst = int(np.argmax(info["rhat"]))
        if rhat_max is not None and not info["rhat"][worst] <= rhat_max:
            raise MCMCError(f"observations: row {worst} ({y[worst].tolist()}): MCMC did not converge (R-hat "
                            f"{info['rhat'][worst]:.3f} > {rhat_max}); more burn-in (burn=) or walkers may help")
        return np.exp(out), info

    def _batched_log_likelihood_of_logs(self, z, y):
        with np.errstate(over="ignore"):
            return self.batched_log_likelihood(np.exp(z), y)


class _LogParameters:
    """What :func:`~innbench.reference.mcmc.batched_posterior` needs of a problem, for ``z = log theta``: the
    prior density of ``z`` (``p(theta) theta``, the Jacobian) and prior draws of ``z``."""

    symmetries = ()

    def __init__(self, task):
        self.task, self.x_dim = task, task.x_dim

    def sample_prior(self, n, rng):
        return np.log(self.task.sample_prior(n, rng))

    def log_prior(self, z):
        z = np.asarray(z, dtype=float)
        with np.errstate(over="ignore"):
            return self.task.log_prior(np.exp(z)) + z.sum(-1)


_LV_TIMES = tuple(round(0.1 * i, 1) for i in range(0, 201, 21))


def _lognormal_log_prior(x, loc, scale):
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        logx = np.log(x)
        out = np.sum(-0.5 * ((logx - loc) / scale) ** 2 - logx, -1)
    return np.where((x > 0).all(-1), out, -np.inf)


class SIR(ODETask):
    r"""sbibm's ``sir``: an SIR epidemic in a population of a million, observed as ten binomial counts.

    Parameters: the contact rate ``beta ~ LogNormal(log 0.4, 0.5)`` and the recovery rate
    ``gamma ~ LogNormal(log 0.125, 0.2)`` (per day). The ODE ``dS = -beta S I / N``,
    ``dI = beta S I / N - gamma I``, ``dR = gamma I`` runs from ``(S, I, R) = (N - 1, 1, 0)``, ``N = 10^6``, over
    160 days; the infected fraction ``I / N`` on days 0, 17, ..., 153 is observed as ``Binomial(1000, I / N)``
    counts, one per day.

    **Reference**: ensemble MCMC on the exact binomial likelihood (sbibm: slice sampling, then rejection
    sampling from a flow fitted to it).

    Observations are refused unless every count is an integer in [0, 1000].

    Registered as ``"sir"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import SIR
        >>> p = SIR()
        >>> x, y = p.simulate(4, np.random.default_rng(0))
        >>> x.shape, y.shape, bool(((y >= 0) & (y <= 1000)).all())
        ((4, 2), (4, 10), True)
    """

    name = "sir"
    x_names = ("beta", "gamma")
    DAYS = tuple(range(0, 160, 17))
    y_names = tuple(f"day{d}" for d in DAYS)
    bounds = ((0.0, np.inf), (0.0, np.inf))
    log_columns = (0, 1)  # log-normal rates: models work on log theta
    stochastic = True
    N = 1e6
    COUNT = 1000
    LOC = np.log([0.4, 0.125])
    SCALE = np.array([0.5, 0.2])

    def sample_prior(self, n, rng):
        return np.exp(self.LOC + self.SCALE * rng.standard_normal((n, 2)))

    @staticmethod
    def _rhs(u, p):
        s, i = u[0], u[1]
        infect = p[:, 0] * s * i / SIR.N
        recover = p[:, 1] * i
        return np.stack([-infect, infect - recover, recover])

    def infected_fraction(self, x) -> np.ndarray:
        """``I / N`` on the observed days, ``(n, 10)``, clipped to [0, 1] (NaN where the solve failed)."""
        t = np.asarray(self.DAYS, dtype=float)
        u = solve_batched(self._rhs, np.array([self.N - 1.0, 1.0, 0.0]), np.atleast_2d(x), t, rtol=1e-8, atol=1e-6)
        return np.clip(u[:, 1] / self.N, 0.0, 1.0)

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'sir' is stochastic: pass a numpy Generator as rng")
        p = self.infected_fraction(x)
        bad = ~np.isfinite(p).all(1)
        y = rng.binomial(self.COUNT, np.where(bad[:, None], 0.0, p)).astype(float)
        y[bad] = np.nan
        return y

    def log_prior(self, x):
        return _lognormal_log_prior(x, self.LOC, self.SCALE)

    def batched_log_likelihood(self, x, y):
        m, k, _ = x.shape
        y = np.asarray(y, dtype=float)[:, None, :]
        p = self.infected_fraction(x.reshape(m * k, -1)).reshape(m, k, -1)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(y > 0, y * np.log(p), 0.0) + np.where(y < self.COUNT, (self.COUNT - y) * np.log1p(-p), 0.0)
        const = gammaln(self.COUNT + 1) - gammaln(y + 1) - gammaln(self.COUNT - y + 1)
        out = np.sum(terms + const, -1)
        return np.where(np.isfinite(out), out, -np.inf)

    def check_observations(self, y):
        refuse_rows(((y < 0) | (y > self.COUNT) | (np.abs(y - np.round(y)) > 1e-6)).any(1), y,
                    f"every count must be an integer in [0, {self.COUNT}]")


class LotkaVolterra(ODETask):
    r"""sbibm's ``lotka_volterra``: predator-prey dynamics observed with log-normal noise.

    Parameters ``(alpha, beta, gamma, delta)``, each log-normal: ``log alpha, log gamma ~ N(-0.125, 0.5^2)``
    and ``log beta, log delta ~ N(-3, 0.5^2)``. The ODE ``dx = alpha x - beta x y``,
    ``dy = -gamma y + delta x y`` runs from ``(x, y) = (30, 1)`` over 20 time units (solved in ``log x``,
    ``log y``, which keeps both positive); the observation is the prey at times 0, 2.1, ..., 18.9 then the
    predators at the same times (20 numbers), each ``LogNormal(log clip(u, 1e-10, 10^4), 0.1)``.

    **Reference**: ensemble MCMC on the exact log-normal likelihood (sbibm: slice sampling, then rejection
    sampling from a flow fitted to it).

    Observations are refused unless every value is positive and finite.

    Registered as ``"lotka_volterra"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import LotkaVolterra
        >>> p = LotkaVolterra()
        >>> x, y = p.simulate(4, np.random.default_rng(0))
        >>> x.shape, y.shape, bool((y > 0).all())
        ((4, 4), (4, 20), True)
    """

    name = "lotka_volterra"
    x_names = ("alpha", "beta", "gamma", "delta")
    TIMES = _LV_TIMES
    y_names = tuple(f"{s}_t{t:g}" for s in ("prey", "predator") for t in _LV_TIMES)
    bounds = ((0.0, np.inf),) * 4
    log_columns = (0, 1, 2, 3)  # log-normal rates: models work on log theta
    stochastic = True
    NOISE = 0.1
    LOC = np.array([-0.125, -3.0, -0.125, -3.0])
    SCALE = np.full(4, 0.5)

    def sample_prior(self, n, rng):
        return np.exp(self.LOC + self.SCALE * rng.standard_normal((n, 4)))

    @staticmethod
    def _rhs(u, p):  # in log x, log y
        with np.errstate(over="ignore"):
            return np.stack([p[:, 0] - p[:, 1] * np.exp(u[1]), -p[:, 2] + p[:, 3] * np.exp(u[0])])

    def log_populations(self, x) -> np.ndarray:
        """``log clip(u, 1e-10, 10^4)`` at the observed times, prey then predators, ``(n, 20)`` (NaN where the
        solve failed)."""
        t = np.asarray(self.TIMES, dtype=float)
        u = solve_batched(self._rhs, np.log([30.0, 1.0]), np.atleast_2d(x), t, rtol=1e-8, atol=1e-8)
        return np.clip(u, np.log(1e-10), np.log(1e4)).reshape(len(u), -1)

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'lotka_volterra' is stochastic: pass a numpy Generator as rng")
        mean = self.log_populations(x)
        return np.exp(mean + self.NOISE * rng.standard_normal(mean.shape))

    def log_prior(self, x):
        return _lognormal_log_prior(x, self.LOC, self.SCALE)

    def batched_log_likelihood(self, x, y):
        m, k, _ = x.shape
        logy = np.log(np.asarray(y, dtype=float))
        z = (logy[:, None, :] - self.log_populations(x.reshape(m * k, -1)).reshape(m, k, -1)) / self.NOISE
        const = -np.sum(logy, -1, keepdims=True) - logy.shape[-1] * (np.log(self.NOISE) + 0.5 * np.log(2 * np.pi))
        out = np.sum(-0.5 * z**2, -1) + const
        return np.where(np.isfinite(out), out, -np.inf)

    def check_observations(self, y):
        refuse_rows((~(y > 0)).any(1), y, "every value must be positive (populations observed with log-normal noise)")
