"""Training under a fixed budget: the same loop, data and schedule for every model."""

from __future__ import annotations

import copy
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from .models.estimator import Estimator
from .runtime import check_deadline

__all__ = ["PRESETS", "Budget", "CosineSchedule", "EarlyStopping", "LoopState", "StepBudget", "TrainingDivergedError",
           "WarmupSchedule", "fit", "get_budget", "optimise", "simulate_training_data", "validation_loss"]


class TrainingDivergedError(RuntimeError):
    """Training produced NaN or infinite losses and could not recover.

    Raised by :func:`fit` and :func:`innbench.simbudget.fit_simulations` after ``max_recoveries`` roll-backs
    (each to the last good weights, with half the learning rate); the message names the step or epoch.
    """


@dataclass(frozen=True)
class Budget:
    """Everything that bounds a training run; identical for every model of a comparison.

    Attributes:
        n_train: simulated training pairs (one set per problem and seed, shared by all models).
        n_batches: optimiser steps.
        batch_size: samples per step.
        lr: peak learning rate (Adam, betas (0.9, 0.95)).
        lr_final_fraction: the cosine schedule decays from ``lr`` to ``lr * lr_final_fraction``.
        warmup: fraction of the steps with a linear learning-rate warm-up.
        weight_decay: Adam weight decay.
        grad_clip: gradient-norm clip.
        params: target number of trainable parameters; the model's width option is scaled to the
            width whose count is nearest (``None``: the model's own default width).
        model: model options every model of the comparison gets where it has them (e.g. ``blocks``).

    Example:
        >>> from innbench.training import Budget, get_budget
        >>> budget = Budget(n_batches=1000, lr=1e-3)
        >>> budget.lr_at(0) < budget.lr_at(20) == 1e-3  # a linear warm-up over 2 % of the steps, then cosine
        True
        >>> round(budget.lr_at(999) / budget.lr, 3)  # down to lr_final_fraction at the end
        0.01
        >>> get_budget("quick").n_batches
        2500
    """

    n_train: int = 1_000_000
    n_batches: int = 6000
    batch_size: int = 512
    lr: float = 2e-3
    lr_final_fraction: float = 0.01
    warmup: float = 0.02
    weight_decay: float = 1e-5
    grad_clip: float = 5.0
    params: int | None = None
    model: dict = field(default_factory=dict)

    def __post_init__(self):
        from . import params as P

        for key in ("n_train", "n_batches", "batch_size"):
            P.count(getattr(self, key), key)
        P.positive_real(self.lr, "lr")
        P.fraction(self.lr_final_fraction, "lr_final_fraction")
        P.fraction(self.warmup, "warmup", upper_open=True)
        P.nonnegative_real(self.weight_decay, "weight_decay")
        P.positive_real(self.grad_clip, "grad_clip")
        if self.params is not None:
            P.count(self.params, "params")
        if not isinstance(self.model, dict):
            raise ValueError(f"model: expected a table of model options, got {self.model!r}")

    def lr_at(self, step: int) -> float:
        """The learning rate at optimiser step ``step`` (0-based): linear warm-up, then cosine decay."""
        w = max(1, int(self.warmup * self.n_batches))
        if step < w:
            return self.lr * (step + 1) / w
        p = (step - w) / max(1, self.n_batches - w)
        lo = self.lr * self.lr_final_fraction
        return lo + 0.5 * (self.lr - lo) * (1 + math.cos(math.pi * p))


#: Named budgets. ``tiny`` is for tests, ``quick`` for the demo, ``default`` for the benchmark.
PRESETS: dict[str, Budget] = {
    "tiny": Budget(n_train=20_000, n_batches=200, batch_size=256, model={"blocks": 4, "hidden": 32}),
    "quick": Budget(n_train=500_000, n_batches=2500, batch_size=512),
    "default": Budget(),
}


def get_budget(preset: str | Budget = "default", **overrides) -> Budget:
    """A training budget: a named preset (:data:`PRESETS`) or a :class:`Budget`, with fields overridden.

    Args:
        preset: ``"tiny"`` (tests), ``"quick"`` (the demo), ``"default"`` (the benchmark) or a :class:`Budget`.
        **overrides: :class:`Budget` fields to change; unknown keys raise a ``ValueError`` that lists the known.

    Returns:
        A new :class:`Budget` (the presets are not changed).

    Example:
        >>> from innbench.training import get_budget
        >>> budget = get_budget("tiny", n_batches=50)
        >>> budget.n_batches, budget.batch_size, budget.model
        (50, 256, {'blocks': 4, 'hidden': 32})
        >>> get_budget("default", params=100_000).params
        100000
    """
    unknown = set(overrides) - set(Budget.__dataclass_fields__)
    if unknown:
        raise ValueError(f"budget: unknown keys {sorted(unknown)}; known: {sorted(Budget.__dataclass_fields__)}")
    if isinstance(preset, Budget):
        return replace(preset, **overrides)
    if preset not in PRESETS:
        raise KeyError(f"preset: unknown name {preset!r}; known presets are {', '.join(PRESETS)}")
    return replace(PRESETS[preset], **overrides)


def simulate_training_data(problem, n: int, seed: int):
    """The training set of a problem and seed: ``n`` prior draws and their observations.

    Every model trained with the same problem and seed under a fixed-batch budget sees this same set.

    Args:
        problem: the :class:`innbench.problems.Problem`.
        n: number of pairs.
        seed: the training seed.

    Returns:
        ``(x (n, x_dim), y (n, y_dim))``.

    Example:
        >>> import numpy as np
        >>> from innbench import get_problem
        >>> from innbench.training import simulate_training_data
        >>> x, y = simulate_training_data(get_problem("kinematics"), 100, seed=0)
        >>> x.shape, bool(np.array_equal(x, simulate_training_data(get_problem("kinematics"), 100, seed=0)[0]))
        ((100, 4), True)
    """
    rng = np.random.default_rng([seed, 7919])
    return problem.simulate(n, rng)


def fit(model: Estimator, budget: Budget, seed: int = 0, data=None, progress: bool = True,
        max_recoveries: int = 5, checkpoint_every: int = 250) -> dict:
    """Train ``model`` within ``budget`` and return a summary (losses, time, recoveries).

    Deterministic for a given seed, model config and device. A NaN or infinite loss (or gradient)
    rolls the model and optimiser back to the last good checkpoint and halves the learning rate;
    after ``max_recoveries`` such events :class:`TrainingDivergedError` is raised with the step number.

    Args:
        model: an untrained :class:`innbench.models.Model` (an ensemble trains each member in turn).
        budget: the :class:`Budget` (batches, batch size, learning-rate schedule, training-set size).
        seed: seeds the training set (:func:`simulate_training_data`) and the batches.
        data: ``(x, y)`` to draw batches from; None: ``budget.n_train`` simulated pairs.
        progress: show a progress bar.
        max_recoveries: roll-backs after a non-finite loss before giving up.
        checkpoint_every: steps between the checkpoints a roll-back returns to.

    Returns:
        The training summary (also ``model.train_info``): seed, budget, seconds, final and smoothed losses,
        roll-backs, parameter count, device.

    Example:
        Training takes seconds even for the ``tiny`` preset, so this is not run here:

        ```python
        from innbench.models import build_model
        from innbench.training import fit, get_budget

        model = build_model("cinn", "kinematics")
        info = fit(model, get_budget("quick"), seed=0)
        info["train_seconds"], info["final_loss"]
        ```
    """
    torch.manual_seed(seed)
    if data is None:
        data = simulate_training_data(model.problem, budget.n_train, seed)
    data = model.training_pairs(*data)  # a sequential model: its first round's share
    summaries = [_fit_one(m, budget, seed + k, data, progress, max_recoveries, checkpoint_every)
                 for k, m in enumerate(model.trainable_members())]  # an ensemble: each member on the same data
    return model.record_training(summaries, seed)


def _fit_one(model, budget, seed, data, progress, max_recoveries, checkpoint_every) -> dict:
    """:func:`fit` of one model."""
    torch.manual_seed(seed)
    x_np, y_np = data
    if len(x_np) != len(y_np) or len(x_np) == 0:
        raise ValueError(f"data: expected equally long non-empty x and y, got {len(x_np)} and {len(y_np)}")
    model.set_normalization(x_np, y_np)
    if not model.trainable:  # e.g. the rejection-ABC baseline
        model.eval()
        return _record(model, seed, budget, seconds=0.0, final_loss=None, history=[], recoveries=0, n_parameters=0)
    dev = model.device
    x_all = torch.as_tensor(x_np, dtype=torch.float32, device=dev)
    y_all = model.condition(torch.as_tensor(y_np, dtype=torch.float32, device=dev))
    plan = StepBudget(budget.n_batches, budget.batch_size, len(x_all), seed, checkpoint_every)
    schedule = CosineSchedule(budget, float(model.config["lr_scale"]))
    bar = progress_bar(progress, budget.n_batches, f"train {model.name} on {model.problem.name}", "batch")
    t0 = time.perf_counter()
    try:
        loop = optimise(model, x_all, y_all, plan, schedule, grad_clip=budget.grad_clip,
                        weight_decay=budget.weight_decay, max_recoveries=max_recoveries, bar=bar)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    model.progress = 1.0
    model.eval()
    return _record(model, seed, budget, seconds=seconds, final_loss=loop.ema, history=loop.history,
                   recoveries=loop.recoveries, n_parameters=model.n_parameters())


# -- the one training loop -------------------------------------------------------------------------------------
# ``optimise`` runs every training in innbench: a plan (which batches, when to stop, what a roll-back returns
# to) times a schedule (the learning rate and the ramps' progress at each step). ``fit`` uses StepBudget with
# CosineSchedule, ``innbench.simbudget.fit_simulations`` EarlyStopping with WarmupSchedule.


@dataclass
class LoopState:
    """Where a training run stands: optimiser steps taken, roll-backs so far, the factor on the schedule's
    learning rate (halved by each roll-back and each plateau), the smoothed training loss and its history."""

    step: int = 0
    recoveries: int = 0
    cut: float = 1.0
    ema: float | None = None
    history: list = field(default_factory=list)


class CosineSchedule:
    """The fixed budget's learning rate: :meth:`Budget.lr_at` (linear warm-up, cosine decay) times the
    model's ``lr_scale``; ramps read ``model.progress`` = the fraction of the steps done."""

    def __init__(self, budget: Budget, model_lr: float):
        self.budget, self.model_lr, self.initial_lr = budget, model_lr, budget.lr

    def lr(self, step: int, cut: float) -> float:
        return self.budget.lr_at(step) * cut * self.model_lr

    def progress(self, step: int) -> float:
        return step / self.budget.n_batches


class WarmupSchedule:
    """A constant learning rate ``lr`` after a linear warm-up over ``warmup_steps``; ramps stay at their end
    (``progress`` 1: the number of steps is not known in advance)."""

    def __init__(self, lr: float, warmup_steps: int):
        self.initial_lr, self.warmup_steps = lr, warmup_steps

    def lr(self, step: int, cut: float) -> float:
        return self.initial_lr * cut * min(1.0, (step + 1) / self.warmup_steps)

    def progress(self, step: int) -> float:
        return 1.0


class StepBudget:
    """Stop after ``n_batches`` steps, each on ``batch_size`` pairs drawn with replacement from the ``n``
    training pairs; a roll-back returns to the last checkpoint (weights and optimiser, every
    ``checkpoint_every`` steps). A failed step is retried on a fresh batch."""

    unit = "batch"

    def __init__(self, n_batches: int, batch_size: int, n: int, seed: int, checkpoint_every: int):
        self.n_batches, self.batch_size, self.n, self.checkpoint_every = n_batches, batch_size, n, checkpoint_every
        self.gen = torch.Generator(device="cpu").manual_seed(seed)

    def start(self, model, opt) -> None:
        self.model, self.opt = model, opt
        self.good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))

    def periods(self):
        return (1,)

    def batches(self, period, loop: LoopState, device):
        while loop.step < self.n_batches:
            yield torch.randint(0, self.n, (self.batch_size,), generator=self.gen).to(device)

    def where(self, loop: LoopState) -> str:
        return f"at step {loop.step}"

    def roll_back(self) -> None:
        self.model.load_state_dict(self.good[0])
        self.opt.load_state_dict(self.good[1])

    def after_step(self, loss: float, loop: LoopState, bar) -> None:
        loop.ema = loss if loop.ema is None else 0.98 * loop.ema + 0.02 * loss
        if loop.step % 50 == 0 or loop.step == self.n_batches - 1:
            loop.history.append((loop.step, loop.ema))
            if bar is not None:
                bar.set_postfix(loss=f"{loop.ema:.4f}", refresh=False)
        if (loop.step + 1) % self.checkpoint_every == 0:
            self.good = (copy.deepcopy(self.model.state_dict()), copy.deepcopy(self.opt.state_dict()))
        if bar is not None:
            bar.update(1)

    def end_period(self, period, loop: LoopState, bar) -> bool:
        return False

    def finish(self) -> None:
        pass


class EarlyStopping:
    """Epochs over the training pairs (a fresh permutation each, ``batch_size`` per step), the mean loss on
    the validation pairs after each; stop after ``patience`` epochs without a better one (or at
    ``max_epochs``) and keep the best epoch's weights. ``lr_patience`` epochs without progress halve the
    learning rate (None: never). A roll-back returns to the best epoch's weights.

    ``min_epochs`` epochs run before any of this starts: none of them can be kept, and neither the patience
    nor the learning-rate count starts before the last of them. ``smoothing`` (in [0, 1)) compares epochs on
    an exponential average of the validation loss (``s = smoothing * s + (1 - smoothing) * loss``) instead
    of the loss itself."""

    unit = "epoch"

    def __init__(self, n_train: int, batch_size: int, max_epochs: int, patience: int, lr_patience: int | None,
                 validation: tuple, seed: int, min_epochs: int = 0, smoothing: float = 0.0):
        self.n_train, self.batch_size, self.max_epochs = n_train, batch_size, max_epochs
        self.steps_per_epoch = max(1, n_train // batch_size)
        self.patience, self.lr_patience, self.validation, self.seed = patience, lr_patience, validation, seed
        self.min_epochs, self.smoothing = min(int(min_epochs), max_epochs), float(smoothing)
        self.smoothed = None
        self.gen = torch.Generator(device="cpu").manual_seed(seed)
        self.curve: list = []
        self.last_cut = 0  # the epoch of the last learning-rate cut (plateau schedule)
        self.stopped = f"max epochs ({max_epochs})"
        self.epoch = 0

    def start(self, model, opt) -> None:
        self.model = model
        self.best = (float("inf"), 0, copy.deepcopy(model.state_dict()))

    def periods(self):
        return range(1, self.max_epochs + 1)

    def batches(self, epoch, loop: LoopState, device):
        self.epoch = epoch
        perm = torch.randperm(self.n_train, generator=self.gen).to(device)
        loop.ema = None
        for b in range(self.steps_per_epoch):
            yield perm[b * self.batch_size : (b + 1) * self.batch_size]

    def where(self, loop: LoopState) -> str:
        return f"in epoch {self.epoch}"

    def roll_back(self) -> None:
        self.model.load_state_dict(self.best[2])

    def after_step(self, loss: float, loop: LoopState, bar) -> None:
        loop.ema = loss if loop.ema is None else 0.9 * loop.ema + 0.1 * loss

    def end_period(self, epoch, loop: LoopState, bar) -> bool:
        self.model.eval()
        vloss = validation_loss(self.model, *self.validation, self.seed)
        self.curve.append((epoch, vloss))
        loop.history.append((loop.step, loop.ema))
        if np.isfinite(vloss):
            self.smoothed = vloss if self.smoothed is None else (
                self.smoothing * self.smoothed + (1 - self.smoothing) * vloss)
        if bar is not None:
            bar.set_postfix(val=f"{vloss:.4f}", best=f"{self.best[0]:.4f}", refresh=False)
            bar.update(1)
        if epoch < self.min_epochs:  # the minimum training: nothing kept, nothing counted yet
            return False
        if np.isfinite(vloss) and self.smoothed < self.best[0]:
            self.best = (self.smoothed, epoch, copy.deepcopy(self.model.state_dict()))
        since = max(self.best[1], self.min_epochs - 1)
        if self.lr_patience and epoch - max(since, self.last_cut) >= self.lr_patience:
            loop.cut *= 0.5
            self.last_cut = epoch
        if epoch - since >= self.patience:
            self.stopped = f"early stopping: no better validation loss for {self.patience} epochs"
            return True
        return False

    def finish(self) -> None:
        self.model.load_state_dict(self.best[2])


def optimise(model, x, c, plan, schedule, *, grad_clip: float, weight_decay: float, max_recoveries: int,
             bar=None) -> LoopState:
    """The one training loop: Adam (betas 0.9, 0.95) on standardised batches of ``x`` (problem units) and
    ``c`` (standardised conditions), the batches and the stopping rule from ``plan``, the learning rate from
    ``schedule``. A non-finite loss or gradient rolls back (``plan.roll_back``) and halves the learning rate;
    after ``max_recoveries`` of them :class:`TrainingDivergedError` names where.

    Arguments:
        model: the :class:`innbench.models.Model` (its normalisation already set).
        x: training parameters ``(N, x_dim)`` as a float32 tensor on the model's device.
        c: their standardised conditions (``model.condition``).
        plan: :class:`StepBudget` or :class:`EarlyStopping`.
        schedule: :class:`CosineSchedule` or :class:`WarmupSchedule`.
        grad_clip, weight_decay: as in :class:`Budget`.
        max_recoveries: roll-backs before giving up.
        bar: a tqdm progress bar (or None).

    Returns:
        The :class:`LoopState` at the end (the plan holds what it measured: the validation curve, the best epoch).
    """
    opt = torch.optim.Adam(model.parameters(), lr=schedule.initial_lr, betas=(0.9, 0.95), weight_decay=weight_decay)
    loop = LoopState()
    plan.start(model, opt)
    for period in plan.periods():
        model.train()
        for idx in plan.batches(period, loop, x.device):
            check_deadline()
            for g in opt.param_groups:
                g["lr"] = schedule.lr(loop.step, loop.cut)
            model.progress = schedule.progress(loop.step)
            lv = _step(model, opt, model.standardize_x(model.dequantize(x[idx])), c[idx], grad_clip)
            if lv is None:  # non-finite loss or gradient: roll back, halve the learning rate
                loop.recoveries += 1
                if loop.recoveries > max_recoveries:
                    lr_now = schedule.lr(loop.step, loop.cut)
                    raise TrainingDivergedError(
                        f"training {model.name} on {model.problem.name} diverged: non-finite loss {plan.where(loop)} "
                        f"after {max_recoveries} roll-backs (learning rate now {lr_now:.2e}); try a lower lr or a "
                        "smaller clamp")
                plan.roll_back()
                loop.cut *= 0.5
                continue
            plan.after_step(lv, loop, bar)
            loop.step += 1
        if plan.end_period(period, loop, bar):
            break
    plan.finish()
    return loop


def validation_loss(model, xv, cv, seed: int) -> float:
    """The mean loss over validation pairs ``xv`` (problem units) and ``cv`` (standardised conditions), with
    the same noise every call (a fixed torch seed), so that epochs are compared on equal terms."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        total, n = 0.0, 0
        for s in range(0, len(xv), 4096):
            xb = model.standardize_x(model.dequantize(xv[s : s + 4096]))
            loss, _ = model.training_loss(xb, cv[s : s + 4096])
            total += float(loss) * len(xb)
            n += len(xb)
    return total / n


def progress_bar(show: bool, total: int, desc: str, unit: str):
    """A tqdm bar over ``total`` units (None where ``show`` is False); quiet when stderr is not a terminal."""
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, dynamic_ncols=True, leave=False,
                mininterval=0.5 if sys.stderr.isatty() else 10.0)


def _step(model, opt, xb, yb, grad_clip) -> float | None:
    """One optimiser step on a standardised batch; the loss, or None (and no step) where the loss or the
    gradient norm is not finite."""
    loss, _ = model.training_loss(xb, yb)
    opt.zero_grad(set_to_none=True)
    if not torch.isfinite(loss):
        return None
    loss.backward()
    if not torch.isfinite(torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)):
        return None
    opt.step()
    return float(loss.detach())


def _record(model, seed, budget, *, seconds, final_loss, history, recoveries, n_parameters) -> dict:
    """The training summary kept in ``model.train_info`` (and saved with the model)."""
    model.train_info = {"seed": seed, "budget": asdict(budget), "train_seconds": seconds, "final_loss": final_loss,
                        "loss_history": history, "recoveries": recoveries, "n_parameters": n_parameters,
                        "device": str(model.device)}
    return model.train_info
