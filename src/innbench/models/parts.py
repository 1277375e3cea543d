"""Composable parts around an inference network (issue 35): each does one thing to the parameters or the
condition, is built from the problem, and is tested on its own.

- :class:`LogitTransform`: two-sided bounded parameters to the real line and back, with the log-Jacobian
  that keeps ``log_prob`` exact in the problem's units.
- :class:`Dequantize`: uniform noise on integer-valued parameters while training, so that a density
  network sees a continuous distribution.
- :class:`Standardize`: a learned shift and scale (the training set's mean and standard deviation), saved
  with the model's weights.
- :class:`ConditionNoise`: Gaussian noise on the condition while training (constant, annealed, or a level per
  pair that the network is told).
- :class:`ConditionFeatures`: what a model reads of an observation before standardisation (y, y with the
  problem's extra features, or the problem's stretched coordinate).

:func:`build_parts` makes them for a model on a problem from its settings; a :class:`innbench.models.Model`
composes them around its inference network (and the summary network of :func:`innbench.models.summary.summary_for`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

__all__ = ["ConditionFeatures", "ConditionNoise", "Dequantize", "LogitTransform", "Parts", "Standardize", "build_parts"]


class LogitTransform:
    """The logit of the parameters with a two-sided bound: ``x -> logit((x - lo) / width)`` on those
    columns, and ``x -> log(x - low)`` on the problem's ``log_columns`` (a lower bound only); the identity
    on the others (unbounded, other one-sided and integer parameters).

    A network then works on the real line, and its samples mapped back by :meth:`inverse` stay inside the
    bounds. The mapping is fixed by the problem: it has no weights and nothing to save.

    Arguments:
        lo: lower bounds of the transformed columns, ``(k,)``.
        width: ``hi - lo`` of those columns, ``(k,)``, all positive.
        columns: which of the parameter vector's columns are transformed (``k`` indices).
        log_columns: columns mapped by ``log(x - log_lo)`` (none by default).
        log_lo: their lower bounds.

    Example:
        >>> import torch
        >>> from innbench import get_problem
        >>> from innbench.models.parts import LogitTransform
        >>> t = LogitTransform.for_problem(get_problem("two_moons"))
        >>> t.columns
        [0, 1]
        >>> x = torch.tensor([[0.0, 0.5]])
        >>> t.forward(x)
        tensor([[0.0000, 1.0986]])
        >>> torch.allclose(t.inverse(t.forward(x)), x)
        True
    """

    def __init__(self, lo, width, columns, log_columns=(), log_lo=()):
        self.columns = [int(i) for i in columns]
        self.lo = torch.as_tensor(lo, dtype=torch.float32).reshape(len(self.columns))
        self.width = torch.as_tensor(width, dtype=torch.float32).reshape(len(self.columns))
        self.log_columns = [int(i) for i in log_columns]
        self.log_lo = torch.as_tensor(log_lo, dtype=torch.float32).reshape(len(self.log_columns))

    @classmethod
    def for_problem(cls, problem, enabled: bool = True) -> LogitTransform:
        """The transform of ``problem``'s two-sided bounded, non-integer parameters and of its ``log_columns``
        (none where not ``enabled``: the model option ``bounded_transform=None``)."""
        b = problem.support_bounds()
        two_sided = np.isfinite(b).all(1) & (b[:, 1] > b[:, 0])
        two_sided[list(problem.discrete)] = False
        columns = np.flatnonzero(two_sided).tolist() if enabled else []
        logs = [int(i) for i in problem.log_columns] if enabled else []
        bad = [i for i in logs if not (0 <= i < problem.x_dim and np.isfinite(b[i, 0]) and b[i, 1] == np.inf
                                       and i not in problem.discrete)]
        if bad:
            raise ValueError(f"problem {problem.name!r}: log_columns {bad} must be continuous parameters with a "
                             f"finite lower bound and no upper bound (bounds {b[bad].tolist()})")
        return cls(b[columns, 0], b[columns, 1] - b[columns, 0], columns, logs, b[logs, 0])

    def __bool__(self) -> bool:
        """Whether any column is transformed."""
        return bool(self.columns or self.log_columns)

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        """The transformed columns of ``x`` mapped to [0, 1] by their interval (before the logit)."""
        return (x[..., self.columns] - self.lo.to(x)) / self.width.to(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x (..., x_dim)`` with its bounded columns on the real line (a copy; ``x`` itself where none)."""
        if not self:
            return x
        out = x.clone()
        if self.columns:
            u = self.unit(x).clamp(1e-6, 1 - 1e-6)
            out[..., self.columns] = torch.log(u) - torch.log1p(-u)
        if self.log_columns:
            out[..., self.log_columns] = torch.log(self._above(x))
        return out

    def _above(self, x: torch.Tensor) -> torch.Tensor:
        """The log columns' distance above their bounds, at least the smallest normal number of ``x``'s type."""
        return (x[..., self.log_columns] - self.log_lo.to(x)).clamp_min(torch.finfo(x.dtype).tiny)

    def inverse(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`forward`."""
        if not self:
            return x
        out = x.clone()
        if self.columns:
            out[..., self.columns] = self.lo.to(x) + self.width.to(x) * torch.sigmoid(x[..., self.columns])
        if self.log_columns:
            out[..., self.log_columns] = self.log_lo.to(x) + torch.exp(x[..., self.log_columns])
        return out

    def log_density_correction(self, x: torch.Tensor) -> torch.Tensor:
        """What to add to the log-density of :meth:`forward`'s output to get that of ``x (m, x_dim)``:
        ``log |d forward / dx|``, summed over the columns, and ``-inf`` outside the bounds.

        ``d logit((x - lo) / w) / dx = 1 / (w u (1 - u))``; ``d log(x - lo) / dx = 1 / (x - lo)``.
        """
        correction = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
        inside = torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device)
        if self.columns:
            u = self.unit(x)
            inside &= ((u > 0) & (u < 1)).all(-1)
            u = u.clamp(1e-6, 1 - 1e-6)
            correction = correction - (torch.log(self.width.to(x)) + torch.log(u) + torch.log1p(-u)).sum(-1)
        if self.log_columns:
            inside &= (x[..., self.log_columns] > self.log_lo.to(x)).all(-1)
            correction = correction - torch.log(self._above(x)).sum(-1)
        return torch.where(inside, correction, torch.full_like(correction, -float("inf")))


class Dequantize:
    """Uniform noise in ``[-0.5, 0.5)`` added to the integer-valued parameters of a training batch (the
    others are untouched): a density network then fits a continuous density whose mass around each integer
    is that integer's probability, and rounding its samples gives integers again.

    Arguments:
        columns: the integer-valued columns of the parameter vector (the problem's ``discrete``).

    Example:
        >>> import torch
        >>> from innbench import get_problem
        >>> from innbench.models.parts import Dequantize
        >>> d = Dequantize.for_problem(get_problem("ballistics"))
        >>> d.columns
        [3]
        >>> x = torch.tensor([[0.1, 0.2, 0.3, 2.0]])
        >>> noisy = d(x, torch.Generator().manual_seed(0))
        >>> bool(torch.equal(noisy[:, :3], x[:, :3])), bool(torch.equal(noisy[:, 3].round(), x[:, 3]))
        (True, True)
    """

    def __init__(self, columns):
        self.columns = [int(i) for i in columns]

    @classmethod
    def for_problem(cls, problem) -> Dequantize:
        """The dequantisation of ``problem``'s integer-valued parameters (none where it has none)."""
        return cls(problem.discrete)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``x (m, x_dim)`` with the noise on its integer columns (a copy; ``x`` itself where there are none)."""
        if not self.columns:
            return x
        x = x.clone()
        u = torch.rand(x.shape[0], len(self.columns), generator=generator, device=x.device, dtype=x.dtype)
        x[:, self.columns] = x[:, self.columns] + u - 0.5
        return x


class Standardize(nn.Module):
    """Shift and scale each column to the training set's mean 0 and standard deviation 1:
    ``v -> (v - mean) / std``. The two vectors are buffers (``mean``, ``std``), saved with the model's
    weights; :meth:`fit` sets them from the training set.

    Arguments:
        dim: the number of columns.

    Example:
        >>> import torch
        >>> from innbench.models.parts import Standardize
        >>> s = Standardize(2)
        >>> s.fit(torch.tensor([[0.0, 10.0], [2.0, 30.0]], dtype=torch.float64))
        >>> s.mean, s(torch.tensor([[2.0, 30.0]]))
        (tensor([ 1., 20.]), tensor([[0.7071, 0.7071]]))
        >>> s.inverse(s(torch.tensor([[2.0, 30.0]])))
        tensor([[ 2., 30.]])
    """

    #: added to every standard deviation, so that a constant column does not divide by zero
    EPS = 1e-8

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(int(dim)))
        self.register_buffer("std", torch.ones(int(dim)))

    def fit(self, values: torch.Tensor, *, unbiased: bool = True, channels: int | None = None) -> None:
        """Set ``mean`` and ``std`` from ``values (N, dim)`` (float64 for an exact mean over many rows).

        Arguments:
            values: the training set's rows.
            unbiased: the standard deviation divides by ``N - 1`` (else by ``N``).
            channels: the rows are a series or set of ``dim // channels`` steps of ``channels`` values each,
                padded with NaN: one mean and scale per channel, over every step present, repeated per step.
        """
        if channels:
            steps = values.reshape(-1, channels)
            steps = steps[torch.isfinite(steps).all(-1)]
            reps = self.mean.numel() // channels
            self.mean.copy_(steps.mean(0).repeat(reps))
            self.std.copy_((steps.std(0, unbiased=unbiased) + self.EPS).repeat(reps))
            return
        self.mean.copy_(values.mean(0))
        self.std.copy_(values.std(0, unbiased=unbiased) + self.EPS)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """``v (..., dim)`` standardised."""
        return (v - self.mean) / self.std

    def inverse(self, s: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`forward`: standardised ``s`` back in the original units."""
        return s * self.std + self.mean

    def log_abs_det(self) -> torch.Tensor:
        """``log |det d forward / dv|`` (a scalar): add it to a density of standardised values to get the
        density of the original ones."""
        return -torch.log(self.std).sum()


class ConditionNoise:
    """Gaussian noise on the condition a conditional network reads (standardised, after the summary
    network), while training only: ``c + sigma * e``, ``e ~ N(0, I)``.

    A deterministic forward process puts the posterior on a set of lower dimension, where the likelihood has
    no finite optimum; the noise smooths the conditional density (docs/journal/model_recipes.md). Three ways:

    - a constant level ``sd`` (``final`` None), the default of every conditional model (0.01);
    - a level annealed geometrically from ``sd`` to ``final`` over training (``progress`` 0 to 1);
    - ``conditioned``: each training pair gets its own level, log-uniform in ``[low, sd]``, and the network
      is told ``log(sigma / sd)`` as one more condition feature (:attr:`extra_features`); at inference it is
      told ``sample_level`` (default ``low``), so one trained network offers the whole Err_post / Err_resim
      trade and the level can be chosen after training (measured: docs/journal/recipes_in_code.md#cinn).

    Arguments:
        sd: the noise's standard deviation in standardised units (0: none).
        final: the level reached at the end of training (None: constant).
        conditioned: a level per pair, told to the network (above).
        low: the lowest level with ``conditioned``.
        sample_level: the level told to the network at inference with ``conditioned`` (None: ``low``).

    A model builds it from its options (:meth:`from_options`: ``y_noise``, ``y_noise_final``,
    ``noise_conditioned``, ``y_noise_min``, ``y_noise_sample``); the errors name those options.

    Example:
        >>> import torch
        >>> from innbench.models.parts import ConditionNoise
        >>> noise = ConditionNoise(0.01, final=0.001)
        >>> round(noise.level(0.0), 6), round(noise.level(0.5), 6), round(noise.level(1.0), 6)
        (0.01, 0.003162, 0.001)
        >>> c = torch.zeros(3, 2)
        >>> noise.inference(c) is c, noise.training(c, 0.0).shape
        (True, torch.Size([3, 2]))
    """

    def __init__(self, sd: float = 0.0, final: float | None = None, conditioned: bool = False, low: float = 0.001,
                 sample_level: float | None = None):
        self.sd, self.final, self.conditioned = float(sd), final, bool(conditioned)
        self.low, self.sample_level = low, sample_level
        if self.conditioned:
            if not 0 < low < self.sd:
                raise ValueError(f"y_noise_min: expected 0 < y_noise_min < y_noise ({sd!r}) with noise_conditioned, "
                                 f"got {low!r}")
            if sample_level is not None and not low <= sample_level <= self.sd:
                raise ValueError(f"y_noise_sample: expected a noise level in [y_noise_min, y_noise] = [{low!r}, "
                                 f"{sd!r}], got {sample_level!r}")

    @classmethod
    def from_options(cls, options: Mapping) -> ConditionNoise:
        """The noise of a model's options (absent ones: no noise, constant, not conditioned)."""
        return cls(options.get("y_noise") or 0.0, options.get("y_noise_final"),
                   bool(options.get("noise_conditioned")), options.get("y_noise_min", 0.001),
                   options.get("y_noise_sample"))

    @property
    def extra_features(self) -> int:
        """How many features the noise adds to the condition (1 with ``conditioned``, else 0)."""
        return 1 if self.conditioned else 0

    def level(self, progress: float = 1.0) -> float:
        """The constant or annealed level at ``progress`` (the fraction of training done)."""
        if self.final is None or self.sd <= 0:
            return self.sd
        return self.sd * (self.final / self.sd) ** progress

    def training(self, c: torch.Tensor, progress: float = 1.0) -> torch.Tensor:
        """The condition ``c (m, k)`` of a training batch, with its noise (and its level with ``conditioned``)."""
        if self.conditioned:
            lo, hi = math.log(self.low), math.log(self.sd)
            sigma = torch.exp(lo + (hi - lo) * torch.rand(len(c), 1, device=c.device))
            return self._told(c + sigma * torch.randn_like(c), sigma)
        sd = self.level(progress)
        return c + sd * torch.randn_like(c) if sd > 0 else c

    def inference(self, c: torch.Tensor) -> torch.Tensor:
        """The condition ``c (m, k)`` at inference: ``c`` itself, or with the level told to the network."""
        if not self.conditioned:
            return c
        level = self.low if self.sample_level is None else self.sample_level
        return self._told(c, torch.tensor(level, device=c.device))

    def _told(self, c: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return torch.cat([c, torch.log(sigma / self.sd).expand(len(c), 1).to(c)], -1)


class ConditionFeatures:
    """What a model reads of an observation ``y (m, y_dim)`` before it is standardised:

    - with ``features``: ``y`` and the problem's extra condition features
      (:meth:`innbench.problems.Problem.condition_features`, e.g. the distance to the arm's reach);
    - else with ``transform``: the problem's stretched observation coordinate
      (:meth:`innbench.problems.Problem.transform_observations`);
    - else ``y`` itself.

    Arguments:
        problem: the :class:`innbench.problems.Problem`.
        features: add the extra condition features (where the problem has any).
        transform: use the stretched coordinate (without ``features``).

    Example:
        >>> import torch
        >>> from innbench import get_problem
        >>> from innbench.models.parts import ConditionFeatures
        >>> kinematics = get_problem("kinematics")
        >>> f = ConditionFeatures(kinematics, features=True, transform=False)
        >>> f.dim, f(torch.tensor([[1.5, 0.0]])).shape
        (3, torch.Size([1, 3]))
    """

    def __init__(self, problem, features: bool, transform: bool):
        self.problem = problem
        self.features = bool(features)
        self.transform = bool(transform)

    @property
    def dim(self) -> int:
        """The number of values per observation."""
        return self.problem.y_dim + (self.problem.n_condition_features if self.features else 0)

    def __call__(self, y):
        if self.features and self.problem.n_condition_features:
            return torch.cat([y, self.problem.condition_features(y)], -1)
        if self.transform:
            return self.problem.transform_observations(y)
        return y


@dataclass
class Parts:
    """The parts around one model's inference network (:func:`build_parts`)."""

    #: parameters bounded on both sides to the real line
    bounded: LogitTransform
    #: noise on integer-valued parameters while training
    dequantize: Dequantize
    #: the standardisation of x after the logit
    x_scale: Standardize
    #: the observation as the model reads it
    features: ConditionFeatures
    #: the standardisation of the condition (before the summary network)
    c_scale: Standardize


def build_parts(problem, settings, *, name: str, conditional: bool, y_supervised: bool) -> Parts:
    """The parts of model ``name`` on ``problem`` with ``settings`` (its
    :class:`innbench.models.settings.ModelSettings`): the logit of bounded parameters (unless
    ``bounded_transform`` is None), dequantisation of integer parameters, the standardisation of x and of the
    condition, and the condition's features (``condition_features`` of a conditional model; the stretched
    coordinate for ``transform_observations`` of a y-supervised model and for a conditional model reading a
    series or set).

    Raises:
        ValueError: a y-supervised, unconditional model on a problem with series or set observations.

    Example:
        >>> from innbench import get_problem
        >>> from innbench.models import get_model_class
        >>> from innbench.models.parts import build_parts
        >>> cls = get_model_class("cinn")
        >>> parts = build_parts(get_problem("two_moons"), cls.Settings(), name="cinn", conditional=True,
        ...                     y_supervised=False)
        >>> parts.bounded.columns, parts.features.dim, parts.c_scale.mean.shape
        ([0, 1], 2, torch.Size([2]))
    """
    if problem.structured and not conditional and y_supervised:
        raise ValueError(f"model {name!r} predicts y itself and cannot read the {problem.observation_kind} "
                         f"observations of problem {problem.name!r}; use a conditional model (cinn, nsf, maf, "
                         "flow_matching, mdn, cvae), which reads them through a summary network")
    uses_features = conditional and bool(settings.condition_features)
    transforms_y = y_supervised and bool(settings.transform_observations)
    features = ConditionFeatures(problem, uses_features, transforms_y or (conditional and problem.structured))
    return Parts(bounded=LogitTransform.for_problem(problem, settings.bounded_transform == "logit"),
                 dequantize=Dequantize.for_problem(problem), x_scale=Standardize(problem.x_dim), features=features,
                 c_scale=Standardize(features.dim))
