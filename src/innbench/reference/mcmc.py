"""Markov chain Monte Carlo on a problem's tractable likelihood: reference posteriors and the classical baseline.

For a problem that implements :meth:`innbench.problems.Problem.log_prior` and
:meth:`innbench.problems.Problem.log_likelihood` (the SBI tasks; a user's :class:`SimulatorProblem` given
``log_prior=`` and ``log_likelihood=``), :func:`mcmc_posterior` draws posterior samples per observation with
emcee's ensemble sampler (Foreman-Mackey et al. 2013) with differential-evolution moves, vectorised over
walkers, and checks convergence with ArviZ's rank-normalised split R-hat and bulk effective sample size
(Vehtari et al. 2021), computed over the walkers as chains.

The move was chosen on sbibm's observations 1-3 (10,000 draws each; measurements in
``docs/simulation_budgets.md``): against emcee's default stretch move, bulk ESS 8,900-9,500 against
5,100-5,500 on two moons and 6,400-6,800 against 4,800-4,900 on the Bernoulli GLM; C2ST against the exact
samplers 0.493-0.506 on the Gaussian linear, two-moons and Gaussian-mixture tasks. emcee's DE snooker
move is *not* used: on the 10-D Gaussian linear task it gave variances of 0.027 against the exact 0.05.
With the folding below, SLCP reaches ESS 4,300-6,900 and R-hat at most 1.006 (acceptance 0.21).

Per observation:

1. **Initialisation by importance resampling from the prior**: ``init_draws`` prior draws weighted by the
   likelihood; the walkers start at ``walkers`` distinct draws chosen in proportion to their weights
   (Gumbel top-k), so separated modes start populated in about the right proportions.
2. **Burn-in** of ``burn`` steps, then a pilot of ``pilot`` steps that estimates the integrated
   autocorrelation time ``tau`` (emcee's estimator, the largest over parameters).
3. **Production**: ``ceil(n / walkers)`` (at least 50) stored states per walker, ``thin = max(1, ceil(tau))``
   steps apart, so the draws are nearly independent (ESS close to ``n``).
4. **Symmetries**: where the problem declares exact reflections (:attr:`Problem.symmetries`,
   ``A = I - 2 u u^T`` with orthogonal normals ``u``), the chains run on the fundamental domain ``u . x >= 0`` (the
   posterior folded onto it, which is the same density there), and each reflection is applied to each
   draw with probability 1/2 afterwards: mirrored modes get exactly equal mass, and the ensemble's
   moves never propose jumps between modes (on SLCP's four modes unfolded chains accepted 4 % of
   proposals and reached R-hat 1.05 on 3,000 draws).

The provenance per observation (R-hat, ESS, tau, acceptance, steps) is returned with the samples;
``rhat_max`` refuses results whose worst R-hat exceeds it.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time

import numpy as np

from ..runtime import check_deadline

__all__ = ["SAMPLER_VERSION", "MCMCError", "batched_posterior", "mcmc_posterior", "require_likelihood"]

#: bumped whenever a change here changes what :func:`mcmc_posterior` draws: part of the reference cache's key
SAMPLER_VERSION = "1"


#: stored draws per walker at least, so that R-hat and ESS are meaningful however few samples are asked for
MIN_DRAWS_PER_WALKER = 50


class MCMCError(RuntimeError):
    """The chains did not converge (R-hat above the limit) or could not start.

    Raised by :func:`mcmc_posterior` with the observation's row and its R-hat, or the number of prior draws
    with a finite likelihood where too few are left to start the walkers.
    """


def require_likelihood(problem) -> None:
    """Raise a clear error unless ``problem`` has a prior density and a tractable likelihood.

    Args:
        problem: the :class:`innbench.problems.Problem`.

    Example:
        >>> from innbench import get_problem
        >>> from innbench.reference.mcmc import require_likelihood
        >>> require_likelihood(get_problem("two_moons"))  # has both: no error
        >>> try:
        ...     require_likelihood(get_problem("ballistics"))
        ... except ValueError as err:
        ...     print("no tractable likelihood" in str(err))
        True
    """
    if not problem.has_likelihood:
        raise ValueError(f"problem {problem.name!r} has no tractable likelihood (log_prior and log_likelihood): "
                         "MCMC needs both; use rejection ABC or a trained model instead")


def _normals(symmetries, d) -> np.ndarray:
    """The unit normals ``u`` of reflections ``A = I - 2 u u^T`` (rows), checked to be mutually orthogonal."""
    normals = []
    for a in symmetries:
        a = np.asarray(a, dtype=float)
        w, v = np.linalg.eigh((a + a.T) / 2)
        u = v[:, np.argmin(w)]
        if a.shape != (d, d) or not np.allclose(a, np.eye(d) - 2 * np.outer(u, u), atol=1e-9):
            raise ValueError(f"symmetries: expected reflections I - 2 u u^T of shape ({d}, {d}), got {a.tolist()}")
        normals.append(u)
    normals = np.asarray(normals).reshape(-1, d)
    if len(normals) and not np.allclose(normals @ normals.T, np.eye(len(normals)), atol=1e-9):
        raise ValueError("symmetries: the reflections' normals must be orthogonal (commuting reflections)")
    return normals


def _fold(x, normals):
    """Reflect each row of ``x`` into the fundamental domain ``u . x >= 0`` of every normal ``u``."""
    for u in normals:
        x = x - 2 * np.minimum(x @ u, 0.0)[:, None] * u
    return x


def _log_posterior(problem, y, normals):
    def f(x):
        lp = np.asarray(problem.log_prior(x), dtype=float)
        if len(normals):
            lp = np.where((x @ normals.T >= 0).all(1), lp, -np.inf)
        out = np.full(len(x), -np.inf)
        ok = np.isfinite(lp)
        if ok.any():
            out[ok] = lp[ok] + np.asarray(problem.log_likelihood(x[ok], y), dtype=float)
        return np.where(np.isnan(out), -np.inf, out)

    return f


def _initial_walkers(problem, y, walkers, init_draws, rng, row, normals, log_likelihood):
    x = _fold(problem.sample_prior(init_draws, rng), normals)
    logw = np.asarray(log_likelihood(x, y), dtype=float)
    logw = np.where(np.isfinite(logw), logw, -np.inf)
    finite = np.isfinite(logw).sum()
    if finite < walkers:
        raise MCMCError(f"observations: row {row} ({np.asarray(y).tolist()}): only {finite} of {init_draws:,} prior "
                        f"draws have a finite likelihood, fewer than the {walkers} walkers; the observation is "
                        "practically unreachable under the prior")
    keys = logw + rng.gumbel(size=len(logw))  # Gumbel top-k: `walkers` draws without replacement, by weight
    pick = np.argsort(-keys)[:walkers]
    return x[pick], np.asarray(problem.log_prior(x[pick]), dtype=float) + logw[pick]


@contextlib.contextmanager
def _quiet_emcee():
    """emcee logs a warning when a pilot is shorter than 50 autocorrelation times; the thinning only needs a
    rough estimate, and R-hat / ESS are measured on the production chain."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _unfold(samples, normals, rng):
    """Apply each reflection to each row with probability 1/2."""
    for u in normals:
        pick = rng.uniform(size=len(samples)) < 0.5
        samples[pick] -= 2 * (samples[pick] @ u)[:, None] * u
    return samples


def _convergence(chain) -> tuple[float, float]:
    """The largest rank-normalised split R-hat and the smallest bulk ESS over parameters of ``chain (walkers,
    draws, d)``, the walkers taken as chains (ArviZ)."""
    from arviz_stats.base import array_stats

    return (float(np.max(array_stats.rhat(chain, chain_axis=0, draw_axis=1))),
            float(np.min(array_stats.ess(chain, chain_axis=0, draw_axis=1))))


def _draws(chain, n, normals, rng):
    """``n`` of the stored states of ``chain (walkers, draws, d)`` in random order, the symmetries applied."""
    draws = chain.reshape(-1, chain.shape[-1])
    return _unfold(draws[rng.permutation(len(draws))[:n]], normals, rng)


def check_sampler_options(config: dict, min_steps: int, dim: int | None = None) -> None:
    """Refuse bad MCMC options of a model (``burn``, ``pilot``, ``walkers``, ``init_draws`` and, where the model
    has it, ``max_thin``) before any work, naming the option; with ``dim`` (the parameters' dimension), also
    fewer walkers than the ensemble's moves need (``2 dim``), which would fail only at sampling time."""
    for key in ("burn", "pilot"):
        if int(config[key]) < min_steps:
            raise ValueError(f"{key}: expected at least {min_steps} steps, got {config[key]!r}")
    keys = ("walkers", "init_draws", "max_thin") if "max_thin" in config else ("walkers", "init_draws")
    if (int(config["walkers"]) < 0 or int(config["init_draws"]) < 100
            or ("max_thin" in config and int(config["max_thin"]) < 1)):
        raise ValueError(f"{', '.join(keys)}: expected walkers >= 0 (0: automatic), init_draws >= 100"
                         f"{' and max_thin >= 1' if 'max_thin' in config else ''}, got "
                         f"{', '.join(repr(config[k]) for k in keys)}")
    walkers = int(config["walkers"])
    if dim is not None and 0 < walkers < max(2 * dim, 4):
        raise ValueError(f"walkers: the ensemble sampler needs at least {max(2 * dim, 4)} walkers for {dim} "
                         f"parameters (or 0: automatic), got {walkers}")


def mcmc_posterior(problem, y, n: int, rng: np.random.Generator, *, walkers: int | None = None, burn: int = 1000,
                   pilot: int = 1000, init_draws: int = 50_000, rhat_max: float | None = 1.05,
                   max_thin: int = 200):
    """Posterior samples ``(m, n, x_dim)`` for each row of ``y (m, y_dim)`` by ensemble MCMC, and provenance.

    ``walkers`` defaults to ``max(32, 4 x_dim)`` (even). The info dict holds per observation ``rhat`` (the
    largest over parameters), ``ess`` (the smallest bulk ESS), ``tau`` (autocorrelation time in steps),
    ``thin``, ``acceptance``, ``steps`` (likelihood evaluations per walker) and ``seconds``.

    Args:
        problem: a :class:`innbench.problems.Problem` with ``log_prior`` and ``log_likelihood``.
        y: observations ``(m, y_dim)``.
        n: samples per observation.
        rng: the ``numpy.random.Generator`` of the chains.
        walkers: walkers of the ensemble (None: ``max(32, 4 x_dim)``).
        burn: burn-in steps.
        pilot: steps that estimate the autocorrelation time, which sets the thinning.
        init_draws: prior draws the walkers start from (by importance resampling on the likelihood).
        rhat_max: raise :class:`MCMCError` where R-hat exceeds it (None: never).
        max_thin: the largest thinning.

    Returns:
        ``(samples (m, n, x_dim), info)``.

    Example:
        A few seconds per observation, so not run here (``reference_posterior(..., method="mcmc")`` caches it):

        ```python
        import numpy as np
        from innbench import get_problem
        from innbench.reference.mcmc import mcmc_posterior

        samples, info = mcmc_posterior(get_problem("two_moons"), [[0.0, 0.0]], 10_000, np.random.default_rng(0))
        info["rhat"], info["ess"]
        ```
    """
    import emcee

    require_likelihood(problem)
    y = np.atleast_2d(np.asarray(y, dtype=float))
    d = problem.x_dim
    walkers = walkers or max(32, 4 * d)
    walkers += walkers % 2
    per_walker = max(math.ceil(n / walkers), MIN_DRAWS_PER_WALKER)
    normals = _normals(problem.symmetries, d)
    out = np.empty((len(y), n, d))
    info = {k: [] for k in ("rhat", "ess", "tau", "thin", "acceptance", "steps", "seconds")}
    for i, yi in enumerate(y):
        t0 = time.perf_counter()
        log_post = _log_posterior(problem, yi, normals)
        start, lp0 = _initial_walkers(problem, yi, walkers, init_draws, rng, i, normals, problem.log_likelihood)
        moves = [(emcee.moves.DEMove(), 1.0)]
        sampler = emcee.EnsembleSampler(walkers, d, log_post, moves=moves, vectorize=True)
        sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
        state = sampler.run_mcmc(emcee.State(start, log_prob=lp0), burn + pilot)
        with _quiet_emcee():
            tau = float(np.max(emcee.autocorr.integrated_time(sampler.get_chain(discard=burn), quiet=True)))
        thin = int(min(max(1, math.ceil(tau)), max_thin))
        sampler.reset()
        sampler.run_mcmc(state, per_walker, thin_by=thin)
        chain = np.swapaxes(sampler.get_chain(), 0, 1)  # (walkers, draws, d)
        rhat, ess = _convergence(chain)
        if rhat_max is not None and not rhat <= rhat_max:
            raise MCMCError(f"observations: row {i} ({yi.tolist()}): MCMC did not converge (R-hat {rhat:.3f} > "
                            f"{rhat_max}; tau {tau:.0f} steps); more burn-in (burn=) or walkers may help")
        out[i] = _draws(chain, n, normals, rng)
        for k, v in (("rhat", rhat), ("ess", min(ess, float(n))), ("tau", tau), ("thin", thin),
                     ("acceptance", float(np.mean(sampler.acceptance_fraction))),
                     ("steps", burn + pilot + per_walker * thin), ("seconds", time.perf_counter() - t0)):
            info[k].append(v)
    info = {k: np.asarray(v) for k, v in info.items()}
    info.update(method="mcmc-emcee", walkers=walkers, burn=burn, pilot=pilot)
    return out, info


def _de_sweep(log_post, x, lp, rng, g0, sigma=1e-5):
    """One step of emcee's differential-evolution move for ``m`` independent ensembles at once: the walkers of
    each ensemble split at random into halves, each half proposing ``x + g0 (1 + sigma N(0, 1)) (c_a - c_b)``
    from two distinct walkers of the other half, accepted by Metropolis. ``x (m, W, d)``, ``lp (m, W)``;
    ``log_post(q (m, k, d)) -> (m, k)``. Returns the new state and the accepted mask ``(m, W)``."""
    check_deadline()  # a time limit stops MCMC within one sweep
    m, w, d = x.shape
    half = w // 2
    perm = np.argsort(rng.random((m, w)), axis=1)
    rows = np.arange(m)[:, None]
    accepted = np.zeros((m, w), dtype=bool)
    for own, other in ((perm[:, :half], perm[:, half:]), (perm[:, half:], perm[:, :half])):
        s, c = x[rows, own], x[rows, other]
        nc = c.shape[1]
        a = rng.integers(nc, size=own.shape)
        b = (a + rng.integers(1, nc, size=own.shape)) % nc
        gamma = g0 * (1 + sigma * rng.standard_normal((*own.shape, 1)))
        q = s + gamma * (c[rows, b] - c[rows, a])
        lq = log_post(q)
        ok = lq - lp[rows, own] > np.log(rng.uniform(size=own.shape))
        idx_m, idx_w = np.nonzero(ok)
        x[idx_m, own[ok]] = q[ok]
        lp[idx_m, own[ok]] = lq[ok]
        accepted[idx_m, own[ok]] = True
    return x, lp, accepted


def batched_posterior(problem, log_likelihood, y, n: int, rng: np.random.Generator, *, walkers: int | None = None,
                      burn: int = 1000, pilot: int = 500, init_draws: int = 20_000, max_thin: int = 200):
    """:func:`mcmc_posterior` for a likelihood that is cheap per call but costly per point (a neural network):
    the ensembles of all observations advance together, one likelihood call per half-step for all of them.

    ``log_likelihood(x (m, k, x_dim), y (m, y_dim)) -> (m, k)``; the problem's ``log_prior`` and declared
    symmetries are used as in :func:`mcmc_posterior`. The sampler is emcee's differential-evolution move
    (red-blue halves, ``gamma = 2.38 / sqrt(2 d)``), rewritten vectorised over observations; initialisation,
    burn-in, pilot, thinning by the autocorrelation time (the largest over the observations) and the
    diagnostics (ArviZ R-hat and bulk ESS per observation) follow :func:`mcmc_posterior`. Nothing is
    refused: the caller reads ``rhat``. Returns ``(samples (m, n, x_dim), info)``.

    The sampler of neural likelihood estimation (:class:`innbench.models.nle.NeuralLikelihood`).

    Example:
        With the exact likelihood of two moons in place of a learned one (seconds, so not run here):

        ```python
        import numpy as np
        from innbench import get_problem
        from innbench.reference.mcmc import batched_posterior

        moons = get_problem("two_moons")
        def log_likelihood(x, y):                   # x (m, k, 2), y (m, 2) -> (m, k)
            return np.stack([moons.log_likelihood(xi, yi) for xi, yi in zip(x, y)])
        samples, info = batched_posterior(moons, log_likelihood, [[0.0, 0.0], [0.1, -0.2]], 1000,
                                          np.random.default_rng(0))
        ```
    """
    import emcee

    y = np.atleast_2d(np.asarray(y, dtype=float))
    m, d = len(y), problem.x_dim
    walkers = walkers or max(32, 4 * d)
    walkers += walkers % 2
    per_walker = max(math.ceil(n / walkers), MIN_DRAWS_PER_WALKER)
    normals = _normals(problem.symmetries, d)
    t0 = time.perf_counter()

    def log_post(q):
        flat = q.reshape(-1, d)
        lp = np.asarray(problem.log_prior(flat), dtype=float)
        if len(normals):
            lp = np.where((flat @ normals.T >= 0).all(1), lp, -np.inf)
        # every point is evaluated (the batch stays rectangular); the likelihood must accept points outside
        # the prior's support, which the prior's -inf then rejects
        out = lp.reshape(m, -1) + np.asarray(log_likelihood(q, y), dtype=float)
        return np.where(np.isnan(out), -np.inf, out)

    starts = [_initial_walkers(problem, yi, walkers, init_draws, rng, i, normals,
                               lambda x, yi=yi: log_likelihood(x[None], yi[None])[0]) for i, yi in enumerate(y)]
    x = np.stack([s for s, _ in starts])
    lp = np.stack([lp0 for _, lp0 in starts])
    g0 = 2.38 / np.sqrt(2 * d)
    for _ in range(burn):
        x, lp, _ = _de_sweep(log_post, x, lp, rng, g0)
    pilot_chain = np.empty((pilot, m, walkers, d))
    for t in range(pilot):
        x, lp, _ = _de_sweep(log_post, x, lp, rng, g0)
        pilot_chain[t] = x
    with _quiet_emcee():
        tau = np.array([float(np.max(emcee.autocorr.integrated_time(pilot_chain[:, i], quiet=True)))
                        for i in range(m)])
    thin = int(min(max(1, math.ceil(tau.max())), max_thin))
    chain = np.empty((per_walker, m, walkers, d))
    acc = np.zeros((m, walkers))
    for t in range(per_walker * thin):
        x, lp, a = _de_sweep(log_post, x, lp, rng, g0)
        acc += a
        if (t + 1) % thin == 0:
            chain[(t + 1) // thin - 1] = x
    out = np.empty((m, n, d))
    info = {k: [] for k in ("rhat", "ess", "tau", "thin", "acceptance", "steps", "seconds")}
    seconds = (time.perf_counter() - t0) / m
    for i in range(m):
        c = np.swapaxes(chain[:, i], 0, 1)  # (walkers, draws, d)
        rhat, ess = _convergence(c)
        out[i] = _draws(c, n, normals, rng)
        for k, v in (("rhat", rhat), ("ess", min(ess, float(n))), ("tau", tau[i]), ("thin", thin),
                     ("acceptance", float(acc[i].mean() / (per_walker * thin))),
                     ("steps", burn + pilot + per_walker * thin), ("seconds", seconds)):
            info[k].append(v)
    info = {k: np.asarray(v) for k, v in info.items()}
    info.update(method="de-mcmc-batched", walkers=walkers, burn=burn, pilot=pilot)
    return out, info
