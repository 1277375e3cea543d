"""Reference posteriors (exact samplers and quantile ABC), test observations, and their disk cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .. import __version__
from ..problems import get_problem
from .abc import quantile_abc

__all__ = ["TEST_SEED", "cache_dir", "quantile_abc", "reference_posterior", "test_observations"]

#: Seed of the 1000 test observations of every problem.
TEST_SEED = 20190601
REFERENCE_SEED = 1234


def cache_dir() -> Path:
    """Where references and test observations are cached: ``$INNBENCH_CACHE`` or ``~/.cache/innbench``."""
    d = Path(os.environ.get("INNBENCH_CACHE", Path.home() / ".cache" / "innbench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _atomic_save_npz(path: Path, **arrays):
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def test_observations(problem, n: int = 1000, seed: int = TEST_SEED, cache: bool = True):
    """The fixed test set: ``n`` prior-predictive draws ``(x_true (n, x_dim), y (n, y_dim))``.

    The first ``k`` observations of a larger set equal the set of size ``k``; stochastic problems
    are excluded from that guarantee only if the simulator's noise depends on the batch size.
    """
    problem = get_problem(problem)
    path = cache_dir() / "observations" / f"{problem.name}-v{problem.version}-seed{seed}-n{n}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                return f["x"], f["y"]
        except Exception:
            pass  # a corrupt cache file is recomputed
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


def _key(problem, y, n, method, seed, options) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([problem.name, problem.version, n, method, seed, options], sort_keys=True).encode())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return h.hexdigest()[:20]


def reference_posterior(problem, y, n: int = 4000, method: str = "exact", seed: int = REFERENCE_SEED,
                        cache: bool = True, **options):
    """Reference posterior samples ``(m, n, x_dim)`` for observations ``y`` and their provenance.

    ``method``: ``exact`` (the problem's exact sampler: closed form or importance resampling along
    the solution set, with its effective sample size) or ``abc`` (quantile ABC, any problem).
    Results are cached on disk keyed by problem, version, observations, n, method, seed and options;
    the provenance dict (method, seed, sample counts, ESS or tolerance, versions) is stored beside them.
    """
    problem = get_problem(problem)
    y = problem.validate_observations(y)
    if method not in ("exact", "abc"):
        raise ValueError(f"method: expected 'exact' or 'abc', got {method!r}")
    if method == "exact" and not problem.has_exact_posterior:
        raise ValueError(f"method: problem {problem.name!r} has no exact sampler; use method='abc'")
    key = _key(problem, y, n, method, seed, options)
    path = cache_dir() / "references" / f"{problem.name}-{method}-{key}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as f:
                return f["samples"], json.loads(str(f["provenance"]))
        except Exception:
            pass
    rng = np.random.default_rng(seed)
    if method == "exact":
        samples, info = problem.exact_posterior(y, n, rng, **options)
    else:
        samples, info = quantile_abc(problem, y, n, rng, **options)
    provenance = {
        "problem": problem.name,
        "problem_version": problem.version,
        "method": info.pop("method"),
        "seed": seed,
        "n_samples": n,
        "n_observations": len(y),
        "innbench_version": __version__,
        "options": options,
    }
    for k, v in info.items():
        provenance[k] = np.asarray(v).tolist() if isinstance(v, np.ndarray) else v
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_save_npz(path, samples=samples, provenance=np.array(json.dumps(provenance)))
    return samples, provenance
