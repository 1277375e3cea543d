"""Reference posteriors (the problems' exact samplers, ensemble MCMC and quantile ABC), test observations, and their
disk cache.

This layer sits below the problem registry: its functions take a :class:`innbench.problems.Problem` object
(:func:`innbench.get_problem` gives one by name; :mod:`innbench.api` takes names). The samplers are
:mod:`innbench.reference.mcmc` and :mod:`innbench.reference.abc`."""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import ObservationError
from .abc import quantile_abc

__all__ = ["TEST_SEED", "cache_dir", "quantile_abc", "reference_posterior", "resolve_reference_method",
           "sampler_version", "test_observations"]

#: Seed of the 1000 test observations of every problem.
TEST_SEED = 20190601
REFERENCE_SEED = 1234


def cache_dir() -> Path:
    """Where references and test observations are cached: ``$INNBENCH_CACHE`` or ``~/.cache/innbench``.

    The directory is created if missing. Deleting it costs only recomputation.

    Example:
        >>> from innbench.reference import cache_dir
        >>> cache_dir().is_dir()
        True
    """
    d = Path(os.environ.get("INNBENCH_CACHE", Path.home() / ".cache" / "innbench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


#: below this effective sample size (or below n, if fewer samples are asked for) an exact reference is
#: degenerate (a handful of distinct draws) and nothing is scored against it; the exact samplers aim for
#: 10,000
MIN_ESS = 1000


def _atomic_save_npz(path: Path, **arrays) -> None:
    """Write a cache file atomically; a cache that cannot be written (full disk) costs a warning, not the
    result just computed."""
    from ..atomic import OutputError, atomic_file

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "cache") as tmp, open(tmp, "wb") as f:
            np.savez(f, **arrays)
    except (OutputError, OSError) as exc:
        warnings.warn(f"cache: could not write {str(path)!r} ({exc}); the result is not cached", stacklevel=3)


def _problem(problem):
    """``problem`` itself where it is a problem object; a name is refused with the call that resolves it (this layer
    sits below the problem registry, :func:`innbench.get_problem`)."""
    if isinstance(problem, str):
        raise TypeError(f"problem: expected a Problem object, got the name {problem!r}; pass "
                        f"innbench.get_problem({problem!r}) (innbench.api takes names)")
    return problem


def _count(n, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}")
    return int(n)


def test_observations(problem, n: int = 1000, seed: int = TEST_SEED, cache: bool = True):
    """The fixed test set: ``n`` prior-predictive draws ``(x_true (n, x_dim), y (n, y_dim))``.

    The first ``k`` observations of a larger set equal the set of size ``k``; stochastic problems
    are excluded from that guarantee only if the simulator's noise depends on the batch size.

    Args:
        problem: a :class:`innbench.problems.Problem` (:func:`innbench.get_problem` gives one by name).
        n: number of observations.
        seed: the test set's seed (:data:`TEST_SEED`; another seed gives another set, e.g. for validation).
        cache: read and write the on-disk cache (:func:`cache_dir`).

    Returns:
        ``(x_true (n, x_dim), y (n, y_dim))``.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.reference import test_observations
        >>> arm = get_problem("kinematics")
        >>> x_true, y = test_observations(arm, 5)
        >>> x_true.shape, y.shape
        ((5, 4), (5, 2))
        >>> bool(np.array_equal(test_observations(arm, 20)[1][:5], y))  # prefixes agree
        True
    """
    from ..runtime import check_memory

    problem = _problem(problem)
    n = _count(n, "n")
    check_memory(n * (problem.x_dim + problem.y_dim) * 8 * 3.0, "n", f"{n:,} test observations")
    path = cache_dir() / "observations" / f"{problem.name}-v{problem.version}-seed{seed}-n{n}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                x, y = f["x"], f["y"]
            if x.shape == (n, problem.x_dim) and y.shape == (n, problem.y_dim):
                return x, y
        except Exception:
            pass  # a corrupt cache file, or one that does not match its key, is recomputed
    # Draw one at a time in blocks of a fixed size so prefixes agree across n.
    rng = np.random.default_rng(seed)
    blocks = [problem.simulate(100, rng) for _ in range(-(-n // 100))]
    x = np.concatenate([b[0] for b in blocks])[:n]
    y = np.concatenate([b[1] for b in blocks])[:n]
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_save_npz(path, x=x, y=y)
    return x, y


test_observations.__test__ = False  # not a pytest test despite its name


def sampler_version(problem, method: str) -> str:
    """The code version of the reference sampler ``method`` for ``problem`` (part of the cache key): the problem's
    ``reference_version`` for ``exact``, :data:`innbench.reference.mcmc.SAMPLER_VERSION` for ``mcmc``,
    :data:`innbench.reference.abc.SAMPLER_VERSION` for ``abc``.

    Example:
        >>> from innbench import get_problem
        >>> from innbench.reference import sampler_version
        >>> moons = get_problem("two_moons")
        >>> sampler_version(moons, "exact"), sampler_version(moons, "mcmc")
        ('exact-1', 'mcmc-1')
    """
    problem = _problem(problem)
    if method == "exact":
        return f"exact-{problem.reference_version}"
    if method == "mcmc":
        from .mcmc import SAMPLER_VERSION

        return f"mcmc-{SAMPLER_VERSION}"
    from .abc import SAMPLER_VERSION

    return f"abc-{SAMPLER_VERSION}"


def _key(problem, y, n, method, seed, options) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([problem.name, problem.version, sampler_version(problem, method), n, method, seed, options],
                        sort_keys=True).encode())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()[:20]


def resolve_reference_method(problem, method: str = "exact") -> str:
    """The reference method used for ``problem``: ``exact`` falls back to ``mcmc`` where the problem has a
    likelihood but no exact sampler, else to ``abc``; ``mcmc`` and ``abc`` stay.

    Example:
        >>> from innbench import get_problem
        >>> from innbench.reference import resolve_reference_method
        >>> moons = get_problem("two_moons")
        >>> resolve_reference_method(moons), resolve_reference_method(moons, "abc")
        ('exact', 'abc')
    """
    problem = _problem(problem)
    if method != "exact" or problem.has_exact_posterior:
        return method
    return "mcmc" if problem.has_likelihood else "abc"


def reference_posterior(problem, y, n: int = 4000, method: str = "exact", seed: int = REFERENCE_SEED,
                        cache: bool = True, **options):
    """Reference posterior samples ``(m, n, x_dim)`` for observations ``y`` and their provenance.

    ``method``: ``exact`` (the problem's own reference sampler: closed form, importance resampling along
    the solution set, or, for SLCP and the Bernoulli GLM, MCMC on the exact likelihood, each with its
    effective sample size), ``mcmc`` (:func:`innbench.reference.mcmc.mcmc_posterior`, any problem with a tractable
    likelihood; R-hat and ESS in the provenance) or ``abc`` (quantile ABC, any problem).
    Results are cached on disk keyed by problem, version, the sampler's code version (:func:`sampler_version`),
    observations, n, method, seed and options;
    the provenance dict (method, seed, sample counts, ESS or tolerance, versions) is stored beside them.

    Args:
        problem: a :class:`innbench.problems.Problem` (:func:`innbench.get_problem` gives one by name).
        y: observations ``(m, y_dim)`` (validated against the problem).
        n: samples per observation.
        method: ``exact``, ``mcmc`` or ``abc``.
        seed: the reference's seed (another seed gives an independent draw, as for the noise floor).
        cache: read and write the on-disk cache (:func:`cache_dir`).
        **options: options of the method (:func:`innbench.reference.mcmc.mcmc_posterior`, :func:`quantile_abc`).

    Returns:
        ``(samples (m, n, x_dim), provenance dict)``.

    Raises:
        ObservationError: an observation is invalid, or its exact reference is degenerate (an effective
            sample size below :data:`MIN_ESS`: it lies where the prior predicts almost no observations).

    Example:
        >>> from innbench import get_problem
        >>> from innbench.reference import reference_posterior
        >>> modes = get_problem("gaussian_modes")
        >>> samples, provenance = reference_posterior(modes, [[1, 0, 0, 0, 0, 0, 0, 0]], n=500)
        >>> samples.shape, provenance["method"], provenance["n_samples"]
        ((1, 500, 2), 'exact-closed-form', 500)
    """
    from ..runtime import check_memory

    problem = _problem(problem)
    n = _count(n, "n")
    y = problem.validate_observations(y)
    check_memory(len(y) * n * problem.x_dim * 8 * 4.0, "n", f"{len(y):,} observations x {n:,} reference samples")
    if method not in ("exact", "mcmc", "abc"):
        raise ValueError(f"method: expected 'exact', 'mcmc' or 'abc', got {method!r}")
    if method == "exact" and not problem.has_exact_posterior:
        raise ValueError(f"method: problem {problem.name!r} has no exact sampler; use method='abc'"
                         + (" or 'mcmc'" if problem.has_likelihood else ""))
    key = _key(problem, y, n, method, seed, options)
    path = cache_dir() / "references" / f"{problem.name}-{method}-{key}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                samples, provenance = f["samples"], json.loads(str(f["provenance"]))
            fits = (provenance["n_samples"], provenance["seed"]) == (n, seed)
            if samples.shape == (len(y), n, problem.x_dim) and fits:
                return samples, provenance
        except Exception:
            pass  # a corrupt cache file, or one that does not match its key, is recomputed
    rng = np.random.default_rng(seed)
    if method == "exact":
        samples, info = problem.exact_posterior(y, n, rng, **options)
    elif method == "mcmc":
        from .mcmc import mcmc_posterior

        samples, info = mcmc_posterior(problem, y, n, rng, **options)
    else:
        samples, info = quantile_abc(problem, y, n, rng, **options)
    provenance = {
        "problem": problem.name,
        "problem_version": problem.version,
        "method": info.pop("method"),
        "sampler_version": sampler_version(problem, method),
        "seed": seed,
        "n_samples": n,
        "n_observations": len(y),
        "innbench_version": __version__,
        "options": options,
    }
    for k, v in info.items():
        provenance[k] = np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
    if "ess" in provenance:
        ess = np.asarray(provenance["ess"], dtype=float)
        floor = min(MIN_ESS, n)  # closed-form samplers report ESS = n
        bad = np.flatnonzero(~(ess >= floor))
        if len(bad):
            raise ObservationError(
                f"observations: rows {bad[:10].tolist()} (y = {y[bad[0]].tolist()}, ...) have a degenerate exact "
                f"reference posterior (effective sample size {ess[bad[0]]:.3g} < {floor}): they lie where the prior "
                "predicts (almost) no observations, so no sample can be scored against them")
    if cache:
        _atomic_save_npz(path, samples=samples, provenance=np.array(json.dumps(provenance)))
    return samples, provenance
