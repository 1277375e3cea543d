"""The Python API: train, sample, reference, evaluate. The CLI is a thin front over these functions."""

from __future__ import annotations

import numpy as np
import torch

from . import evaluation
from .models import Model, build_model, load_model
from .problems import get_problem
from .reference import reference_posterior, test_observations
from .training import Budget, fit, get_budget

__all__ = ["Posterior", "evaluate", "evaluation_figures", "load", "noise_floor", "posterior", "reference",
           "resolve_device", "sample", "train", "width_for_params"]


def resolve_device(device: str | None) -> str:
    """``cpu``, ``cuda``, ``cuda:N`` or ``auto``; a clear error where CUDA is asked for but absent."""
    device = device or "cpu"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but no CUDA device is available (use --device cpu)")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return device


def train(problem, model: str, seed: int = 0, preset: str | Budget = "default", out=None, device: str = "cpu",
          progress: bool = True, budget_overrides: dict | None = None, simulations: int | None = None,
          data=None, simulation_budget=None, **model_config) -> Model:
    """Build ``model`` for ``problem``, train it and optionally save it to ``out``.

    Two budgets:

    - the paper's protocol (default): a fixed number of batches of fresh simulations (``preset``,
      ``budget_overrides``); model options come from the preset's ``model`` entry, overridden by
      ``model_config``;
    - a simulation budget: ``simulations=N`` fresh simulations, or ``data=(x, y)`` made elsewhere, with
      a validation split, early stopping and the best epoch's weights restored
      (:func:`innbench.simbudget.fit_simulations`; ``simulation_budget`` a
      :class:`~innbench.simbudget.SimulationBudget` or a dict of its fields). The preset is not used.
      For a model that does not train but simulates per query (rejection ABC), ``simulations`` is that
      per-query budget (its ``simulations`` option).
    """
    from .models import get_model_class
    from .params import nonnegative_count
    from .simbudget import SimulationBudget, check_training_data, fit_simulations

    nonnegative_count(seed, "seed")
    problem = get_problem(problem)
    cls = get_model_class(model)
    if simulations is not None and not cls.trainable and "simulations" in cls.defaults:
        # rejection ABC: its per-query simulation budget; as many simulations (at most 100,000) for its
        # normalisation of the distance
        model_config["simulations"], simulations = simulations, min(simulations, 100_000)
    on_sims = simulations is not None or data is not None or simulation_budget is not None
    if on_sims:
        sb = simulation_budget if isinstance(simulation_budget, SimulationBudget) else None
        if sb is None:
            fields = dict(simulation_budget or {})
            if simulations is not None:
                fields["simulations"] = simulations
            unknown = set(fields) - set(SimulationBudget.__dataclass_fields__)
            if unknown:
                raise ValueError(f"simulation_budget: unknown keys {sorted(unknown)}; known: "
                                 f"{sorted(SimulationBudget.__dataclass_fields__)}")
            sb = SimulationBudget(**fields)
        if data is not None:
            data = check_training_data(problem, *data)
        overrides = dict(budget_overrides or {})
        if set(overrides) - {"params"}:
            raise ValueError(f"budget_overrides: {sorted(set(overrides) - {'params'})} belong to the fixed-batch "
                             "budget; a simulation budget takes simulation_budget fields")
        budget = get_budget("default", **overrides)  # only its (empty) model options and params are read
    else:
        budget = get_budget(preset, **(budget_overrides or {}))
    if out is not None:  # fail before training, not after, if the model cannot be written
        from .atomic import check_output_dir
        from .models.base import MODEL_FILES

        check_output_dir(out, "out", MODEL_FILES)
    known = cls.defaults  # a preset's size options apply to the models that have them
    config = {**{k: v for k, v in budget.model.items() if k in known}, **model_config, "seed": seed}
    if budget.params is not None and cls.width_option and cls.width_option not in model_config:
        config[cls.width_option] = width_for_params(cls, problem, budget.params, **config)
    m = build_model(model, problem, **config).to(resolve_device(device))
    if on_sims:
        fit_simulations(m, sb, seed=seed, data=data, progress=progress)
        m.train_info["preset"] = "simulations" if data is None else "data"
    else:
        fit(m, budget, seed=seed, progress=progress)
        m.train_info["preset"] = preset if isinstance(preset, str) else "custom"
    if out is not None:
        m.save(out, "out")
    return m


def width_for_params(cls, problem, target: int, **config) -> int:
    """The value of ``cls.width_option`` whose model has the parameter count nearest ``target``.

    Parameter counts grow monotonically with the width, so a bisection over integer widths finds it.
    """
    if not isinstance(target, (int, np.integer)) or target < 1:
        raise ValueError(f"params: expected a positive target parameter count, got {target!r}")
    key = cls.width_option

    def count(w):
        return cls(problem, **{**config, key: w}).n_parameters()

    lo, hi = 2, 8
    while count(hi) < target and hi < 1 << 16:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    return min((lo, hi), key=lambda w: abs(count(w) - target))


def load(path, device: str = "cpu") -> Model:
    """Load a saved model directory."""
    return load_model(path, resolve_device(device))


def sample(model, observations, n: int = 4000, seed: int = 0, round_discrete: bool = True) -> np.ndarray:
    """Posterior samples ``(m, n, x_dim)`` from a model or a model directory."""
    if not isinstance(model, Model):
        model = load(model)
    return model.sample(observations, n, seed=seed, round_discrete=round_discrete)


class Posterior:
    """A trained model seen as a posterior: ``sample`` and, for density models, ``log_prob``.

    ``observation`` (one ``y``, shape ``(y_dim,)`` or ``(1, y_dim)``) is the default for both methods,
    as ``set_default_x`` is in sbi; without it, every call names its ``y``. The observation is checked
    against the problem (shape, finiteness, reachability) when it is set, not at the first draw.
    """

    def __init__(self, model: Model, observation=None):
        self.model = model
        self.observation = None if observation is None else self._one(observation, "observation")

    @property
    def has_density(self) -> bool:
        """Whether :meth:`log_prob` is available (the model's facts claim a tractable density)."""
        return self.model.has_density

    def _one(self, y, name):
        y = self.model.problem.validate_observations(y, name)
        if len(y) != 1:
            raise ValueError(f"{name}: expected one observation, got {len(y)} (use api.sample for several)")
        return y

    def _y(self, y):
        if y is None:
            if self.observation is None:
                raise ValueError("y: no observation given and no default set (api.posterior(model, observation=...))")
            return self.observation
        return self._one(y, "y")

    def sample(self, n: int = 1000, y=None, seed: int = 0, round_discrete: bool = True) -> np.ndarray:
        """``n`` posterior draws ``(n, x_dim)`` for ``y`` (default: the posterior's observation)."""
        return self.model.sample(self._y(y), n, seed=seed, round_discrete=round_discrete)[0]

    def log_prob(self, x, y=None) -> np.ndarray:
        """``log q(x | y)`` for each row of ``x (n, x_dim)``: an array ``(n,)`` (:meth:`Model.log_prob`)."""
        return self.model.log_prob(x, self._y(y))

    def __repr__(self) -> str:
        at = "" if self.observation is None else f", y={self.observation[0].tolist()}"
        return f"Posterior({self.model.name} on {self.model.problem.name}{at})"


def posterior(model, observation=None, device: str = "cpu") -> Posterior:
    """The posterior interface of a model or a model directory (:class:`Posterior`)."""
    if not isinstance(model, Model):
        model = load(model, device)
    return Posterior(model, observation)


def reference(problem, observations, n: int = 4000, method: str = "exact", **options):
    """Reference posterior samples ``(m, n, x_dim)`` and their provenance (cached on disk)."""
    return reference_posterior(problem, observations, n, method=method, **options)


def noise_floor(problem, observations, n: int = 4000, method: str = "exact") -> np.ndarray:
    """Err_post between two independent reference draws per observation: the metric's noise floor.

    Kept in memory per (problem, observations, n, method), so a grid computes it once per problem.
    """
    problem = get_problem(problem)
    return evaluation.noise_floor(problem, problem.validate_observations(observations), n, method)


def evaluate(model, observations=None, num_observations: int = 200, n_samples: int = 4000,
             reference_method: str = "exact", seed: int = 0, timing_observations: int = 20,
             noise_floor_observations: int = 50, c2st_observations: int = 5, sbc: bool = True,
             true_parameters=None, round_discrete: bool = True, progress: bool = False,
             keep_samples: bool = False, c2st_backend: str = "torch", c2st_folds: int = 2) -> dict:
    """Score a model against reference posteriors on test observations (:func:`innbench.evaluation.score`).

    Without ``observations`` the first ``num_observations`` of the problem's fixed test set are used,
    with their true parameters, so the calibration metrics (SBC) come too; with ``observations`` they
    come only where ``true_parameters`` (the ``x`` behind each observation) are given.
    Returns a dict with per-observation arrays (``per_observation``: ``err_post``, ``err_resim``,
    ``err_resim_sq``, ``invalid_fraction``, ``outside_support_fraction``, ``sbc_ranks``, ``c2st``,
    ``c2st_reference``) and a ``summary``: Err_post (mean, median), Err_resim as mean distance
    (primary) and mean squared distance, the fraction of samples whose forward process is invalid or
    that leave the prior's support, inference time in ms (one call drawing ``n_samples`` for one
    observation, averaged over ``timing_observations``; ``None`` with 0), the noise floor of Err_post
    (two independent reference draws, on ``noise_floor_observations``), the SBC rank-uniformity p-value
    (smallest over parameters) and the expected coverage of central 50 % / 90 % intervals (with ``sbc``),
    and the C2ST accuracy against the reference with its floor (on the first ``c2st_observations``; 0
    skips it, the most expensive metric after the reference itself; ``c2st_backend="sklearn"`` and
    ``c2st_folds=5`` are sbibm's protocol, for numbers next to published ones).
    With ``keep_samples`` the dict also holds the model's ``samples`` and the ``reference`` samples.
    """
    if not isinstance(model, Model):
        model = load(model)
    problem = model.problem
    x_true = None
    if observations is None:
        from .params import count

        count(num_observations, "num_observations")
        x_true, y = test_observations(problem, num_observations)
    else:
        y = problem.validate_observations(observations)
        if true_parameters is not None:
            x_true = np.asarray(true_parameters, dtype=float)
            if not np.isfinite(x_true).all():
                raise ValueError("true_parameters: expected finite values, got NaN or infinity")
    return evaluation.score(model, y, x_true, n_samples=n_samples, reference_method=reference_method, seed=seed,
                            timing_observations=timing_observations,
                            noise_floor_observations=noise_floor_observations,
                            c2st_observations=c2st_observations, sbc=sbc, round_discrete=round_discrete,
                            progress=progress, keep_samples=keep_samples, c2st_backend=c2st_backend,
                            c2st_folds=c2st_folds)


def evaluation_figures(model, result: dict, out, true_parameters=None) -> list:
    """Draw what a user looks at after :func:`evaluate` (called with ``keep_samples=True``) into directory
    ``out``; returns the paths written.

    ``posterior.png``: the marginal and pair plots of the model's samples over the reference for the first
    observation, with its true parameters where known (``true_parameters``); ``predictive.png`` (problems
    observed as series): posterior predictive bands of the model and the reference over that observed series;
    ``sbc.png`` and ``coverage.png`` (where the result has SBC ranks): rank histograms and expected coverage.
    """
    from pathlib import Path

    from . import figures as F
    from .calibration import expected_coverage
    from .evaluation import COVERAGE_LEVELS

    if "samples" not in result or "reference" not in result:
        raise ValueError("result: expected the output of evaluate(..., keep_samples=True) (it has no samples)")
    if not isinstance(model, Model):
        model = load(model)
    problem = model.problem
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    y0 = np.asarray(result["per_observation"]["y"][0], dtype=float)
    truth = None if true_parameters is None else np.asarray(true_parameters, dtype=float)[0]
    panels = [(f"reference ({problem.reference_kind})", result["reference"][0]), (model.title, result["samples"][0])]
    figures = {"posterior": F.pair_plot_figure(panels, y0, problem.x_names, truth=truth)}
    if problem.observation_kind == "series":
        figures["predictive"] = F.predictive_figure(panels, y0, problem)
    ranks = result["per_observation"].get("sbc_ranks")
    if ranks:
        ranks = np.asarray(ranks, dtype=float)
        draws = int(result["per_observation"]["sbc_draws"])
        figures["sbc"] = F.sbc_figure({model.title: ranks}, draws, list(problem.x_names))
        levels, cov = expected_coverage(ranks, draws, COVERAGE_LEVELS)
        figures["coverage"] = F.coverage_figure({model.title: (levels, cov)})
    paths = []
    for name, fig in figures.items():
        path = out / f"{name}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths
