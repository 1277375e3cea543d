"""The metrics stage: :func:`score` runs the registered metrics (:mod:`innbench.metrics`) on a model's samples.

:func:`score` is used by :func:`innbench.api.evaluate` (and through it ``innbench evaluate``) and by the
benchmark runner, so the CLI, the API and the results database report the same metrics computed the same
way. What each metric needs and costs is declared with it (:class:`innbench.metrics.Metric`); the built-in ones,
in the order they run:

- ``err_resim_continuous``: Err_resim of the unrounded samples (problems with integer parameters only);
- ``inference_time``: milliseconds per sampling call (``timing_observations`` extra calls);
- ``err_post``: MMD against reference samples per observation -- the reference posterior is the main cost
  on first use (cached on disk afterwards);
- ``err_resim``: mean distance and mean squared distance, the invalid fraction -- one forward simulation
  per sample;
- ``ppc``: the posterior predictive check, the energy score of the re-simulated observations at ``y*`` (one
  forward simulation per sample; the reference's score beside it where the reference was drawn);
- ``outside_support``: the fraction of samples outside the prior's support;
- ``err_post_floor``: the noise floor of Err_post (a second reference draw on ``noise_floor_observations``);
- ``sbc``: SBC ranks, their uniformity p-value and the expected coverage of central intervals (needs the true
  parameters ``x_true`` behind the observations; free once the samples exist);
- ``tarp``: TARP's credibility of the true parameters among the samples, all parameters at once (needs
  ``x_true``; free);
- ``c2st``: C2ST accuracy against the reference and its floor (two small classifiers per observation, on the
  first ``c2st_observations``; about a second each on a CPU).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from .metrics import Inputs, default_metric_names, resolve_options
from .metrics import metrics as registered
from .metrics.floors import c2st_floor, check_c2st_options, noise_floor
from .metrics.sbc import COVERAGE_LEVELS, calibration_summary
from .reference import reference_posterior, resolve_reference_method

__all__ = ["COVERAGE_LEVELS", "c2st_floor", "calibration_summary", "check_c2st_options", "noise_floor",
           "own_calibration", "score", "score_samples", "showcase"]


def score(model, y: np.ndarray, x_true: np.ndarray | None = None, n_samples: int = 4000,
          reference_method: str = "exact", seed: int = 0, timing_observations: int = 20,
          noise_floor_observations: int = 50, c2st_observations: int = 0, sbc: bool = True,
          round_discrete: bool = True, progress: bool = False, keep_samples: bool = False, c2st_folds: int = 2,
          c2st_backend: str = "torch", reference_options: dict | None = None,
          metrics: Sequence[str] | None = None, metric_options: dict | None = None) -> dict:
    """Score a trained ``model`` on validated observations ``y`` (m, y_dim): the registered metrics
    (:mod:`innbench.metrics`), in registry order.

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
        metrics: the metrics to compute, by registered name (:func:`innbench.metrics.metric_names`); None: every
            registered metric whose needs are met (SBC needs ``x_true``) except the opt-in ones
            (:attr:`innbench.metrics.Metric.default`). A metric named here whose needs are not met is refused.
            The reference posterior is drawn only where a chosen metric needs it.
        metric_options: options of the chosen metrics by name (:attr:`innbench.metrics.Metric.options`, e.g.
            ``{"lc2st_null": 20}``); an option no chosen metric declares is refused.

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
    method = resolve_reference_method(problem, reference_method)
    if reference_options is not None and not (isinstance(reference_options, dict)
                                              and all(isinstance(k, str) for k in reference_options)):
        raise ValueError(f"reference_options: expected a dict of keyword options, got {reference_options!r}")
    options = dict(reference_options or {})
    chosen = _chosen(metrics)
    extra = resolve_options(chosen, metric_options)
    inputs = Inputs(problem, y, np.empty((len(y), 0, problem.x_dim)), seed=seed, x_true=x_true, model=model,
                    reference=lambda: reference_posterior(problem, y, n_samples, method=method, **options),
                    options={"timing_observations": timing_observations, "c2st_observations": c2st_observations,
                             "noise_floor_observations": noise_floor_observations, "c2st_folds": c2st_folds,
                             "c2st_backend": c2st_backend, "sbc": sbc, "progress": progress,
                             "reference_method": method, "reference_options": options, **extra})
    _check_needs(chosen, inputs, named=metrics is not None)
    if any("reference" in m.needs for m in chosen):
        inputs.reference_samples()  # drawn (or read from the cache) before the model samples, as always
    t0 = time.perf_counter()
    samples = model.sample(y, n_samples, seed=seed, round_discrete=False)
    sampling_s = time.perf_counter() - t0
    if bool(problem.discrete) and round_discrete:  # the metrics of the model's samples as sample() rounds them
        inputs.unrounded, samples = samples, model.round_discrete(samples.copy())
    inputs.samples = samples

    summary = {"problem": problem.name, "model": model.name, "n_observations": len(y), "n_samples": n_samples}
    per_observation = {"y": y.tolist()}
    per, summ = _run(chosen, inputs)
    per_observation.update(per)
    summary.update(summ)
    prov = inputs.reference_provenance() if inputs.reference_drawn else {}
    summary.update({
        "sampling_seconds_all": sampling_s,
        "reference_method": prov.get("method"),
        "reference_min_ess": float(np.min(prov["ess"])) if "ess" in prov else None,
        "n_parameters": model.n_parameters(),
        "dim_z": model.dim_z(),
        "train_seconds": model.train_info.get("train_seconds"),
        "device": str(model.device),
        "round_discrete": round_discrete,
    })
    out = {"summary": summary, "per_observation": per_observation}
    if keep_samples:
        out["samples"] = samples
        out["reference"] = inputs.reference_samples() if inputs.reference_drawn else None
    return out


def _chosen(metrics: Sequence[str] | None) -> list:
    """The metrics named (in registry order), or the default ones where none are named."""
    return registered(metrics) if metrics is not None else registered(default_metric_names())


def _check_needs(chosen, inputs: Inputs, named: bool) -> None:
    """Metrics the caller named must have what they need (unnamed ones are left out where they do not)."""
    if not named:
        return
    for m in chosen:
        missing = sorted(need for need in m.needs if not inputs.has(need))
        if missing:
            raise ValueError(f"metrics: {m.name!r} needs {', '.join(missing)}, which this call does not give")


def _run(chosen, inputs: Inputs) -> tuple[dict, dict]:
    """Per-observation values and summary of the metrics ``chosen`` on ``inputs``; a metric whose needs are not
    met gives its keys with None."""
    per_observation, summary = {}, {}
    for m in chosen:
        per, summ = m.run(inputs) if all(inputs.has(need) for need in m.needs) else m.empty()
        per_observation.update(per)
        summary.update(summ)
    return per_observation, summary


def score_samples(problem, y: np.ndarray, samples: np.ndarray, seed: int = 0, x_true: np.ndarray | None = None,
                  reference: np.ndarray | None = None, metrics: Sequence[str] | None = None,
                  metric_options: dict | None = None, **options) -> tuple[dict, dict]:
    """The registered metrics of posterior samples of any origin (no model): what :func:`score` computes after
    sampling, with the same seeds, so the same samples give the same numbers (the explorer scores one
    observation through it).

    Args:
        problem: the :class:`innbench.problems.Problem`.
        y: validated observations ``(m, y_dim)``.
        samples: posterior samples ``(m, n, x_dim)``.
        seed: seeds the metrics' randomness (as :func:`score`'s ``seed``).
        x_true: the parameters behind ``y`` (for SBC), or None.
        reference: reference posterior samples ``(m, n, x_dim)``, or None (the metrics that need one are left
            out).
        metrics: registered names (:func:`innbench.metrics.affordable` lists those within a cost); None: every
            default one whose needs are met. Metrics that need the model (timing, L-C2ST) cannot run here.
        metric_options: options of the chosen metrics by name (as :func:`score`'s).
        **options: the scoring options of :func:`score` (``c2st_observations``, ``noise_floor_observations``,
            ``c2st_folds``, ``c2st_backend``, ``sbc``, ``reference_method``, ``reference_options``); the ones
            not given switch the costly metrics off (no C2ST, no noise floor).

    Returns:
        ``(per-observation values, summary)`` keyed by the values' and summaries' names.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.evaluation import score_samples
        >>> p = get_problem("linear")
        >>> per, summary = score_samples(p, np.array([[0.5]]), np.zeros((1, 100, 2)), metrics=["err_resim"])
        >>> sorted(per), round(summary["err_resim_mean"], 3)
        (['err_resim', 'err_resim_sq', 'invalid_fraction'], 0.5)
    """
    samples = np.asarray(samples, dtype=float)
    if samples.ndim != 3 or samples.shape[0] != len(y) or samples.shape[2] != problem.x_dim:
        raise ValueError(f"samples: expected shape ({len(y)}, n, {problem.x_dim}), got {samples.shape}")
    known = {"c2st_observations", "noise_floor_observations", "c2st_folds", "c2st_backend", "sbc",
             "reference_method", "reference_options", "progress"}
    from .params import check_known

    check_known(options, known, "options")
    ref = None if reference is None else (np.asarray(reference, dtype=float), {})
    chosen = _chosen(metrics)
    extra = resolve_options(chosen, metric_options)
    inputs = Inputs(problem, y, samples, seed=seed, x_true=x_true, reference=None if ref is None else (lambda: ref),
                    options={"reference_method": resolve_reference_method(problem, "exact"), **options, **extra})
    _check_needs(chosen, inputs, named=metrics is not None)
    return _run(chosen, inputs)


def own_calibration(model, observations: int, samples: int, seed: int = 0) -> dict:
    """SBC on test draws of its own (no reference posterior needed): the first ``observations`` of the problem's
    test set, ``samples`` model draws each (seed ``seed + 1``), their ranks and what they say.

    A grid's ``sbc = {observations = ..., samples = ...}`` calibrates on more observations than it scores
    against references, because SBC needs no reference: the benchmark runner calls this.

    Args:
        model: the trained estimator.
        observations: how many test observations (with their true parameters).
        samples: model draws per observation (the ranks' ``L``).
        seed: the cell's seed.

    Returns:
        ``{"sbc_ranks": (observations, x_dim) array, "sbc_draws": samples, "summary": {...}}``, the summary as
        :func:`calibration_summary` gives it plus ``sbc_observations``.

    Example:
        >>> from innbench.evaluation import own_calibration
        >>> from innbench.models import build_model
        >>> cal = own_calibration(build_model("mdn", "linear", hidden=16), observations=20, samples=50)
        >>> cal["sbc_ranks"].shape, cal["sbc_draws"], cal["summary"]["sbc_observations"]
        ((20, 2), 50, 20)
    """
    from . import params as P
    from .calibration import sbc_ranks
    from .reference import test_observations

    P.count(observations, "observations")
    P.count(samples, "samples")
    x, y = test_observations(model.problem, observations)
    draws = model.sample(y, samples, seed=seed + 1)
    ranks = sbc_ranks(draws, x, rng=np.random.default_rng([seed, 4712]))
    return {"sbc_ranks": ranks, "sbc_draws": int(draws.shape[1]),
            "summary": {**calibration_summary(ranks, draws.shape[1]), "sbc_observations": len(ranks)}}


def showcase(model, samples: int, seed: int = 0) -> list[dict]:
    """The posteriors the report draws: for each of the problem's showcase observations
    (:meth:`innbench.problems.Problem.showcase_observations`, named ``y0``, ``y1``, ...) the model's samples and
    the reference posterior's (the problem's own reference method).

    Args:
        model: the trained estimator.
        samples: draws per observation, of the model and of the reference.
        seed: seeds the model's draws.

    Returns:
        One dict per observation: ``{"name", "y", "samples" (samples, x_dim), "reference" (samples, x_dim)}``.

    Example:
        >>> from innbench.evaluation import showcase
        >>> from innbench.models import build_model
        >>> shown = showcase(build_model("mdn", "kinematics", hidden=16), samples=100)
        >>> [s["name"] for s in shown], shown[0]["samples"].shape, shown[0]["reference"].shape
        (['y0'], (100, 4), (100, 4))
    """
    problem = model.problem
    y = np.asarray(problem.showcase_observations(), dtype=float)
    drawn = model.sample(y, samples, seed=seed)
    ref, _ = reference_posterior(problem, y, samples, method=resolve_reference_method(problem, "exact"))
    return [{"name": f"y{i}", "y": y[i].tolist(), "samples": drawn[i], "reference": ref[i]} for i in range(len(y))]

