"""Training on a simulation budget: a fixed set of simulations, a validation split, early stopping.

The paper's protocol trains every model for a fixed number of batches on fresh simulations
(:func:`innbench.training.fit`). A user's simulator is expensive: there are ``N`` simulations (10^3 to
10^5) and no more. :func:`fit_simulations` then holds out a validation split, draws batches from the
rest epoch by epoch, evaluates the validation loss after every epoch, halves the learning rate after
``lr_patience`` (10) epochs without a better one, stops after ``patience`` (30), and restores the
weights of the best epoch: the recipe of neural posterior estimation in sbi (validation fraction 0.1,
early stopping) with a plateau schedule and a batch size that grows with ``N``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import torch

from . import params as P
from .problems.base import short_values
from .training import EarlyStopping, WarmupSchedule, optimise, progress_bar, simulate_training_data

__all__ = ["MIN_KEPT_STEPS", "SimulationBudget", "check_training_data", "continue_training", "early_kept_weights",
           "fit_simulations", "read_simulations"]

#: below this many optimiser steps behind the kept weights, :func:`fit_simulations` warns: in the ``sbi`` grid
#: (0.2.0) the 10-D Gaussian linear task at 10^3 simulations kept weights of 28-168 steps with C2ST 0.62-0.79,
#: against 0.55 published, and sbi's own early stopping trains at least about 300 steps there
#: (docs/journal/simulation_budgets_tuning.md)
MIN_KEPT_STEPS = 300


@dataclass(frozen=True)
class SimulationBudget:
    """How a model trains on ``simulations`` pairs.

    Attributes:
        simulations: pairs to simulate (ignored where the data are given).
        validation_fraction: share held out for the validation loss (at least one pair).
        batch_size: pairs per step; ``None``: ``N / 50`` rounded to a power of two within [32, 512].
        lr: Adam's learning rate (constant after a warm-up of one epoch), times the model's ``lr_scale``.
        patience: epochs without a better validation loss before stopping.
        lr_patience: epochs without a better validation loss before the learning rate is halved (and the
            count starts again); ``None``: a constant learning rate, as sbi trains.
        max_epochs: an upper bound on the epochs; ``None``: as many as ``max_steps`` allows.
        max_steps: an upper bound on the optimiser steps (``max_epochs`` derived from it).
        min_steps: optimiser steps trained before early stopping starts (whole epochs, rounded up): no
            weights from before them are kept, and the patience counts from there.
        smoothing: compare epochs on an exponential average of the validation loss with this weight on
            the past (0: the loss itself).
        weight_decay, grad_clip: as in :class:`innbench.training.Budget`.

    The defaults of ``patience`` and ``lr_patience`` were chosen for the cINN on two moons, on validation
    observations: docs/journal/recipes_in_code.md#simulationbudget.

    Example:
        >>> from innbench.simbudget import SimulationBudget
        >>> budget = SimulationBudget(simulations=1000, patience=20)
        >>> budget.batch_for(900)  # N / 50 rounded to a power of two, at least 32
        32
        >>> SimulationBudget(simulations=100_000).batch_for(90_000)
        512
        >>> try:
        ...     SimulationBudget(validation_fraction=1.5)
        ... except ValueError as err:
        ...     print(str(err).split(":")[0])
        validation_fraction
    """

    simulations: int = 10_000
    validation_fraction: float = 0.1
    batch_size: int | None = None
    lr: float = 1e-3
    patience: int = 30
    lr_patience: int | None = 10
    max_epochs: int | None = None
    max_steps: int = 50_000
    min_steps: int = 0
    smoothing: float = 0.0
    weight_decay: float = 1e-5
    grad_clip: float = 5.0

    def __post_init__(self):
        P.count(self.simulations, "simulations")
        v = P.fraction(self.validation_fraction, "validation_fraction", upper_open=True)
        if v <= 0:
            raise ValueError(f"validation_fraction: expected a number in (0, 1), got {self.validation_fraction!r}")
        if self.batch_size is not None:
            P.count(self.batch_size, "batch_size")
        P.positive_real(self.lr, "lr")
        P.count(self.patience, "patience")
        if self.lr_patience is not None:
            P.count(self.lr_patience, "lr_patience")
        if self.max_epochs is not None:
            P.count(self.max_epochs, "max_epochs")
        P.count(self.max_steps, "max_steps")
        P.nonnegative_count(self.min_steps, "min_steps")
        P.fraction(self.smoothing, "smoothing", upper_open=True)
        P.nonnegative_real(self.weight_decay, "weight_decay")
        P.positive_real(self.grad_clip, "grad_clip")

    def batch_for(self, n_train: int) -> int:
        """The batch size for ``n_train`` training pairs: ``batch_size``, or by the rule above, at most ``n_train``."""
        if self.batch_size is not None:
            return min(self.batch_size, n_train)
        return min(n_train, int(np.clip(2 ** round(np.log2(max(n_train / 50, 1))), 32, 512)))


def check_training_data(problem, x, y, name: str = "data", check_values: bool = True
                        ) -> tuple[np.ndarray, np.ndarray]:
    """``(x (N, x_dim), y (N, y_dim))`` as float arrays, or a ``ValueError`` naming what is wrong.

    Simulations made outside innbench are checked here once, before training: shapes, at least 10 pairs,
    no NaN or infinite values (a series or set: NaN only as trailing padding), and with ``check_values``
    their values: parameters inside the prior's support, observations that meet the problem's rules for
    observations (those of ``sample``: counts, reach, set layout), nothing beyond 1e18 in magnitude.

    Args:
        problem: the :class:`innbench.problems.Problem` they simulate.
        x: parameters ``(N, x_dim)`` (``(N,)`` for one parameter).
        y: observations ``(N, y_dim)`` (``(N,)`` for one value; a series or set also ``(N, length, channels)``).
        name: what error messages call the data (e.g. the CLI's ``--data``).
        check_values: also check the values (off for simulations innbench made itself).

    Returns:
        ``(x, y)`` as float arrays of shapes ``(N, x_dim)`` and ``(N, y_dim)``.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.simbudget import check_training_data
        >>> x, y = check_training_data(get_problem("linear"), np.zeros((20, 2)), np.zeros(20))
        >>> x.shape, y.shape
        ((20, 2), (20, 1))
        >>> try:
        ...     check_training_data(get_problem("linear"), np.zeros((20, 3)), np.zeros(20))
        ... except ValueError as err:
        ...     print(err)
        data: x must have shape (N, 2) for problem 'linear' (x1, x2), got (20, 3)
    """
    if problem.structured and isinstance(y, (list, tuple)):  # (length_i, channels) sets or series: padded
        y = problem.validate_observations(y, f"{name}: y")
    for label, a in (("x", x), ("y", y)):
        if np.iscomplexobj(a):  # numpy would silently drop the imaginary parts
            raise ValueError(f"{name}: {label} holds complex numbers; expected real values")
    try:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected numeric arrays x and y ({exc})") from None
    if x.ndim == 1 and problem.x_dim == 1:
        x = x[:, None]
    if y.ndim == 1 and problem.y_dim == 1:
        y = y[:, None]
    if problem.structured and y.ndim == 3 and y.shape[2:] == problem.observation_shape[1:]:
        y = problem.validate_observations(y, f"{name}: y")  # (N, length, channels): padded to flat rows
    if x.ndim != 2 or x.shape[1] != problem.x_dim:
        raise ValueError(f"{name}: x must have shape (N, {problem.x_dim}) for problem {problem.name!r} "
                         f"({_names(problem.x_names)}), got {x.shape}")
    if y.ndim != 2 or y.shape[1] != problem.y_dim:
        raise ValueError(f"{name}: y must have shape (N, {problem.y_dim}) for problem {problem.name!r} "
                         f"({_names(problem.y_names)}), got {y.shape}")
    if len(x) != len(y):
        raise ValueError(f"{name}: x and y must have as many rows, got {len(x)} and {len(y)}")
    if len(x) < 10:
        raise ValueError(f"{name}: expected at least 10 simulations (some are held out for validation), got {len(x)}")
    bad = np.flatnonzero(~np.isfinite(x).all(1) | problem.invalid_rows(y))
    if len(bad):
        raise ValueError(f"{name}: NaN or infinite values in rows {bad[:5].tolist()} (of {len(x)}); drop the "
                         "failed simulations first"
                         + (" (NaN is allowed only as trailing padding of shorter observations)"
                            if problem.variable_length else ""))
    if not check_values:
        return x, y
    with np.errstate(invalid="ignore"):
        huge = np.flatnonzero((np.abs(x) > MAX_MAGNITUDE).any(1) | (np.abs(y) > MAX_MAGNITUDE).any(1))
    if len(huge):
        raise ValueError(f"{name}: values beyond {MAX_MAGNITUDE:.0e} in magnitude in rows {huge[:5].tolist()} "
                         f"(of {len(x)}): training in float32 would overflow; rescale the data")
    outside = np.flatnonzero(~np.asarray(problem.in_support(x), dtype=bool))
    if len(outside):
        raise ValueError(f"{name}: parameters outside the prior's support of problem {problem.name!r} in rows "
                         f"{outside[:5].tolist()} (of {len(x)}; e.g. x = {short_values(x[outside[0]])}; support "
                         f"{short_values(problem.support_bounds())})")
    try:  # the rules every observation meets (as for sample): counts, reach, set layout
        problem.validate_observations(y, f"{name}: y")
    except ValueError as exc:
        raise ValueError(f"{exc} (training observations follow the same rules as the observations of sample)") \
            from None
    return x, y


#: bytes per simulated value while training on a simulation budget: the float64 arrays, their float32 copies and
#: the standardised and validation copies (measured peak about 3x the float64 arrays; 4x for margin)
BYTES_PER_SIMULATED_VALUE = 32


def check_simulation_memory(problem, n: int, name: str = "simulations") -> None:
    """Refuse, before anything is simulated, a simulation budget whose arrays cannot fit in memory.

    Args:
        problem: the :class:`innbench.problems.Problem` to simulate.
        n: the number of simulations.
        name: the argument to blame (``simulations``, the CLI's ``--simulations``).

    Example:
        >>> from innbench import get_problem
        >>> from innbench.simbudget import check_simulation_memory
        >>> check_simulation_memory(get_problem("linear"), 10_000)  # fits
        >>> try:
        ...     check_simulation_memory(get_problem("linear"), 10**15)
        ... except ValueError as err:
        ...     print(str(err).split(" need")[0])
        simulations: 1,000,000,000,000,000 simulations of problem 'linear' (3 values each)
    """
    from .runtime import check_memory

    width = problem.x_dim + problem.y_dim
    check_memory(float(n) * width * BYTES_PER_SIMULATED_VALUE, name,
                 f"{n:,} simulations of problem {problem.name!r} ({width} values each)")


#: the largest magnitude accepted in training data: its square still fits in float32 (3.4e38)
MAX_MAGNITUDE = 1e18




def read_simulations(path, problem, name: str = "--data") -> tuple[np.ndarray, np.ndarray]:
    """Simulations from a file: ``.npz`` with arrays ``x`` and ``y``, or a ``.csv`` / text file whose
    rows hold the ``x_dim`` parameters followed by the ``y_dim`` observations (``#`` comments).

    Args:
        path: the file.
        problem: the :class:`innbench.problems.Problem` they simulate.
        name: what error messages call the file (the CLI's ``--data``).

    Returns:
        ``(x (N, x_dim), y (N, y_dim))``, checked by :func:`check_training_data`.

    Example:
        >>> import numpy as np, tempfile
        >>> from innbench import get_problem
        >>> from innbench.simbudget import read_simulations
        >>> linear = get_problem("linear")
        >>> x, y = linear.simulate(50, np.random.default_rng(0))
        >>> path = tempfile.mkdtemp() + "/sims.csv"
        >>> np.savetxt(path, np.hstack([x, y]), delimiter=",", header="x1,x2,y")
        >>> x2, y2 = read_simulations(path, linear)
        >>> x2.shape, y2.shape, bool(np.allclose(y2, y))
        ((50, 2), (50, 1), True)
    """
    from pathlib import Path

    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{name}: expected the path of a .npz or .csv file, got an empty string")
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{name}: {str(p)!r} is a directory; expected a .npz or .csv file")
    if not p.is_file():
        raise ValueError(f"{name}: file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".npy":
        raise ValueError(f"{name}: {str(p)!r} is one .npy array; expected a .npz with arrays 'x' and 'y' "
                         "(numpy.savez(path, x=x, y=y)) or a .csv with x's columns, then y's")
    if suffix == ".npz":
        x, y = _read_npz(p, name)
    else:
        rows = _read_text_table(p, name)
        width = problem.x_dim + problem.y_dim
        if rows.shape[1] != width:
            raise ValueError(f"{name}: expected {width} columns ({problem.x_dim} parameters, then "
                             f"{problem.y_dim} observations), got {rows.shape[1]}")
        x, y = rows[:, : problem.x_dim], rows[:, problem.x_dim :]
    return check_training_data(problem, x, y, name)


def _names(names, k: int = 6) -> str:
    """The first ``k`` names for a message, and how many there are: not all 200 values of a series."""
    return ", ".join(names) if len(names) <= k else ", ".join(names[:k]) + f", ... ({len(names)} values)"


def training_data(problem, data, name: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Simulations a user brings, read and checked: a pair ``(x, y)`` (:func:`check_training_data`) or the
    path of a ``.npz``/``.csv`` file of them (:func:`read_simulations`).

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.simbudget import training_data
        >>> x, y = training_data(get_problem("linear"), (np.zeros((20, 2)), np.zeros(20)))
        >>> x.shape, y.shape
        ((20, 2), (20, 1))
    """
    import os

    if isinstance(data, (str, os.PathLike)):
        return read_simulations(data, problem, name)
    return check_training_data(problem, *_pair(data, name), name)


def _pair(data, name: str) -> tuple:
    """``data`` as a pair ``(x, y)``, or a ``ValueError`` naming ``name``."""
    if isinstance(data, (str, bytes)) or not hasattr(data, "__len__") or len(data) != 2:
        what = type(data).__name__ + (f" of {len(data)}" if hasattr(data, "__len__") else "")
        raise ValueError(f"{name}: expected a pair (x, y) of arrays or the path of a .npz or .csv file, got {what}")
    return data[0], data[1]


def _read_npz(p, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Arrays ``x`` and ``y`` of a ``.npz`` file, or a ``ValueError`` naming ``name`` and what is wrong."""
    import zipfile

    if not zipfile.is_zipfile(p):
        raise ValueError(f"{name}: {str(p)!r} is not a .npz archive (numpy.savez writes one)")
    try:
        with np.load(p, allow_pickle=False) as f:
            if "x" not in f or "y" not in f:
                raise ValueError(f"{name}: {str(p)!r} must hold arrays 'x' and 'y', it holds {sorted(f.files)}")
            x, y = f["x"], f["y"]
    except ValueError as exc:
        if str(exc).startswith(f"{name}:"):
            raise
        if "allow_pickle" in str(exc):
            raise ValueError(f"{name}: {str(p)!r} holds object (pickled) arrays, which are not read; save numeric "
                             "arrays") from None
        raise ValueError(f"{name}: could not read {str(p)!r} ({exc})") from None
    except Exception as exc:  # a truncated or corrupt archive
        raise ValueError(f"{name}: could not read {str(p)!r} ({type(exc).__name__}: {exc})") from None
    for key, a in (("x", x), ("y", y)):
        if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{name}: array {key!r} of {str(p)!r} holds {a.dtype} values; expected numbers")
    return x, y


def _read_text_table(p, name: str) -> np.ndarray:
    """The numeric rows of a comma- or whitespace-separated text file (``#`` comments), or a ``ValueError``
    naming ``name``, the line and what is wrong."""
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{name}: {str(p)!r} is not a UTF-8 text file; expected a .csv of numbers or a .npz") \
            from None
    except OSError as exc:
        raise ValueError(f"{name}: could not read {str(p)!r} ({exc.strerror or exc})") from None
    delim = "," if "," in text else None
    rows, width = [], None
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        cells = [c.strip() for c in (line.split(delim) if delim else line.split())]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            bad = next(c for c in cells if not _is_number(c))
            raise ValueError(f"{name}: line {number} of {str(p)!r}: {bad[:40]!r} is not a number (a header "
                             "line must start with '#'; columns separated by commas or spaces)") from None
        if width is not None and len(values) != width:
            raise ValueError(f"{name}: line {number} of {str(p)!r} has {len(values)} columns, the lines before it "
                             f"{width}")
        width = len(values)
        rows.append(values)
    if not rows:
        raise ValueError(f"{name}: {str(p)!r} holds no rows of numbers")
    return np.asarray(rows, dtype=float)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def fit_simulations(model, budget: SimulationBudget | None = None, seed: int = 0, data=None,
                    progress: bool = True, max_recoveries: int = 5) -> dict:
    """Train ``model`` on ``data = (x, y)`` (default: ``budget.simulations`` fresh simulations) with a
    validation split and early stopping; the best epoch's weights are restored.

    Deterministic for a seed. The training summary (``model.train_info``) records the epochs run, the
    best epoch, why training stopped, the validation curve ``[(epoch, loss)]`` and the training curve.
    Ramps that a model reads from ``model.progress`` stay at their final value (the number of epochs is
    not known in advance).

    Args:
        model: an untrained :class:`innbench.models.Model` (an ensemble trains each member in turn).
        budget: the :class:`SimulationBudget` (default: ``SimulationBudget()``).
        seed: seeds the simulations, the validation split and the batches.
        data: ``(x, y)`` simulations to train on; None: simulate ``budget.simulations`` pairs.
        progress: show a progress bar over the epochs.
        max_recoveries: roll-backs after a non-finite loss before
            :class:`innbench.training.TrainingDivergedError` is raised.

    Returns:
        The training summary, also stored as ``model.train_info``.

    Example:
        Training takes seconds to minutes, so this is not run here (:func:`innbench.api.train` does the same
        from names, with ``simulations=`` or ``data=``):

        ```python
        from innbench.models import build_model
        from innbench.simbudget import SimulationBudget, fit_simulations

        model = build_model("nsf", "two_moons")
        info = fit_simulations(model, SimulationBudget(simulations=1000), seed=0)
        info["stopped"], info["best_epoch"], info["validation_curve"][-1]
        ```
    """
    budget = budget or SimulationBudget()
    problem = model.problem
    torch.manual_seed(seed)
    own = data is None
    if own:
        data = simulate_training_data(problem, budget.simulations, seed)
    x_np, y_np = check_training_data(problem, *data, check_values=False) if own else training_data(problem, data)
    x_np, y_np = model.training_pairs(x_np, y_np)  # a sequential model: its first round's share
    summaries = [_fit_one(m, budget, seed + k, x_np, y_np, progress, max_recoveries)
                 for k, m in enumerate(model.trainable_members())]  # an ensemble: each member on the same data
    return model.record_training(summaries, seed)


def early_kept_weights(info: dict) -> str | None:
    """A warning's text where early stopping kept weights of fewer than :data:`MIN_KEPT_STEPS` optimiser steps
    from the first half of its epochs (the validation loss was lowest near the start: the network overfits the
    simulations, or the validation split is too small to tell); None otherwise, or where training ran to its
    last epoch.

    Arguments:
        info: a model's ``train_info`` from :func:`fit_simulations` (``best_epoch``, ``epochs``, ``stopped``,
            ``steps``, ``n_train``, ``batch_size``).

    Example:
        >>> from innbench.simbudget import early_kept_weights
        >>> info = {"best_epoch": 2, "epochs": 32, "stopped": "early stopping: ...", "steps": 896,
        ...         "n_train": 900, "batch_size": 32, "n_parameters": 50_000}
        >>> early_kept_weights(info).split(": ")[1]
        'kept the weights of epoch 2 of 32 (56 optimiser steps)'
    """
    if not str(info.get("stopped", "")).startswith("early stopping") or info.get("best_epoch") is None:
        return None
    per_epoch = max(1, int(info["n_train"]) // int(info["batch_size"]))
    kept = int(info["best_epoch"]) * per_epoch
    if kept >= MIN_KEPT_STEPS or 2 * int(info["best_epoch"]) > int(info["epochs"]):
        return None
    return (f"training: kept the weights of epoch {info['best_epoch']} of {info['epochs']} ({kept} optimiser "
            f"steps): the validation loss was lowest near the start, so the network ({info.get('n_parameters')} "
            f"parameters) overfits these {info['n_train']} training simulations or the validation split is too "
            "small to tell; its posterior may be too wide. Fewer parameters (params=), more simulations or a "
            "longer patience (simulation_budget patience=) help")


def continue_training(model, budget: SimulationBudget, x, y, seed: int = 0, max_recoveries: int = 5) -> dict:
    """Train ``model`` further on checked pairs ``x (N, x_dim)``, ``y (N, y_dim)`` under ``budget`` (its validation
    split and early stopping), from its current weights and with the standardisation it has: a later round of a
    sequential model (:mod:`innbench.models.sequential`). Returns the new ``train_info``.

    Example:
        Seconds of training, so not run here:

        ```python
        import numpy as np
        from innbench.models import build_model
        from innbench.simbudget import SimulationBudget, continue_training, fit_simulations

        model = build_model("nsf", "two_moons")
        x, y = model.problem.simulate(1000, np.random.default_rng(0))
        fit_simulations(model, SimulationBudget(), data=(x[:500], y[:500]))
        continue_training(model, SimulationBudget(), x, y)   # all 1,000 pairs, from the current weights
        ```
    """
    return _fit_one(model, budget, seed, np.asarray(x, dtype=float), np.asarray(y, dtype=float), False,
                    max_recoveries, keep_normalization=True)


def _fit_one(model, budget, seed, x_np, y_np, progress, max_recoveries, keep_normalization: bool = False) -> dict:
    """:func:`fit_simulations` of one model on checked simulations (with ``keep_normalization``, on the
    standardisation it has: a sequential model's later rounds continue from the current weights)."""
    torch.manual_seed(seed)
    problem = model.problem
    n = len(x_np)
    rng = np.random.default_rng([seed, 104729])
    order = rng.permutation(n)
    n_val = max(1, int(round(budget.validation_fraction * n)))
    if n - n_val < 2:
        raise ValueError(f"validation_fraction: {budget.validation_fraction} of {n} simulations leaves "
                         f"{n - n_val} for training; expected at least 2 (a smaller fraction or more simulations)")
    val, tr = order[:n_val], order[n_val:]
    if not keep_normalization:
        model.set_normalization(x_np[tr], y_np[tr])
    summary = {"seed": seed, "budget": {"kind": "simulations", **asdict(budget), "simulations": n},
               "n_train": len(tr), "n_validation": n_val, "n_parameters": model.n_parameters(),
               "device": str(model.device)}
    if not model.trainable:
        model.eval()
        model.train_info = {**summary, "train_seconds": 0.0, "final_loss": None, "loss_history": [], "epochs": 0,
                            "stopped": "not trainable", "validation_curve": [], "best_epoch": None,
                            "recoveries": 0, "n_parameters": 0}
        return model.train_info
    dev = model.device
    xt = torch.as_tensor(x_np[tr], dtype=torch.float32, device=dev)
    ct = model.condition(torch.as_tensor(y_np[tr], dtype=torch.float32, device=dev))
    xv = torch.as_tensor(x_np[val], dtype=torch.float32, device=dev)
    cv = model.condition(torch.as_tensor(y_np[val], dtype=torch.float32, device=dev))
    batch = budget.batch_for(len(tr))
    steps_per_epoch = max(1, len(tr) // batch)
    max_epochs = budget.max_epochs or max(1, budget.max_steps // steps_per_epoch)
    plan = EarlyStopping(len(tr), batch, max_epochs, budget.patience, budget.lr_patience, (xv, cv), seed,
                         min_epochs=-(-budget.min_steps // steps_per_epoch), smoothing=budget.smoothing)
    schedule = WarmupSchedule(budget.lr * float(model.config["lr_scale"]), steps_per_epoch)  # one epoch's warm-up
    bar = progress_bar(progress, max_epochs, f"train {model.name} on {problem.name} ({n} simulations)", "epoch")
    t0 = time.perf_counter()
    try:
        loop = optimise(model, xt, ct, plan, schedule, grad_clip=budget.grad_clip, weight_decay=budget.weight_decay,
                        max_recoveries=max_recoveries, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    model.eval()
    model.train_info = {**summary, "train_seconds": time.perf_counter() - t0,
                        "final_loss": dict(plan.curve).get(plan.best[1]),
                        "loss_history": loop.history, "epochs": len(plan.curve), "best_epoch": plan.best[1],
                        "stopped": plan.stopped, "validation_curve": plan.curve, "batch_size": batch,
                        "steps": loop.step, "recoveries": loop.recoveries, "lr_factor": loop.cut}
    message = early_kept_weights(model.train_info)
    if message:
        warnings.warn(f"{model.name} on {problem.name}: {message}", stacklevel=3)
    return model.train_info
