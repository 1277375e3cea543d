"""Consistency model posterior estimation (CMPE; Schmitt et al. 2023): consistency training (Song et al. 2023)
with the improved techniques of Song & Dhariwal (2023), sampling in one or a few network evaluations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from .base import Model, ModelFacts
from .blocks import mlp, time_embedding, time_frequencies
from .settings import ConditionalSettings, positive, setting

__all__ = ["Consistency"]

#: the data's standard deviation in the consistency function's parameterisation: x is standardised
SIGMA_DATA = 1.0
#: the spacing exponent of the Karras et al. (2022) noise levels
RHO = 7.0


@dataclass(frozen=True)
class ConsistencySettings(ConditionalSettings):
    """The options of :class:`Consistency` (model ``cmpe``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    hidden: int = 256
    layers: int = 4
    time_features: int = 8
    steps: int = 3
    sigma_min: float = setting(0.002, check=positive)
    sigma_max: float = setting(80.0, check=positive)
    p_mean: float = -1.1
    p_std: float = setting(2.0, check=positive)
    levels_min: int = 10
    levels_max: int = 160
    distance: Literal["pseudo_huber", "squared"] = "pseudo_huber"
    curriculum_steps: int = 10_000

    def __post_init__(self):
        super().__post_init__()
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max: expected a number above sigma_min ({self.sigma_min!r}), "
                             f"got {self.sigma_max!r}")
        if self.levels_max < self.levels_min:
            raise ValueError(f"levels_max: expected at least levels_min ({self.levels_min!r}), "
                             f"got {self.levels_max!r}")


class Consistency(Model):
    r"""A consistency function ``f(x_sigma, sigma; y)`` that maps a noised parameter vector straight to a draw of
    ``p(x | y)``: consistency model posterior estimation (CMPE).

    Parameterisation (EDM, Karras et al. 2022): ``f = c_skip(sigma) x_sigma + c_out(sigma) F(c_in(sigma)
    x_sigma, y, sin/cos embedding of u)`` with ``c_skip = 1 / ((sigma - sigma_min)^2 + 1)``, ``c_out = (sigma -
    sigma_min) / sqrt(sigma^2 + 1)``, ``c_in = 1 / sqrt(sigma^2 + 1)`` (the data's standard deviation is 1 on
    standardised ``x``) and ``u = log(sigma / sigma_min) / log(sigma_max / sigma_min)``, so ``f(x, sigma_min) =
    x`` exactly. ``F``: an MLP of ``layers`` (4) hidden layers of width ``hidden`` (256), SiLU. Noise levels
    from ``sigma_min`` 0.002 to ``sigma_max`` 80 in standardised units.

    Training (consistency training with Song & Dhariwal's improvements, no teacher and no EMA): noise levels
    ``sigma_1 < ... < sigma_N`` spaced as Karras et al. with ``rho = 7``; the number of intervals ``N - 1``
    doubles from ``levels_min`` (10) to ``levels_max`` (160) in equal stages of training (the discretisation
    curriculum ``N(k)``); a pair of adjacent levels ``(sigma_i, sigma_i+1)`` is drawn with probability
    ``erf((log sigma_i+1 - p_mean) / (sqrt(2) p_std)) - erf((log sigma_i - p_mean) / (sqrt(2) p_std))``
    (``p_mean`` -1.1, ``p_std`` 2); with one ``z ~ N(0, I)`` the loss is ``d(f(x + sigma_i+1 z, sigma_i+1),
    sg(f(x + sigma_i z, sigma_i))) / (sigma_i+1 - sigma_i)``, ``sg`` the stop-gradient and ``d`` the
    pseudo-Huber distance ``sqrt(||a - b||^2 + c^2) - c``, ``c = 0.00054 sqrt(dim(x))`` (``distance``
    ``"squared"``: ``||a - b||^2``), averaged over the batch. The condition is the observation plus the
    problem's condition features with training noise ``y_noise`` (0.01), as for the cINN. The curriculum
    follows the fixed budget's progress (:func:`innbench.training.fit`); where the trainer tells none (early
    stopping, :func:`innbench.simbudget.fit_simulations`) it follows a step counter the model keeps (the
    buffer ``ct_steps``, counting the losses computed with gradients in training mode) over
    ``curriculum_steps`` (10,000) optimiser steps. A loss computed without gradients (a validation loss) uses
    the final ``levels_max`` intervals, so that early stopping compares epochs on one objective.

    Sampling (multistep consistency sampling, Song et al. 2023, Algorithm 1): ``x = f(sigma_max z, sigma_max)``,
    then for each further level ``tau`` re-noise ``x + sqrt(tau^2 - sigma_min^2) z'`` and map it back with
    ``f``; ``steps`` (3) network evaluations at the first ``steps`` of ``steps + 1`` Karras levels from
    ``sigma_max`` to ``sigma_min`` (for 2 steps: 80, then 2.5; a second level of 0.4 to 0.8 scored 0.02
    better). Deterministic given the generator. Latent size ``dim(z) = dim(x)`` (the first noise); no inverse
    and no density.

    Chosen on two moons at 10,000 simulations (C2ST on three simulated observations, 10,000 draws): one step
    scored 0.96 to 0.99 in every run, two 0.76 to 0.82, three 0.74 to 0.79 (four no better than three), hence 3;
    EDM's own ``sigma_max`` 80 and ``p_mean`` -1.1 beat them scaled to unit data (160 and -0.4: 0.81 to 0.89
    for two steps); 50 instead of 160 final intervals, a curriculum of 2,000 instead of 10,000 steps and the
    squared distance changed little (within 0.02).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        hidden: width of the MLP (256); the width option a budget's ``params`` scales.
        layers: hidden layers of the MLP (4).
        time_features: sine / cosine features of the noise level (8).
        steps: network evaluations of the sampler (3: chosen below).
        sigma_min: the smallest noise level, standardised units (0.002).
        sigma_max: the largest noise level, standardised units (80).
        p_mean: mean of the log noise level that training draws (-1.1).
        p_std: standard deviation of the log noise level that training draws (2).
        levels_min: noise intervals at the start of the curriculum (10).
        levels_max: noise intervals at its end (160).
        distance: ``"pseudo_huber"`` or ``"squared"``, the distance between the two outputs of the loss.
        curriculum_steps: optimiser steps of the curriculum where the trainer does not tell its progress (10,000).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> cm = build_model("cmpe", "kinematics", hidden=32, steps=1)
        >>> cm.sample([[1.5, 0.0]], 5).shape, cm.has_density
        ((1, 5, 4), False)
    """

    name = "cmpe"
    title = "consistency model posterior estimation"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="CT")
    conditional = True
    Settings = ConsistencySettings
    sampling_options = ("steps",)

    def build(self):
        c = self.config
        d = self.problem.x_dim
        self.register_buffer("freqs", time_frequencies(c["time_features"]))
        #: optimiser steps trained so far (the curriculum's clock where the trainer tells no progress)
        self.register_buffer("ct_steps", torch.zeros((), dtype=torch.long))
        self.net = mlp(d + self.cond_dim + 2 * len(self.freqs), d, c["hidden"], c["layers"])

    def dim_z(self):
        return self.problem.x_dim

    def levels(self, n: int, device=None) -> torch.Tensor:
        """``n`` noise levels from ``sigma_min`` up to ``sigma_max``, spaced as Karras et al. (``rho = 7``)."""
        lo, hi = self.config["sigma_min"] ** (1 / RHO), self.config["sigma_max"] ** (1 / RHO)
        u = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
        return ((lo + u * (hi - lo)) ** RHO).to(device=device, dtype=torch.float32)

    def consistency(self, x: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """``f(x, sigma; y)`` for noised ``x (b, d)`` at noise levels ``sigma (b,)``."""
        c = self.config
        s_min = c["sigma_min"]
        s = sigma[:, None]
        c_skip = SIGMA_DATA**2 / ((s - s_min) ** 2 + SIGMA_DATA**2)
        c_out = SIGMA_DATA * (s - s_min) / torch.sqrt(s**2 + SIGMA_DATA**2)
        c_in = 1.0 / torch.sqrt(s**2 + SIGMA_DATA**2)
        u = torch.log(s / s_min) / math.log(c["sigma_max"] / s_min)
        return c_skip * x + c_out * self.net(torch.cat([c_in * x, y, time_embedding(u, self.freqs)], -1))

    def curriculum(self) -> float:
        """How far the discretisation curriculum is, in ``[0, 1]``: the fixed budget's progress while it runs,
        else the model's step count over ``curriculum_steps``."""
        if self.progress < 1.0:
            return float(self.progress)
        return min(1.0, int(self.ct_steps) / self.config["curriculum_steps"])

    def intervals(self) -> int:
        """The number of noise intervals ``N - 1`` now (Song & Dhariwal's ``N(k)``: doubling from ``levels_min``
        to ``levels_max`` in equal stages)."""
        s0, s1 = self.config["levels_min"], self.config["levels_max"]
        stages = math.floor(math.log2(s1 / s0)) + 1
        return int(min(s0 * 2 ** math.floor(self.curriculum() * stages), s1))

    def loss(self, x, y):
        c = self.config
        training = torch.is_grad_enabled()  # without gradients: a validation loss, on the final discretisation
        sig = self.levels((self.intervals() if training else c["levels_max"]) + 1, x.device)
        cdf = torch.erf((torch.log(sig) - c["p_mean"]) / (math.sqrt(2.0) * c["p_std"]))
        i = torch.multinomial(cdf[1:] - cdf[:-1], len(x), replacement=True)
        lo, hi = sig[i], sig[i + 1]
        z = torch.randn_like(x)
        with torch.no_grad():
            target = self.consistency(x + lo[:, None] * z, lo, y)
        out = self.consistency(x + hi[:, None] * z, hi, y)
        sq = ((out - target) ** 2).sum(-1)
        if c["distance"] == "pseudo_huber":
            h = 0.00054 * math.sqrt(x.shape[-1])
            dist = torch.sqrt(sq + h**2) - h
        else:
            dist = sq
        loss = (dist / (hi - lo)).mean()
        if self.training and training:
            self.ct_steps += 1
        return loss, {"ct": float(loss.detach())}

    def sample_standardized(self, y, n, generator):
        c = self.config
        m, d = len(y), self.problem.x_dim
        yy = y.repeat_interleave(n, 0)
        taus = self.levels(int(c["steps"]) + 1, y.device).flip(0)[:-1].tolist()
        x = taus[0] * torch.randn(m * n, d, generator=generator, device=y.device)
        for k, tau in enumerate(taus):
            if k:
                noise = torch.randn(m * n, d, generator=generator, device=y.device)
                x = x + math.sqrt(tau**2 - c["sigma_min"] ** 2) * noise
            x = self.consistency(x, torch.full((m * n,), tau, device=y.device), yy)
        return x.reshape(m, n, -1)
