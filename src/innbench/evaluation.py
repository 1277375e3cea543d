"""The metrics stage: every number the benchmark stores for a model on a set of observations, in one place.

:func:`score` is used by :func:`innbench.api.evaluate` (and through it ``innbench evaluate``) and by the
benchmark runner, so the CLI, the API and the results database report the same metrics computed the same
way. Each metric says what it costs; the expensive ones can be switched off:

- Err_post (MMD against reference samples) per observation -- the reference posterior is the main cost
  on first use (cached on disk afterwards);
- Err_resim as mean distance and mean squared distance, the invalid and out-of-support fractions --
  one forward simulation per sample;
- inference time (``timing_observations`` extra sampling calls);
- the noise floor of Err_post (a second reference draw on ``noise_floor_observations``);
- SBC ranks, their uniformity p-value and the expected coverage of central intervals (needs the true
  parameters ``x_true`` behind the observations; free once the samples exist);
- C2ST accuracy against the reference and its floor (two small classifiers per observation, on the
  first ``c2st_observations``; about a second each on a CPU).
"""

from __future__ import annotations

import time

import numpy as np

from .calibration import c2st, expected_coverage, rank_histogram_pvalue, sbc_ranks
from .memo import Memo
from .metrics import err_post, err_resim, mmd, support_violation
from .reference import reference_posterior

__all__ = ["COVERAGE_LEVELS", "c2st_floor", "calibration_summary", "noise_floor", "score"]

#: credibility levels of the expected-coverage curves
COVERAGE_LEVELS = np.linspace(0.0, 1.0, 21)

_NOISE_FLOORS = Memo(256)  # per (problem, observations, n, method)
_C2ST_FLOORS = Memo(256)


def check_c2st_options(backend: str, folds: int) -> None:
    """Refuse an unknown C2ST classifier backend or fewer than two cross-validation folds."""
    from . import params as P

    if backend not in ("torch", "sklearn"):
        raise ValueError(f"c2st_backend: expected 'torch' or 'sklearn', got {backend!r}")
    if P.count(folds, "c2st_folds") < 2:
        raise ValueError(f"c2st_folds: expected at least 2 folds, got {folds!r}")


def _reference_method(problem, method: str) -> str:
    """``exact`` falls back to MCMC where the problem has a likelihood but no sampler, else to ABC."""
    if method != "exact" or problem.has_exact_posterior:
        return method
    return "mcmc" if problem.has_likelihood else "abc"


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
    method = _reference_method(problem, method)

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

    from . import __version__
    from .atomic import OutputError, atomic_file
    from .reference import cache_dir

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


def calibration_summary(ranks: np.ndarray, draws: int) -> dict:
    """The smallest per-parameter p-value of the SBC rank histograms' uniformity test and the expected
    coverage of the central 50 % and 90 % intervals (1.0 / 0.5 / 0.9 for a calibrated posterior).

    Args:
        ranks: SBC ranks ``(m, x_dim)`` (:func:`innbench.calibration.sbc_ranks`).
        draws: number of posterior draws behind each rank (``L``).

    Returns:
        ``{"sbc_min_pvalue": ..., "coverage_50": ..., "coverage_90": ...}``.

    Example:
        >>> import numpy as np
        >>> from innbench.evaluation import calibration_summary
        >>> ranks = np.tile(np.arange(101)[:, None], (1, 2))  # every rank of 100 draws once, two parameters
        >>> {k: round(v, 2) for k, v in calibration_summary(ranks, 100).items()}
        {'sbc_min_pvalue': 1.0, 'coverage_50': 0.5, 'coverage_90': 0.9}
    """
    levels, cov = expected_coverage(ranks, draws, COVERAGE_LEVELS)
    levels, cov = np.asarray(levels, dtype=float), np.asarray(cov, dtype=float)
    return {"sbc_min_pvalue": float(np.min(rank_histogram_pvalue(ranks, draws))),
            "coverage_50": float(np.interp(0.5, levels, cov)), "coverage_90": float(np.interp(0.9, levels, cov))}


def _query_times(model, y: np.ndarray, n: int, seed: int) -> list[float]:
    """Seconds of one ``sample(y_i, n)`` call per observation of ``y``, after one warm-up call."""
    if not len(y):
        return []
    model.sample(y[:1], n, seed=seed)
    times = []
    for i in range(len(y)):
        t = time.perf_counter()
        model.sample(y[i : i + 1], n, seed=seed + i)
        times.append(time.perf_counter() - t)
    return times


def score(model, y: np.ndarray, x_true: np.ndarray | None = None, n_samples: int = 4000,
          reference_method: str = "exact", seed: int = 0, timing_observations: int = 20,
          noise_floor_observations: int = 50, c2st_observations: int = 0, sbc: bool = True,
          round_discrete: bool = True, progress: bool = False, keep_samples: bool = False, c2st_folds: int = 2,
          c2st_backend: str = "torch", reference_options: dict | None = None) -> dict:
    """Score a trained ``model`` on validated observations ``y`` (m, y_dim) against reference posteriors.

    ``x_true`` (m, x_dim), the parameters that produced ``y``, enables the SBC metrics (with ``sbc``).
    Returns ``{"summary": {...}, "per_observation": {...}}`` (plus ``samples`` and ``reference`` with
    ``keep_samples``); see :func:`innbench.api.evaluate` for the keys. The API, the CLI and the benchmark
    runner all score through this function.

    Args:
        model: a :class:`innbench.models.Model`.
        y: validated observations ``(m, y_dim)``.
        x_true: the parameters behind ``y``, ``(m, x_dim)``, or None.
        n_samples: samples per observation, of the model and of the reference.
        reference_method: ``exact`` (falls back to MCMC or ABC), ``mcmc`` or ``abc``.
        seed: seeds the model's samples and the metrics' randomness.
        timing_observations: observations timed one sampling call each.
        noise_floor_observations: observations for the noise floor of Err_post.
        c2st_observations: the first observations scored by C2ST.
        sbc: compute SBC ranks and coverage (needs ``x_true``).
        round_discrete: round integer-valued parameters before scoring.
        progress: show progress bars.
        keep_samples: also return the samples.
        c2st_folds: cross-validation folds of C2ST.
        c2st_backend: ``torch`` or ``sklearn``.
        reference_options: keyword options of the reference sampler (:func:`innbench.api.reference`), for the
            references and their floors.

    Example:
        >>> from innbench.evaluation import score
        >>> from innbench.models import build_model
        >>> from innbench.reference import test_observations
        >>> model = build_model("mdn", "linear")
        >>> x_true, y = test_observations(model.problem, 4)
        >>> result = score(model, y, x_true, n_samples=100, timing_observations=0, noise_floor_observations=0)
        >>> result["summary"]["sbc_observations"], len(result["per_observation"]["sbc_ranks"])
        (4, 4)
    """
    problem = model.problem
    if x_true is not None and np.shape(x_true) != (len(y), problem.x_dim):
        raise ValueError(f"x_true: expected shape ({len(y)}, {problem.x_dim}), got {np.shape(x_true)}")
    from . import params as P

    n_samples = P.count(n_samples, "n_samples")
    P.nonnegative_count(seed, "seed")
    for name, value in (("timing_observations", timing_observations), ("c2st_observations", c2st_observations),
                        ("noise_floor_observations", noise_floor_observations)):
        P.nonnegative_count(value, name)
    check_c2st_options(c2st_backend, c2st_folds)
    method = _reference_method(problem, reference_method)
    if reference_options is not None and not (isinstance(reference_options, dict)
                                              and all(isinstance(k, str) for k in reference_options)):
        raise ValueError(f"reference_options: expected a dict of keyword options, got {reference_options!r}")
    options = dict(reference_options or {})
    ref, prov = reference_posterior(problem, y, n_samples, method=method, **options)
    t0 = time.perf_counter()
    rounds = bool(problem.discrete) and round_discrete
    samples = model.sample(y, n_samples, seed=seed, round_discrete=False)
    sampling_s = time.perf_counter() - t0
    resim_continuous = None
    if rounds:  # Err_resim of the model's own (unrounded) samples, then the same rounding sample() does
        resim_continuous, _, _ = err_resim(problem, samples, y, rng=np.random.default_rng([seed, 37]))
        samples = model.round_discrete(samples)

    times = _query_times(model, y[:timing_observations], n_samples, seed)
    ep = err_post(samples, ref, progress=progress)
    dist, sq, invalid = err_resim(problem, samples, y, rng=np.random.default_rng([seed, 31]))
    outside = support_violation(problem, samples)
    nf_k = min(noise_floor_observations, len(y))
    nf = noise_floor(problem, y[:nf_k], n_samples, method, options) if nf_k else np.array([])

    ranks = None
    if sbc and x_true is not None:
        ranks = sbc_ranks(samples, np.asarray(x_true, dtype=float), rng=np.random.default_rng([seed, 4711]))
    c2_k = min(c2st_observations, len(y))
    c2 = [c2st(samples[i], ref[i], seed=0, folds=c2st_folds, backend=c2st_backend)
          if np.isfinite(samples[i]).any() else float("nan")
          for i in range(c2_k)]  # a model whose samples are all invalid gets no score, not a crash
    c2_floor = (c2st_floor(problem, y[:c2_k], n_samples, method, folds=c2st_folds, backend=c2st_backend,
                           options=options) if c2_k else [])

    summary = {
        "problem": problem.name,
        "model": model.name,
        "n_observations": len(y),
        "n_samples": n_samples,
        "err_post_mean": float(np.nanmean(ep)),
        "err_post_median": float(np.nanmedian(ep)),
        "err_resim_mean": float(np.nanmean(dist)),
        "err_resim_median": float(np.nanmedian(dist)),
        "err_resim_sq_mean": float(np.nanmean(sq)),
        "err_resim_continuous_mean": None if resim_continuous is None else float(np.nanmean(resim_continuous)),
        "invalid_fraction": float(np.mean(invalid)),
        "outside_support_fraction": float(np.mean(outside)),
        "inference_ms": 1000 * float(np.mean(times)) if times else None,
        "sampling_seconds_all": sampling_s,
        "noise_floor_mean": float(np.mean(nf)) if len(nf) else None,
        "noise_floor_observations": int(nf_k),
        "sbc_min_pvalue": None, "coverage_50": None, "coverage_90": None,
        "sbc_observations": 0 if ranks is None else len(ranks),
        "c2st_mean": float(np.nanmean(c2)) if c2_k and np.isfinite(c2).any() else None,
        "c2st_floor_mean": float(np.mean(c2_floor)) if c2_k else None,
        "c2st_observations": int(c2_k),
        "reference_method": prov["method"],
        "reference_min_ess": float(np.min(prov["ess"])) if "ess" in prov else None,
        "n_parameters": model.n_parameters(),
        "dim_z": model.dim_z(),
        "train_seconds": model.train_info.get("train_seconds"),
        "device": str(model.device),
        "round_discrete": round_discrete,
    }
    if ranks is not None:
        summary.update(calibration_summary(ranks, samples.shape[1]))
    out = {
        "summary": summary,
        "per_observation": {
            "y": y.tolist(),
            "err_post": ep.tolist(),
            "err_resim": dist.tolist(),
            "err_resim_sq": sq.tolist(),
            "err_resim_continuous": None if resim_continuous is None else resim_continuous.tolist(),
            "invalid_fraction": invalid.tolist(),
            "outside_support_fraction": outside.tolist(),
            "sbc_ranks": None if ranks is None else ranks.tolist(),
            "sbc_draws": int(samples.shape[1]),
            "c2st": c2,
            "c2st_reference": c2_floor,
        },
    }
    if keep_samples:
        out["samples"], out["reference"] = samples, ref
    return out
