"""Neural posterior score estimation (Sharrock et al. 2022; Geffner et al. 2023): a conditional diffusion model
whose probability-flow ODE samples the posterior and gives its density."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from .base import Model, ModelFacts
from .blocks import mlp, time_embedding, time_frequencies
from .settings import ConditionalSettings, interval, positive, setting

__all__ = ["ScoreBased"]


@dataclass(frozen=True)
class ScoreBasedSettings(ConditionalSettings):
    """The options of :class:`ScoreBased` (model ``npse``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    sde: Literal["vp", "ve"] = "ve"
    hidden: int = 256
    layers: int = 4
    time_features: int = 8
    steps: int = 32
    density_steps: int = 128
    beta_min: float = setting(0.1, check=positive)
    beta_max: float = setting(20.0, check=positive)
    sigma_min: float = setting(0.01, check=positive)
    sigma_max: float = setting(10.0, check=positive)
    t_min: float = setting(0.001, check=interval(0.0, 1.0, "a time"))

    def __post_init__(self):
        super().__post_init__()
        if self.beta_max <= self.beta_min:
            raise ValueError(f"beta_max: expected a number above beta_min ({self.beta_min!r}), got {self.beta_max!r}")
        if self.sigma_max <= self.sigma_min:
            raise ValueError(f"sigma_max: expected a number above sigma_min ({self.sigma_min!r}), "
                             f"got {self.sigma_max!r}")


class ScoreBased(Model):
    r"""A noise predictor ``eps(x_t, t; y)`` of a diffusion over ``x``, whose probability-flow ODE carries the
    diffusion's prior to ``p(x | y)`` (neural posterior score estimation, NPSE).

    Diffusion: ``x_t = alpha(t) x + sigma(t) z``, ``z ~ N(0, I)``, ``t`` in ``[t_min, 1]``, on standardised
    ``x``. ``sde="vp"`` (variance preserving): ``alpha = exp(-t^2 (beta_max - beta_min) / 4 - t beta_min / 2)``,
    ``sigma^2 = 1 - alpha^2`` (``beta`` from 0.1 to 20), prior ``N(0, I)``; ``sde="ve"`` (variance
    exploding): ``alpha = 1``, ``sigma = sigma_min (sigma_max / sigma_min)^t`` (0.01 to 10), prior
    ``N(0, sigma_max^2 I)``. The score is ``-eps / sigma(t)``.

    Training (denoising score matching, the noise parameterisation): ``t ~ U(t_min, 1)`` (``t_min`` 1e-3), loss
    ``||eps(x_t, t; y) - z||^2`` averaged over the batch and divided by ``dim(x)`` (the score-matching loss
    weighted by ``lambda(t) = sigma(t)^2``). The condition is the observation plus the problem's condition
    features with training noise ``y_noise`` (0.01), as for the cINN. Network: an MLP of ``layers`` (4)
    hidden layers of width ``hidden`` (256), SiLU, on ``[x_t / sqrt(alpha^2 + sigma^2), y, sin/cos embedding
    of t]`` (``time_features`` 8).

    Sampling integrates the probability-flow ODE from ``t = 1`` to ``t_min``, written (as in DDIM and EDM) in
    the noise-to-signal ratio ``r = sigma / alpha`` and ``u = x / alpha``: ``du / dr = eps(alpha u, t(r); y)``,
    with ``steps`` (32) Heun steps (two network evaluations each) on a grid of ``r`` spaced as Karras et al.
    (2022) with ``rho = 7``; deterministic given the initial noise. The density ``log_prob`` integrates the
    same ODE upwards from ``x`` in ``density_steps`` (128) Heun steps on the same kind of grid, with the
    instantaneous change of variables (the exact divergence of ``eps``, one backward pass per dimension of
    ``x``) and the prior's density at the end. The density needs finer steps than the draws: on a 2-D Gaussian
    posterior ``exp(log_prob)`` integrated to 1.11 / 1.03 / 1.007 with 32 / 64 / 128 steps for VP (VE:
    1.022 / 1.006 / 1.001), while the draws' mean and spread had settled at 32. Latent size
    ``dim(z) = dim(x)``; invertible by integrating upwards (up to the solver's error).

    Chosen on two moons at 10,000 simulations (C2ST on three simulated observations, 10,000 draws): 32 steps
    came within 0.01 of 64 (VP 0.807 / 0.807, VE 0.582 / 0.581), 16 steps were 0.01 to 0.04 worse, 8 steps
    0.1 to 0.24; VE with ``sigma_max`` 10, 20 and 50 scored 0.58, 0.62 and 0.60, VP 0.81 (``t_min`` 1e-5: 0.79).
    VP trains uniformly in ``t``, so few of its draws fall on the small noise levels where two moons' thin
    crescents are learned; VE's log-uniform levels put a third of them below 0.1. Hence ``sde="ve"``.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        sde: ``"ve"`` (variance exploding, the default: chosen below) or ``"vp"`` (variance preserving).
        hidden: width of the MLP (256); the width option a budget's ``params`` scales.
        layers: hidden layers of the MLP (4).
        time_features: sine / cosine features of ``t`` (8).
        steps: Heun steps of the probability-flow ODE for sampling (32).
        density_steps: Heun steps of the probability-flow ODE for ``log_prob`` (128).
        beta_min: the VP diffusion's noise rate at ``t = 0`` (0.1).
        beta_max: the VP diffusion's noise rate at ``t = 1`` (20).
        sigma_min: the VE diffusion's noise at ``t = 0``, standardised units (0.01).
        sigma_max: the VE diffusion's noise at ``t = 1``, standardised units (10).
        t_min: the smallest time trained and where the sampler stops (1e-3).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> npse = build_model("npse", "kinematics", hidden=32, steps=4)
        >>> npse.sample([[1.5, 0.0]], 5).shape, npse.has_density
        ((1, 5, 4), True)
    """

    name = "npse"
    title = "score-based posterior estimation"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=True, equation="DSM")
    conditional = True
    Settings = ScoreBasedSettings
    sampling_options = ("steps", "density_steps")

    def build(self):
        c = self.config
        d = self.problem.x_dim
        self.register_buffer("freqs", time_frequencies(c["time_features"]))
        self.net = mlp(d + self.cond_dim + 2 * len(self.freqs), d, c["hidden"], c["layers"])

    def dim_z(self):
        return self.problem.x_dim

    # -- the diffusion --------------------------------------------------------------------------
    def log_alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``log alpha(t)`` and ``sigma(t)`` of the diffusion at times ``t``."""
        c = self.config
        if c["sde"] == "vp":
            log_alpha = -0.25 * t**2 * (c["beta_max"] - c["beta_min"]) - 0.5 * t * c["beta_min"]
            return log_alpha, torch.sqrt(-torch.expm1(2 * log_alpha))
        return torch.zeros_like(t), c["sigma_min"] * (c["sigma_max"] / c["sigma_min"]) ** t

    def time_of_ratio(self, r: torch.Tensor) -> torch.Tensor:
        """The time ``t`` at which the noise-to-signal ratio ``sigma(t) / alpha(t)`` is ``r`` (the inverse of the
        schedule: a quadratic's root for VP, a logarithm for VE)."""
        c = self.config
        if c["sde"] == "vp":
            db, b0 = c["beta_max"] - c["beta_min"], c["beta_min"]
            return (torch.sqrt(b0**2 + 2 * db * torch.log1p(r**2)) - b0) / db
        return torch.log(r / c["sigma_min"]) / math.log(c["sigma_max"] / c["sigma_min"])

    def ratio(self, t: float) -> float:
        """The noise-to-signal ratio ``sigma(t) / alpha(t)`` at one time ``t``."""
        log_alpha, sigma = self.log_alpha_sigma(torch.tensor(float(t), dtype=torch.float64))
        return float(sigma / log_alpha.exp())

    def noise(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The network's noise prediction ``eps(x_t, t; y)`` for noised ``x (b, d)`` at times ``t (b,)``."""
        log_alpha, sigma = self.log_alpha_sigma(t)
        scale = torch.rsqrt(torch.exp(2 * log_alpha) + sigma**2)[:, None]  # unit variance in, as x_t has for VP
        return self.net(torch.cat([x * scale, y, time_embedding(t[:, None], self.freqs)], -1))

    def loss(self, x, y):
        t_min = self.config["t_min"]
        z = torch.randn_like(x)
        t = t_min + (1 - t_min) * torch.rand(len(x), device=x.device)
        log_alpha, sigma = self.log_alpha_sigma(t)
        xt = log_alpha.exp()[:, None] * x + sigma[:, None] * z
        loss = ((self.noise(xt, t, y) - z) ** 2).sum(-1).mean() / x.shape[-1]
        return loss, {"dsm": float(loss.detach())}

    # -- the probability-flow ODE ---------------------------------------------------------------
    def ratio_grid(self, device, steps: int | None = None) -> torch.Tensor:
        """The ``steps + 1`` noise-to-signal ratios the solver visits (None: the ``steps`` option), from ``r(1)``
        down to ``r(t_min)`` (Karras et al. 2022, ``rho = 7``)."""
        rho = 7.0
        lo, hi = self.ratio(self.config["t_min"]) ** (1 / rho), self.ratio(1.0) ** (1 / rho)
        steps = int(self.config["steps"] if steps is None else steps)
        u = torch.linspace(0.0, 1.0, steps + 1, dtype=torch.float64)
        return ((hi + u * (lo - hi)) ** rho).to(device=device, dtype=torch.float32)

    def drift(self, u: torch.Tensor, r: float, y: torch.Tensor) -> torch.Tensor:
        """``du / dr`` of the probability-flow ODE in ``u = x / alpha`` at ratio ``r``: the predicted noise."""
        t = self.time_of_ratio(torch.full((len(u),), float(r), device=u.device))
        log_alpha, _ = self.log_alpha_sigma(t)
        return self.noise(log_alpha.exp()[:, None] * u, t, y)

    def prior_scale(self) -> float:
        """The standard deviation of the diffusion's prior at ``t = 1``: 1 (VP) or ``sigma_max`` (VE)."""
        return 1.0 if self.config["sde"] == "vp" else float(self.config["sigma_max"])

    def log_alpha(self, t: float) -> float:
        """``log alpha(t)`` at one time ``t``."""
        return float(self.log_alpha_sigma(torch.tensor(float(t), dtype=torch.float64))[0])

    def integrate(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Heun integration of the probability-flow ODE from ``x`` at ``t = 1`` to ``t_min``."""
        grid = self.ratio_grid(x.device).tolist()
        u = x * math.exp(-self.log_alpha(1.0))
        for r, r_next in zip(grid[:-1], grid[1:], strict=True):
            h = r_next - r
            d = self.drift(u, r, y)
            trial = u + h * d
            u = u + 0.5 * h * (d + self.drift(trial, r_next, y))
        return u * math.exp(self.log_alpha(self.config["t_min"]))

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self.problem.x_dim, generator=generator, device=y.device)
        return self.integrate(self.prior_scale() * z, y.repeat_interleave(n, 0)).reshape(m, n, -1)

    def _drift_and_divergence(self, u: torch.Tensor, r: float, y: torch.Tensor):
        """The drift at ``u`` and its exact divergence (one backward pass per dimension of ``x``)."""
        u = u.detach().requires_grad_(True)
        d = self.drift(u, r, y)
        div = torch.zeros(len(u), device=u.device)
        for i in range(u.shape[-1]):
            div = div + torch.autograd.grad(d[:, i].sum(), u, retain_graph=i < u.shape[-1] - 1)[0][:, i]
        return d.detach(), div

    def log_prob_standardized(self, x, c):
        """The log density of standardised ``x`` given conditions ``c``: the probability-flow ODE from ``t_min`` up
        to ``t = 1`` with the instantaneous change of variables (``density_steps`` Heun steps, upwards)."""
        d = x.shape[-1]
        # autograd inside Model.log_prob's inference mode: ordinary tensors, with gradients switched on
        with torch.inference_mode(False), torch.enable_grad():
            x, c = x.clone(), c.clone()
            grid = self.ratio_grid(x.device, self.config["density_steps"]).flip(0).tolist()
            la_min, la_one = self.log_alpha(self.config["t_min"]), self.log_alpha(1.0)
            u = x * math.exp(-la_min)
            total = torch.zeros(len(x), device=x.device)
            for r, r_next in zip(grid[:-1], grid[1:], strict=True):
                h = r_next - r
                drift, div = self._drift_and_divergence(u, r, c)
                trial = u + h * drift
                drift2, div2 = self._drift_and_divergence(trial, r_next, c)
                u = u + 0.5 * h * (drift + drift2)
                total = total + 0.5 * h * (div + div2)
            s = self.prior_scale()
            end = u * math.exp(la_one)  # x at t = 1, under the prior N(0, s^2 I)
            log_prior = -0.5 * (end**2).sum(-1) / s**2 - d * math.log(s) - 0.5 * d * math.log(2 * math.pi)
            # u = x / alpha: the prior's density in u at t = 1, and back to x at t_min
            lp = log_prior + d * la_one + total - d * la_min
        return lp.detach()
