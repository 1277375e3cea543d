"""The noise floors of the metrics that compare with a reference posterior: what a perfect sampler scores.

Err_post's floor is Err_post between two independent reference draws (:func:`noise_floor`); C2ST's is the test of
an independent reference draw against the reference (:func:`c2st_floor`). Both are remembered in memory and
cached on disk beside the reference posteriors, keyed by everything that determines them (problem and version,
observations, sample count, method and options, and the innbench and torch versions), so a grid computes each
once.
"""

from __future__ import annotations

import numpy as np

from ..calibration import c2st
from ..memo import Memo
from ..reference import reference_posterior, resolve_reference_method
from .distances import mmd

__all__ = ["c2st_floor", "check_c2st_options", "noise_floor"]

_NOISE_FLOORS = Memo(256)  # per (problem, observations, n, method)
_C2ST_FLOORS = Memo(256)


def check_c2st_options(backend: str, folds: int) -> None:
    """Refuse an unknown C2ST classifier backend or fewer than two cross-validation folds."""
    from .. import params as P

    if backend not in ("torch", "sklearn"):
        raise ValueError(f"c2st_backend: expected 'torch' or 'sklearn', got {backend!r}")
    if P.count(folds, "c2st_folds") < 2:
        raise ValueError(f"c2st_folds: expected at least 2 folds, got {folds!r}")


def noise_floor(problem, y: np.ndarray, n: int = 4000, method: str = "exact", options: dict | None = None
                ) -> np.ndarray:
    """Err_post between two independent reference draws per observation: the metric's noise floor.

    Remembered per (problem, observations, n, method) (:mod:`innbench.memo`), so a grid computes it once
    per problem.

    Args:
        problem: the :class:`innbench.problems.Problem`.
        y: validated observations ``(m, y_dim)``.
        n: samples per reference draw.
        method: the reference method (``exact``, ``mcmc`` or ``abc``).
        options: keyword options of the reference sampler (part of the cache keys).

    Returns:
        An array ``(m,)``.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.evaluation import noise_floor
        >>> noise_floor(get_problem("linear"), np.array([[0.0], [2.0]]), n=200).shape
        (2,)
    """
    options = dict(options or {})

    def compute():
        a, _ = reference_posterior(problem, y, n, method=method, **options)
        b, _ = reference_posterior(problem, y, n, method=method, seed=98765, **options)
        return np.array([mmd(a[i], b[i]) for i in range(len(a))])

    parts = [n, method] + ([_options_key(options)] if options else [])
    key = (problem.name, problem.version, y.shape, y.tobytes(), *parts)
    return np.asarray(_NOISE_FLOORS.get(key, lambda: _on_disk("noise_floor", problem, y, parts, compute)),
                      dtype=float).copy()


def _options_key(options: dict) -> str:
    """Reference-sampler options as a stable string for the floors' cache keys."""
    import json

    return json.dumps(options, sort_keys=True, default=repr)


def c2st_floor(problem, y: np.ndarray, n: int, method: str = "exact", folds: int = 2,
               backend: str = "torch", options: dict | None = None) -> list[float]:
    """C2ST of an independent reference draw (seed 98765, as for the noise floor of Err_post) against
    the reference, per observation: what the test reports for a perfect sampler with ``n`` samples.

    Remembered in memory and cached on disk beside the references.

    Args:
        problem: the :class:`innbench.problems.Problem`.
        y: validated observations ``(m, y_dim)``.
        n: samples per reference draw.
        method: the reference method (``exact`` falls back to MCMC or ABC where there is no sampler).
        folds: cross-validation folds of C2ST.
        backend: ``torch`` or ``sklearn`` (:func:`innbench.calibration.c2st`).
        options: keyword options of the reference sampler (part of the cache keys).

    Returns:
        A list of ``m`` accuracies (about 0.5).

    Example:
        It trains a classifier per fold and observation, so it is not run here:

        ```python
        c2st_floor(get_problem("two_moons"), y, n=10_000, folds=5)   # sbibm's protocol
        ```
    """
    method = resolve_reference_method(problem, method)

    options = dict(options or {})

    def compute():
        ref, _ = reference_posterior(problem, y, n, method=method, **options)
        other, _ = reference_posterior(problem, y, n, method=method, seed=98765, **options)
        return [c2st(other[i], ref[i], seed=0, folds=folds, backend=backend) for i in range(len(y))]

    parts = [n, method, folds, backend] + ([_options_key(options)] if options else [])
    key = (problem.name, problem.version, y.shape, y.tobytes(), *parts)
    return list(_C2ST_FLOORS.get(key, lambda: _on_disk("c2st_floor", problem, y, parts, compute)))


def _on_disk(kind: str, problem, y: np.ndarray, parts: list, compute) -> list[float]:
    """One float per observation, cached on disk beside the reference posteriors (keyed by ``kind``, the
    problem and its version, the observations, ``parts``, and the innbench and torch versions), so that
    every process of a grid computes a floor once (the 5-fold C2ST floor on ten observations took 6-8 minutes
    for the epidemic and for the set problem, one thread on a shared machine). A corrupt or unwritable cache
    file costs the computation, not the result."""
    import hashlib
    import json

    import torch

    from .. import __version__
    from ..atomic import OutputError, atomic_file
    from ..reference import cache_dir

    h = hashlib.sha256(json.dumps([kind, problem.name, problem.version, parts, __version__, torch.__version__],
                                  default=str).encode())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    path = cache_dir() / "floors" / f"{problem.name}-{kind}-{h.hexdigest()[:20]}.json"
    try:
        values = json.loads(path.read_text())
        if isinstance(values, list) and len(values) == len(y) and all(isinstance(v, float) for v in values):
            return values
    except (OSError, ValueError):
        pass  # absent or corrupt: computed again
    values = [float(v) for v in compute()]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(path, "cache") as tmp:
            tmp.write_text(json.dumps(values))
    except (OutputError, OSError) as exc:
        import warnings

        warnings.warn(f"cache: could not write {str(path)!r} ({exc}); the floor is not cached", stacklevel=2)
    return values
