"""The Python API: train, sample, reference, evaluate. The CLI is a thin front over these functions.

Four steps from a problem to its scores (training takes minutes on a CPU, so this block is not run as a doctest; the
functions' own examples are):

```python
from innbench import api

model = api.train("kinematics", "cinn", preset="quick", out="runs/cinn")  # or api.load("runs/cinn")
samples = api.sample(model, [[1.5, 0.0]], n=4000)                       # (1, 4000, 4)
ref, provenance = api.reference("kinematics", [[1.5, 0.0]])              # exact reference samples
result = api.evaluate(model, num_observations=100)                       # Err_post, Err_resim, SBC, C2ST
print(result["summary"]["err_post_mean"])
```
"""

from __future__ import annotations

import numpy as np
import torch

from . import evaluation
from . import params as P
from .models import Estimator, Model, build_model, load_model
from .problems import get_problem
from .reference import reference_posterior, test_observations
from .training import Budget, fit, get_budget

__all__ = ["Posterior", "evaluate", "evaluation_figures", "load", "noise_floor", "posterior", "reference",
           "resolve_device", "sample", "train", "width_for_params"]


def _threaded(f):
    """``f`` with a keyword argument ``threads``: the torch CPU threads it runs with, restored after
    (:func:`innbench.runtime.torch_threads`; None: ``INNBENCH_THREADS``/``OMP_NUM_THREADS`` or 1)."""
    import functools
    import inspect

    from .runtime import torch_threads

    @functools.wraps(f)
    def run(*args, threads: int | None = None, **kwargs):
        with torch_threads(threads):
            return f(*args, **kwargs)

    sig = inspect.signature(f)
    params = list(sig.parameters.values())
    at = next((i for i, p in enumerate(params) if p.kind is p.VAR_KEYWORD), len(params))
    params.insert(at, inspect.Parameter("threads", inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation="int | None"))
    run.__signature__ = sig.replace(parameters=params)
    del run.__wrapped__  # help() and pdoc show the signature above, threads included
    return run


def resolve_device(device: str | None) -> str:
    """The torch device a model goes to: ``cpu``, ``cuda``, ``cuda:N`` or ``auto``.

    Args:
        device: the requested device; ``auto`` picks ``cuda`` where a GPU is available, else ``cpu``;
            None means ``cpu``.

    Returns:
        The device name; a ``ValueError`` where CUDA is asked for but absent, or the name is unknown.

    Example:
        >>> from innbench import api
        >>> api.resolve_device(None), api.resolve_device("cpu")
        ('cpu', 'cpu')
        >>> api.resolve_device("auto") in ("cpu", "cuda")
        True
    """
    device = device or "cpu"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} requested but no CUDA device is available (use --device cpu)")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ValueError(f"device: expected 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return device


@_threaded
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
      :class:`innbench.simbudget.SimulationBudget` or a dict of its fields). The preset is not used.
      For a model that does not train but simulates per query (rejection ABC), ``simulations`` is that
      per-query budget (its ``simulations`` option).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        model: a registered model name (:func:`innbench.models.list_models`).
        seed: seeds the weights, the simulations and the batches: the same seed gives the same model.
        preset: the fixed-batch budget, a preset name (``tiny``, ``quick``, ``default``) or a
            :class:`innbench.training.Budget`.
        out: a directory to save the trained model to (checked before training starts); None: not saved.
        device: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (:func:`resolve_device`).
        progress: show a progress bar.
        budget_overrides: fields of the preset's :class:`innbench.training.Budget` to change, e.g.
            ``{"n_batches": 2000}``; ``params`` sizes the network to about that many trainable parameters.
        simulations: train on exactly this many fresh simulations (a simulation budget).
        data: ``(x (N, x_dim), y (N, y_dim))``, simulations made elsewhere (a simulation budget), or the path
            of a ``.npz`` (arrays ``x``, ``y``) or ``.csv`` file of them (as the CLI's ``--data``).
        simulation_budget: a :class:`innbench.simbudget.SimulationBudget` or a dict of its fields.
        threads: torch CPU threads (None: ``INNBENCH_THREADS`` or ``OMP_NUM_THREADS``, else 1: innbench's
            networks are small, see ``docs/journal/threads.md``); the process's count is restored after.
        **model_config: the model's options (its class's ``defaults``, e.g. ``blocks=6``), over the preset's.

    Returns:
        The trained :class:`innbench.models.Model`, in evaluation mode; ``model.train_info`` holds the
        training summary (losses, seconds, the budget).

    Example:
        ```python
        import numpy, innbench
        from innbench import api

        # the paper's protocol: 2,500 batches of fresh simulations (minutes on a CPU)
        model = api.train("kinematics", "cinn", preset="quick", out="runs/cinn")
        # a simulation budget: 1,000 simulations, early stopping on a validation split
        model = api.train("two_moons", "nsf", simulations=1000)
        # simulations of one's own: x (N, 2) parameters and y (N, 2) observations
        x, y = innbench.get_problem("two_moons").simulate(5000, numpy.random.default_rng(0))
        model = api.train("two_moons", "nsf", data=(x, y), simulation_budget={"max_epochs": 200})
        ```
    """
    from .models import get_model_class
    from .params import nonnegative_count
    from .simbudget import SimulationBudget, check_simulation_memory, fit_simulations, training_data

    nonnegative_count(seed, "seed")
    problem = get_problem(problem)
    cls = get_model_class(model)
    if simulations is not None and not cls.trainable and "simulations" in cls.defaults:
        # rejection ABC: its per-query simulation budget; as many simulations (at most 100,000) for its
        # normalisation of the distance
        model_config["simulations"], simulations = simulations, min(simulations, 100_000)
    if data is not None and simulations is not None:  # (it used to be ignored silently)
        raise ValueError("simulations: give either simulations (that many fresh ones) or data (yours), not both")
    on_sims = simulations is not None or data is not None or simulation_budget is not None
    if on_sims:
        sb = simulation_budget if isinstance(simulation_budget, SimulationBudget) else None
        if sb is None:
            fields = dict(simulation_budget or {})
            if simulations is not None:
                fields["simulations"] = simulations
            P.check_known(fields, SimulationBudget.__dataclass_fields__, "simulation_budget", "keys")
            sb = SimulationBudget(**fields)
        if data is None:  # refused before anything is simulated when it cannot fit
            check_simulation_memory(problem, sb.simulations)
        if data is not None:  # a pair (x, y) or a file of simulations, as the CLI's --data
            data = training_data(problem, data)
        overrides = dict(budget_overrides or {})
        if set(overrides) - {"params"}:
            raise ValueError(f"budget_overrides: {sorted(set(overrides) - {'params'})} belong to the fixed-batch "
                             "budget; a simulation budget takes simulation_budget fields")
        budget = get_budget("default", **overrides)  # only its (empty) model options and params are read
    else:
        budget = get_budget(preset, **(budget_overrides or {}))
    if out is not None:  # fail before training, not after, if the model cannot be written
        from .atomic import check_output_dir
        from .models.estimator import MODEL_FILES

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

    Args:
        cls: a :class:`innbench.models.Model` subclass with a ``width_option``.
        problem: the :class:`innbench.problems.Problem` the model is built for.
        target: the wanted number of trainable parameters.
        **config: the model's other options (they change the count too).

    Returns:
        The width (an integer).

    Example:
        >>> from innbench import api, get_problem
        >>> from innbench.models import get_model_class
        >>> cinn, arm = get_model_class("cinn"), get_problem("kinematics")
        >>> width = api.width_for_params(cinn, arm, 100_000)
        >>> abs(cinn(arm, hidden=width).n_parameters() - 100_000) < 5_000
        True
    """
    if not isinstance(target, (int, np.integer)) or target < 1:
        raise ValueError(f"params: expected a positive target parameter count, got {target!r}")
    from .models.size import TRAINING_COPIES, ModelSizeError
    from .runtime import check_memory

    check_memory(float(target) * 4 * TRAINING_COPIES, "params",
                 f"{target:,} parameters (with their gradients and optimizer state)")
    key = cls.width_option

    def count(w):  # a width too large for memory counts as too many parameters
        try:
            return cls(problem, **{**config, key: w}).n_parameters()
        except ModelSizeError:
            return float("inf")

    lo, hi = 2, 8
    while count(hi) < target and hi < 1 << 16:
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < target else (lo, mid)
    best = min((lo, hi), key=lambda w: abs(count(w) - target))
    cls(problem, **{**config, key: best})  # a model of this width that cannot fit: its ModelSizeError
    return best


def load(path, device: str = "cpu") -> Model:
    """Load a model directory written by ``api.train(..., out=path)``, ``Model.save`` or ``innbench train``.

    Args:
        path: the model directory (``config.json`` and ``weights.pt``).
        device: where to put the model (:func:`resolve_device`).

    Returns:
        The :class:`innbench.models.Model`, in evaluation mode (:func:`innbench.models.load_model`).

    Example:
        >>> import tempfile
        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> path = build_model("cinn", "linear", blocks=2).save(tempfile.mkdtemp() + "/model")
        >>> api.load(path).name
        'cinn'
    """
    return load_model(path, resolve_device(device))


@_threaded
def sample(model, observations, n: int = 4000, seed: int = 0, round_discrete: bool = True) -> np.ndarray:
    """Posterior samples ``(m, n, x_dim)`` from a model or a model directory.

    Args:
        model: a :class:`innbench.models.Model` or the path of a saved one.
        observations: ``(m, y_dim)`` observations (one ``(y_dim,)`` works too); checked against the problem.
        n: samples per observation.
        seed: the same seed gives the same samples.
        round_discrete: round integer-valued parameters (:meth:`innbench.models.Model.sample`).
        threads: torch CPU threads (None: ``INNBENCH_THREADS`` or ``OMP_NUM_THREADS``, else 1).

    Returns:
        An array ``(m, n, x_dim)``.

    Example:
        An untrained model samples too (its samples mean nothing yet, but have the right shape):

        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> model = build_model("cinn", "kinematics")
        >>> api.sample(model, [[1.5, 0.0], [1.0, 0.5]], n=20, seed=1).shape
        (2, 20, 4)
    """
    if not isinstance(model, Estimator):
        model = load(model)
    return model.sample(observations, n, seed=seed, round_discrete=round_discrete)


class Posterior:
    """A trained model seen as a posterior: ``sample`` and, for density models, ``log_prob``.

    ``observation`` (one ``y``, shape ``(y_dim,)`` or ``(1, y_dim)``) is the default for both methods,
    as ``set_default_x`` is in sbi; without it, every call names its ``y``. The observation is checked
    against the problem (shape, finiteness, reachability) when it is set, not at the first draw.
    Usually made by :func:`posterior`.

    Args:
        model: a :class:`innbench.models.Model`.
        observation: the default observation ``y`` of :meth:`sample` and :meth:`log_prob`; None: none.

    Example:
        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> post = api.Posterior(build_model("cinn", "kinematics"), observation=[1.5, 0.0])
        >>> post
        Posterior(cinn on kinematics, y=[1.5, 0.0])
        >>> x = post.sample(5)
        >>> x.shape, post.log_prob(x).shape, post.has_density
        ((5, 4), (5,), True)
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
        """``n`` posterior draws ``(n, x_dim)`` for ``y`` (default: the posterior's observation).

        Args:
            n: number of draws.
            y: one observation; None: the posterior's default ``observation``.
            seed: the same seed gives the same draws.
            round_discrete: round integer-valued parameters.

        Example:
            >>> from innbench import api
            >>> from innbench.models import build_model
            >>> post = api.posterior(build_model("mdn", "kinematics"))
            >>> post.sample(3, y=[1.5, 0.0]).shape
            (3, 4)
        """
        return self.model.sample(self._y(y), n, seed=seed, round_discrete=round_discrete)[0]

    def log_prob(self, x, y=None) -> np.ndarray:
        """``log q(x | y)`` for each row of ``x (n, x_dim)``: an array ``(n,)`` (:meth:`Model.log_prob`).

        Args:
            x: parameter rows ``(n, x_dim)``.
            y: one observation; None: the posterior's default ``observation``.

        Example:
            >>> import numpy as np
            >>> from innbench import api
            >>> from innbench.models import build_model
            >>> post = api.posterior(build_model("mdn", "kinematics"), observation=[1.5, 0.0])
            >>> lp = post.log_prob(np.zeros((2, 4)))
            >>> lp.shape, bool(np.isfinite(lp).all())
            ((2,), True)
        """
        return self.model.log_prob(x, self._y(y))

    def __repr__(self) -> str:
        at = "" if self.observation is None else f", y={self.observation[0].tolist()}"
        return f"Posterior({self.model.name} on {self.model.problem.name}{at})"


def posterior(model, observation=None, device: str = "cpu") -> Posterior:
    """The posterior interface of a model or a model directory (:class:`Posterior`).

    Args:
        model: a :class:`innbench.models.Model` or the path of a saved one.
        observation: the default observation of the posterior's ``sample`` and ``log_prob``.
        device: where to load a model directory to.

    Returns:
        A :class:`Posterior`.

    Example:
        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> post = api.posterior(build_model("cinn", "linear"), observation=[1.0])
        >>> post.sample(10, seed=0).shape
        (10, 2)
    """
    if not isinstance(model, Estimator):
        model = load(model, device)
    return Posterior(model, observation)


@_threaded
def reference(problem, observations, n: int = 4000, method: str = "exact", **options):
    """Reference posterior samples ``(m, n, x_dim)`` and their provenance (cached on disk).

    See :func:`innbench.reference.reference_posterior` for the methods and the cache.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        observations: ``(m, y_dim)`` observations.
        n: samples per observation.
        method: ``exact`` (the problem's own sampler), ``mcmc`` (a problem with a likelihood) or ``abc``
            (quantile ABC, any problem).
        threads: torch CPU threads (None: ``INNBENCH_THREADS`` or ``OMP_NUM_THREADS``, else 1).
        **options: options of the method (e.g. ``pool_size`` for ``abc``).

    Returns:
        ``(samples (m, n, x_dim), provenance dict)``.

    Example:
        >>> from innbench import api
        >>> samples, provenance = api.reference("linear", [[1.0], [2.0]], n=500)
        >>> samples.shape, provenance["method"]
        ((2, 500, 2), 'exact-closed-form')
    """
    return reference_posterior(get_problem(problem), observations, n, method=method, **options)


def noise_floor(problem, observations, n: int = 4000, method: str = "exact") -> np.ndarray:
    """Err_post between two independent reference draws per observation: the metric's noise floor.

    Kept in memory per (problem, observations, n, method), so a grid computes it once per problem.
    A model whose Err_post is at its noise floor is as good as ``n`` samples can tell.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        observations: ``(m, y_dim)`` observations.
        n: samples per reference draw (the floor falls as ``n`` grows).
        method: the reference method (:func:`reference`).

    Returns:
        An array ``(m,)``, one floor per observation.

    Example:
        >>> import numpy as np
        >>> from innbench import api
        >>> floor = api.noise_floor("linear", [[0.0], [1.0]], n=300)
        >>> floor.shape, bool((floor >= 0).all() and (floor < 0.1).all())
        ((2,), True)
    """
    problem = get_problem(problem)
    return evaluation.noise_floor(problem, problem.validate_observations(observations), n, method)


@_threaded
def evaluate(model, observations=None, num_observations: int = 200, n_samples: int = 4000,
             reference_method: str = "exact", seed: int = 0, timing_observations: int = 20,
             noise_floor_observations: int = 50, c2st_observations: int = 5, sbc: bool = True,
             true_parameters=None, round_discrete: bool = True, progress: bool = False,
             keep_samples: bool = False, c2st_backend: str = "torch", c2st_folds: int = 2,
             reference_options: dict | None = None, metrics=None, metric_options: dict | None = None) -> dict:
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

    Args:
        model: a :class:`innbench.models.Model` or the path of a saved one.
        observations: ``(m, y_dim)`` observations to score on; None: the problem's fixed test set.
        num_observations: how many of the test set's observations (without ``observations``).
        n_samples: posterior samples per observation, of the model and of the reference.
        reference_method: ``exact`` (falls back to MCMC or ABC where the problem has no sampler), ``mcmc``
            or ``abc``.
        seed: seeds the model's samples and the metrics' randomness.
        timing_observations: observations timed one sampling call each (0: no timing).
        noise_floor_observations: observations for the noise floor of Err_post (0: none).
        c2st_observations: the first observations scored by C2ST (0: none; the costliest metric).
        sbc: compute the SBC ranks and coverage (where the true parameters are known).
        true_parameters: ``(m, x_dim)``, the parameters behind ``observations`` (for SBC).
        round_discrete: round integer-valued parameters before scoring.
        progress: show progress bars.
        keep_samples: also return the samples (for :func:`evaluation_figures`).
        c2st_backend: ``torch`` (fast) or ``sklearn`` (sbibm's classifier).
        c2st_folds: cross-validation folds of C2ST.
        reference_options: keyword options of the reference sampler (:func:`api.reference`), e.g. a shorter
            MCMC for a quick look, ``{"burn": 200, "pilot": 200, "rhat_max": None}``; they go into the
            reference cache's key and apply to the noise floors too.
        metrics: the metrics to compute, by registered name (:func:`innbench.metrics.metric_names`); None:
            every registered metric whose needs are met, except the opt-in ones (L-C2ST:
            ``metrics=[*innbench.metrics.default_metric_names(), "lc2st"]`` adds it). A metric of one's own
            registered with :func:`innbench.metrics.register_metric` is computed too.
        metric_options: options of the chosen metrics by name (:attr:`innbench.metrics.Metric.options`, e.g.
            ``{"lc2st_calibration": 1000}``); an option no chosen metric declares is refused.
        threads: torch CPU threads (None: ``INNBENCH_THREADS`` or ``OMP_NUM_THREADS``, else 1).

    Returns:
        ``{"summary": {...}, "per_observation": {...}}`` as described above.

    Example:
        Scoring an untrained model on three test observations of the linear toy (the cheap metrics only):

        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> result = api.evaluate(build_model("cinn", "linear"), num_observations=3, n_samples=200,
        ...                       timing_observations=0, noise_floor_observations=0, c2st_observations=0)
        >>> result["summary"]["n_observations"], len(result["per_observation"]["err_post"])
        (3, 3)
        >>> result["summary"]["err_post_mean"] > 0
        True
    """
    if not isinstance(model, Estimator):
        model = load(model)
    problem = model.problem
    x_true = None
    if observations is None and true_parameters is not None:
        raise ValueError("true_parameters: given without observations; the test set brings its own parameters "
                         "(pass observations= with them, or leave both out)")
    if observations is None:
        from .params import count

        count(num_observations, "num_observations")
        x_true, y = test_observations(problem, num_observations)
    else:
        y = problem.validate_observations(observations)
        if true_parameters is not None:
            try:
                x_true = np.asarray(true_parameters, dtype=float)
            except (TypeError, ValueError):
                raise ValueError(f"true_parameters: expected numbers, got {type(true_parameters).__name__}") from None
            if x_true.ndim == 1 and problem.x_dim == 1:
                x_true = x_true[:, None]
            if x_true.shape != (len(y), problem.x_dim):  # never reshaped: one row of x per observation
                raise ValueError(f"true_parameters: expected shape ({len(y)}, {problem.x_dim}) (one row of "
                                 f"{problem.x_dim} parameters per observation), got {x_true.shape}")
            if not np.isfinite(x_true).all():
                raise ValueError("true_parameters: expected finite values, got NaN or infinity")
    return evaluation.score(model, y, x_true, n_samples=n_samples, reference_method=reference_method, seed=seed,
                            timing_observations=timing_observations,
                            noise_floor_observations=noise_floor_observations,
                            c2st_observations=c2st_observations, sbc=sbc, round_discrete=round_discrete,
                            progress=progress, keep_samples=keep_samples, c2st_backend=c2st_backend,
                            c2st_folds=c2st_folds, reference_options=reference_options, metrics=metrics,
                            metric_options=metric_options)


def evaluation_figures(model, result: dict, out, true_parameters=None) -> list:
    """Draw what a user looks at after :func:`evaluate` (called with ``keep_samples=True``) into directory
    ``out``; returns the paths written.

    ``posterior.png``: the marginal and pair plots of the model's samples over the reference for the first
    observation, with its true parameters where known (``true_parameters``); ``predictive.png`` (problems
    observed as series): posterior predictive bands of the model and the reference over that observed series;
    ``sbc.png`` and ``coverage.png`` (where the result has SBC ranks): rank histograms and expected coverage;
    ``tarp.png`` (where it has TARP's credibilities): TARP's expected coverage curve
    (:mod:`innbench.metrics.tarp`).

    Args:
        model: the :class:`innbench.models.Model` (or its directory) that was evaluated.
        result: the output of :func:`evaluate` with ``keep_samples=True``.
        out: the directory to write the figures to (created if missing).
        true_parameters: ``(m, x_dim)``, the parameters behind the observations, marked in the posterior plot.

    Returns:
        The paths of the PNG files written.

    Example:
        >>> import tempfile
        >>> from innbench import api
        >>> from innbench.models import build_model
        >>> model = build_model("cinn", "linear")
        >>> result = api.evaluate(model, num_observations=3, n_samples=200, timing_observations=0,
        ...                       noise_floor_observations=0, c2st_observations=0, keep_samples=True)
        >>> [p.name for p in api.evaluation_figures(model, result, tempfile.mkdtemp())]
        ['posterior.png', 'sbc.png', 'coverage.png', 'tarp.png']
    """
    from pathlib import Path

    from . import figures as F
    from .atomic import atomic_file, check_output_dir
    from .metrics.sbc import coverage_curve

    check_output_dir(out, "out")
    if "samples" not in result or "reference" not in result:
        raise ValueError("result: expected the output of evaluate(..., keep_samples=True) (it has no samples)")
    if not isinstance(model, Estimator):
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
        figures["coverage"] = F.coverage_figure({model.title: coverage_curve(ranks, draws)})
    credibility = result["per_observation"].get("tarp_credibility")
    if credibility:
        from .metrics.tarp import TARP_TITLE, tarp_ecp

        figures["tarp"] = F.coverage_figure({model.title: tarp_ecp(credibility)}, sides=None,
                                            title=TARP_TITLE)
    paths = []
    for name, fig in figures.items():  # each whole or not at all (temporary file, then rename)
        path = out / f"{name}.png"
        with atomic_file(path, "out") as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        paths.append(path)
    return paths
