"""Conditional INN (Kruse et al. 2019, Eq. 5; Ardizzone et al. 2019, "Guided image generation with cINNs")."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .base import Model, ModelFacts
from .blocks import PERMUTATIONS, CouplingSettings, InvertibleSequence
from .settings import ConditionalSettings, positive, setting

__all__ = ["ConditionalINN"]


@dataclass(frozen=True)
class ConditionalINNSettings(ConditionalSettings, CouplingSettings):
    """The options of :class:`ConditionalINN` (model ``cinn``), each documented in its docstring's Args."""

    permutation: str = setting("random", choices=PERMUTATIONS)
    y_noise_final: float | None = None
    noise_conditioned: bool = False
    y_noise_min: float = 0.001
    y_noise_sample: float | None = None
    lr_scale: float = setting(2.0, check=positive)


class ConditionalINN(Model):
    r"""Conditional invertible network ``z = f(x; y)`` trained by maximum likelihood.

    Architecture: ``blocks`` GLOW-style affine coupling blocks (:class:`AffineCouplingBlock`), the
    standardised observation fed to every subnetwork, scales soft-clamped at ``clamp``, a fixed random
    permutation after each block. Problems with a single parameter are padded with one standard
    normal dimension (dropped when sampling).

    Loss (Eq. 5), per sample and divided by ``dim(x)``:
    ``L = 1/2 ||z||^2 - log|det J_{x -> z}|``. During training the condition gets Gaussian noise of
    standard deviation ``y_noise`` (in standardised units) to smooth the conditional density: the
    posterior of a deterministic forward process is concentrated on a lower-dimensional set, where the
    likelihood has no finite optimum. With ``condition_features`` the condition also holds the
    problem's :meth:`innbench.problems.Problem.condition_features` (kinematics: distance to the reach).

    Latent size: ``dim(z) = dim(x)``. Posterior sampling: ``x = f^{-1}(z; y*)``, ``z ~ N(0, I)``.
    Exact inverse, exact density.

    Defaults chosen on validation observations: docs/journal/recipes_in_code.md#cinn (also the measurements
    behind ``noise_conditioned`` staying off). The condition noise is the part
    :class:`innbench.models.parts.ConditionNoise`, built from the ``y_noise*`` options.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        blocks: coupling blocks (10).
        hidden: width of the subnetworks (128); the width option a budget's ``params`` scales.
        layers: hidden layers per subnetwork (3).
        clamp: soft clamp of the log scales (2.0).
        activation: the subnetworks' activation (``"silu"``).
        permutation: the fixed mixing after each block, ``"random"`` (a permutation) or ``"orthogonal"``.
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        y_noise_final: anneal the noise to this level over training (None: constant).
        noise_conditioned: each training pair gets its own noise level ``sigma``, log-uniform in
            ``[y_noise_min, y_noise]``, and the network is told ``log(sigma / y_noise)`` as one more condition
            feature; sampling uses ``y_noise_sample`` (default ``y_noise_min``), so one trained network offers
            the whole Err_post / Err_resim trade and the level can be chosen after training (off).
        y_noise_min: the lowest noise level with ``noise_conditioned`` (0.001).
        y_noise_sample: the noise level told to the network when sampling, with ``noise_conditioned``.
        lr_scale: factor on the budget's learning rate (2.0).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> cinn = build_model("cinn", "kinematics", blocks=4, seed=0)
        >>> cinn.dim_z(), cinn.has_density
        (4, True)
        >>> x = cinn.sample([[1.5, 0.0]], 5)
        >>> x.shape, cinn.log_prob(x[0], [[1.5, 0.0]]).shape
        ((1, 5, 4), (5,))
    """

    name = "cinn"
    title = "conditional INN"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=True, density=True, equation="Eq. 5")
    conditional = True
    Settings = ConditionalINNSettings
    sampling_options = ("y_noise_sample",)

    def build(self):
        c = self.config
        self.dim = max(2, self.problem.x_dim)
        self.net = InvertibleSequence(self.dim, self.cond_dim, c["blocks"], c["hidden"], c["layers"],
                                      c["clamp"], seed=c["seed"], activation=c["activation"],
                                      permutation=c["permutation"])

    def dim_z(self):
        return self.problem.x_dim

    def _pad(self, x):
        if self.dim == x.shape[-1]:
            return x
        return torch.cat([x, torch.randn(*x.shape[:-1], self.dim - x.shape[-1], device=x.device)], -1)

    def log_prob_standardized(self, x, y):
        xp = self._pad(x)
        z, logdet = self.net(xp, y)
        lp = -0.5 * (z**2).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi) + logdet
        if self.dim > x.shape[-1]:  # the padding dimension is standard normal noise: divide its density out
            pad = xp[..., x.shape[-1] :]
            lp = lp + 0.5 * (pad**2).sum(-1) + 0.5 * pad.shape[-1] * math.log(2 * math.pi)
        return lp

    def loss(self, x, y):
        z, logdet = self.net(self._pad(x), y)
        nll = (0.5 * (z**2).sum(-1) - logdet).mean() / self.dim
        return nll, {"nll": float(nll.detach())}

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self.dim, generator=generator, device=y.device)
        c = y.repeat_interleave(n, 0)
        x, _ = self.net(z, c, rev=True)
        return x[:, : self.problem.x_dim].reshape(m, n, -1)
