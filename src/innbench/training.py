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

__all__ = ["PRESETS", "Budget", "TrainingDivergedError", "fit", "get_budget", "simulate_training_data"]


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
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=budget.n_batches, desc=f"train {model.name} on {model.problem.name}", unit="batch",
                   dynamic_ncols=True, leave=False, mininterval=0.5 if sys.stderr.isatty() else 10.0)
    t0 = time.perf_counter()
    try:
        ema, history, recoveries = _train_loop(model, budget, x_all, y_all, seed, bar, max_recoveries,
                                               checkpoint_every)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    model.progress = 1.0
    model.eval()
    return _record(model, seed, budget, seconds=seconds, final_loss=ema, history=history, recoveries=recoveries,
                   n_parameters=model.n_parameters())


def _train_loop(model, budget, x_all, y_all, seed, bar, max_recoveries, checkpoint_every):
    """The optimisation proper: ``(final smoothed loss, [(step, smoothed loss)], roll-backs)``."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=budget.lr, betas=(0.9, 0.95), weight_decay=budget.weight_decay)
    model.train()
    lr_scale, recoveries = 1.0, 0
    model_lr = float(model.config["lr_scale"])  # the model's own factor (a base option, validated at build)
    good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
    history, ema = [], None
    step = 0
    while step < budget.n_batches:
        check_deadline()
        idx = torch.randint(0, len(x_all), (budget.batch_size,), generator=gen).to(x_all.device)
        for g in opt.param_groups:
            g["lr"] = budget.lr_at(step) * lr_scale * model_lr
        model.progress = step / budget.n_batches
        lv = _step(model, opt, model.standardize_x(model.dequantize(x_all[idx])), y_all[idx], budget.grad_clip)
        if lv is None:  # non-finite loss or gradient: roll back, halve the learning rate
            recoveries += 1
            if recoveries > max_recoveries:
                raise TrainingDivergedError(
                    f"training {model.name} on {model.problem.name} diverged: non-finite loss at step {step} "
                    f"after {max_recoveries} roll-backs (learning rate now {budget.lr_at(step) * lr_scale:.2e}); "
                    "try a lower --lr or a smaller clamp")
            model.load_state_dict(good[0])
            opt.load_state_dict(good[1])
            lr_scale *= 0.5
            continue
        ema = lv if ema is None else 0.98 * ema + 0.02 * lv
        if step % 50 == 0 or step == budget.n_batches - 1:
            history.append((step, ema))
            if bar is not None:
                bar.set_postfix(loss=f"{ema:.4f}", refresh=False)
        if (step + 1) % checkpoint_every == 0:
            good = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
        if bar is not None:
            bar.update(1)
        step += 1
    return ema, history, recoveries


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
