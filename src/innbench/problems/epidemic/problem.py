"""The talk's epidemic example, simplified to run on a CPU: an SIR model with deaths and a change point in the
contact rate, observed as noisy daily new cases and deaths over 80 days."""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ..base import Problem, bundled_observations, refuse_rows

__all__ = ["Epidemic", "sir_trajectories"]

#: population, initially infected, days observed, RK4 steps per day, change-point width (days)
POPULATION, INFECTED0, DAYS, STEPS_PER_DAY, CHANGE_WIDTH = 100_000.0, 10.0, 80, 2, 1.0
#: negative-binomial dispersion of both channels: variance = mean + mean^2 / K
DISPERSION = 20.0


def _contact_rate(t, beta0, beta1, t_change):
    return beta0 + (beta1 - beta0) * expit((t - t_change) / CHANGE_WIDTH)


def sir_trajectories(x, days: int = DAYS, steps_per_day: int = STEPS_PER_DAY) -> tuple[np.ndarray, np.ndarray]:
    r"""Expected daily new infections and deaths ``(k, days)`` each for parameter rows ``x (k, 5)``.

    ``dS/dt = -beta(t) S I / N``, ``dI/dt = beta(t) S I / N - gamma I``, ``dD/dt = ifr gamma I`` with ``N =
    100,000``, ``S(0) = N - 10``, ``I(0) = 10``, ``D(0) = 0`` and ``beta(t) = beta0 + (beta1 - beta0)
    sigmoid(t - t_change)`` (a change over about four days). Classical fourth-order Runge-Kutta with
    ``steps_per_day`` fixed steps, vectorised over rows; day ``d``'s new infections are ``S(d - 1) - S(d)``,
    its deaths ``D(d) - D(d - 1)`` (``d = 1..days``).

    Example:
        >>> import numpy as np
        >>> from innbench.problems.epidemic import sir_trajectories
        >>> x = np.log([[0.5, 0.15, 1.0, 0.2, 0.01]])
        >>> x[0, 2] = 20.0  # the change point on day 20
        >>> cases, deaths = sir_trajectories(x)
        >>> cases.shape, deaths.shape, bool((cases >= 0).all())
        ((1, 80), (1, 80), True)
    """
    x = np.asarray(x, dtype=float)
    beta0, beta1, t_change = np.exp(x[:, 0]), np.exp(x[:, 1]), x[:, 2]
    gamma, ifr = np.exp(x[:, 3]), np.exp(x[:, 4])
    h = 1.0 / steps_per_day

    def rates(t, s, i):
        force = _contact_rate(t, beta0, beta1, t_change) * s * i / POPULATION
        return -force, force - gamma * i

    s = np.full(len(x), POPULATION - INFECTED0)
    i = np.full(len(x), INFECTED0)
    removed = np.zeros(len(x))  # integral of gamma I: the removed, of whom the fraction ifr die
    s_day, r_day = [s], [removed]
    for step in range(days * steps_per_day):
        t = step * h
        ds1, di1 = rates(t, s, i)
        ds2, di2 = rates(t + h / 2, s + h / 2 * ds1, i + h / 2 * di1)
        ds3, di3 = rates(t + h / 2, s + h / 2 * ds2, i + h / 2 * di2)
        ds4, di4 = rates(t + h, s + h * ds3, i + h * di3)
        i_mid2, i_mid3, i_end = i + h / 2 * di1, i + h / 2 * di2, i + h * di3
        removed = removed + h / 6 * gamma * (i + 2 * i_mid2 + 2 * i_mid3 + i_end)
        s = s + h / 6 * (ds1 + 2 * ds2 + 2 * ds3 + ds4)
        i = i + h / 6 * (di1 + 2 * di2 + 2 * di3 + di4)
        if (step + 1) % steps_per_day == 0:
            s_day.append(s)
            r_day.append(removed)
    s_day, r_day = np.stack(s_day, 1), np.stack(r_day, 1)
    cases = np.maximum(-np.diff(s_day, axis=1), 0.0)
    deaths = np.maximum(ifr[:, None] * np.diff(r_day, axis=1), 0.0)
    return cases, deaths


class Epidemic(Problem):
    r"""An epidemic with a change point in the contact rate (a lockdown), in the spirit of the talk's SECIRD
    example: five parameters from 80 days of daily new cases and deaths.

    Parameters ``x = (log beta0, log beta1, t_change, log gamma, log ifr)``: the contact rate before and after
    the change, the day of the change, the recovery rate and the infection fatality ratio. Priors
    (independent): ``log beta0 ~ N(log 0.5, 0.2^2)``, ``log beta1 ~ N(log 0.15, 0.3^2)``, ``t_change ~
    U(10, 30)``, ``log gamma ~ N(log 0.2, 0.15^2)``, ``log ifr ~ N(log 0.01, 0.4^2)``.

    Dynamics: :func:`sir_trajectories` (SIR with deaths, population 100,000, 10 infected on day 0, RK4 with
    half-day steps). Observation model: day ``d``'s reported cases and deaths are negative binomial with the
    expected new infections and deaths as means and dispersion ``K = 20`` (variance ``mu + mu^2 / 20``),
    independently per day and channel: a series of shape ``(80, 2)``, channels ``(cases, deaths)``.

    :meth:`log_likelihood` is that negative-binomial likelihood (exact for the model as simulated), so the
    **reference** posterior is ensemble MCMC on it (:func:`innbench.reference.mcmc.mcmc_posterior`, R-hat and ESS in
    the provenance). Ten fixed observations (prior draws with seed 2020, bundled as
    ``data/epidemic_observations.json``) are scored by the ``structured`` grid. Conditional models read
    ``log(1 + counts)`` (:meth:`transform_observations`).

    Registered as ``"epidemic"``.

    Example:
        >>> import numpy as np
        >>> from innbench.problems import Epidemic
        >>> p = Epidemic()
        >>> x, y = p.simulate(2, np.random.default_rng(0))
        >>> x.shape, y.shape, p.observation_kind, p.observation_shape  # 80 days of (cases, deaths), flat
        ((2, 5), (2, 160), 'series', (80, 2))
        >>> y.reshape(2, 80, 2).shape
        (2, 80, 2)
    """

    name = "epidemic"
    x_names = ("log_beta0", "log_beta1", "t_change", "log_gamma", "log_ifr")
    bounds = ((-np.inf, np.inf), (-np.inf, np.inf), (10.0, 30.0), (-np.inf, np.inf), (-np.inf, np.inf))
    observation_kind = "series"
    observation_shape = (DAYS, 2)
    y_names = tuple(f"{c}_day{d + 1}" for d in range(DAYS) for c in ("cases", "deaths"))
    stochastic = True
    version = "1"
    step_label = "day"
    PRIOR_MEAN = np.log([0.5, 0.15, 1.0, 0.2, 0.01])
    PRIOR_SD = np.array([0.2, 0.3, 1.0, 0.15, 0.4])

    def sample_prior(self, n, rng):
        x = self.PRIOR_MEAN + self.PRIOR_SD * rng.standard_normal((n, 5))
        x[:, 2] = rng.uniform(10.0, 30.0, n)
        return x

    def expected_counts(self, x) -> np.ndarray:
        """Expected daily cases and deaths for parameter rows ``x (k, 5)``: ``(k, 80, 2)``."""
        return np.stack(sir_trajectories(x), -1)

    def forward(self, x, rng=None):
        if rng is None:
            raise ValueError("problem 'epidemic' is stochastic: pass a numpy Generator as rng")
        mu = self.expected_counts(x)
        counts = rng.negative_binomial(DISPERSION, DISPERSION / (DISPERSION + mu))
        return counts.reshape(len(x), -1).astype(float)

    def log_prior(self, x):
        x = np.asarray(x, dtype=float)
        z = np.delete((x - self.PRIOR_MEAN) / self.PRIOR_SD, 2, axis=1)
        inside = (x[:, 2] >= 10.0) & (x[:, 2] <= 30.0)
        return np.where(inside, -0.5 * (z**2).sum(1), -np.inf)

    def log_likelihood(self, x, y):
        """The negative-binomial log likelihood of one observation ``y`` (counts; up to terms in ``y`` alone)."""
        mu = self.expected_counts(x)
        counts = np.asarray(y, dtype=float).reshape(1, *self.observation_shape)
        k = DISPERSION
        return (k * np.log(k / (k + mu)) + counts * np.log(np.maximum(mu, 1e-300) / (k + mu))).sum((1, 2))

    def exact_posterior(self, y, n, rng, **kwargs):
        from ...reference.mcmc import mcmc_posterior

        kwargs.setdefault("walkers", 64)
        return mcmc_posterior(self, y, n, rng, **kwargs)

    reference_label = "MCMC"

    def transform_observations(self, y):
        """``log(1 + counts)``: what conditional models read (counts span 0 to thousands per day)."""
        return y.log1p() if hasattr(y, "log1p") else np.log1p(y)

    def check_observations(self, y):
        bad = (y < 0) | (np.abs(y - np.round(y)) > 1e-6)
        refuse_rows(bad.any(1), y, "daily cases and deaths must be non-negative whole numbers (counts)")
        refuse_rows((y > POPULATION).any(1), y, f"a daily count cannot exceed the population ({POPULATION:,.0f})")

    def fixed_observations(self):
        return bundled_observations(self.name, __package__)

    def showcase_observations(self):
        return self.fixed_observations()[1][:1]
