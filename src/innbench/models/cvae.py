"""Conditional variational autoencoder (Sohn et al. 2015; Kruse et al. 2019, Eq. 8)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from .base import Model, ModelFacts
from .blocks import subnet
from .settings import ConditionalSettings

__all__ = ["ConditionalVAE"]


@dataclass(frozen=True)
class ConditionalVAESettings(ConditionalSettings):
    """The options of :class:`ConditionalVAE` (model ``cvae``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    hidden: int = 256
    layers: int = 4
    kl_weight: float = 0.05
    z_dim: int | None = None


class ConditionalVAE(Model):
    r"""Encoder ``q(z | x, y) = N(mu_z, diag sigma_z^2)`` and decoder ``x_hat = g(z, y)``.

    Loss (Eq. 8), per sample: ``||x - x_hat||^2 + alpha * KL(q(z|x,y) || N(0, I))`` with
    ``KL = -1/2 sum(1 + log sigma_z^2 - mu_z^2 - sigma_z^2)`` and ``alpha = kl_weight`` (default 0.05,
    i.e. a Gaussian decoder of variance ``alpha / 2`` in standardised units). Latent size
    ``dim(z) = dim(x) - dim(y)`` (the paper's 2 for kinematics, 3 for ballistics; ``dim(x)`` where
    ``dim(y) >= dim(x)``). Sampling:
    ``z ~ N(0, I)``, ``x = g(z, y*)`` (the decoder mean; no decoder noise is added). Not invertible,
    no tractable density.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        hidden: width of the encoder's and decoder's hidden layers (256); the width option a budget's
            ``params`` scales.
        layers: hidden layers of each (4).
        kl_weight: ``alpha``, the weight of the KL term (0.05).
        z_dim: the latent size (None: the paper's rule, :meth:`innbench.models.Model.latent_size`).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> cvae = build_model("cvae", "kinematics", hidden=32)
        >>> cvae.dim_z(), cvae.sample([[1.5, 0.0]], 5).shape
        (2, (1, 5, 4))
    """

    name = "cvae"
    title = "conditional VAE"
    conditional = True
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="Eq. 8")
    Settings = ConditionalVAESettings

    def build(self):
        p, c = self.problem, self.config
        self._dim_z = c["z_dim"] or self.latent_size()
        self.encoder = subnet(p.x_dim + self.cond_dim, 2 * self._dim_z, c["hidden"], c["layers"])
        self.decoder = subnet(self._dim_z + self.cond_dim, p.x_dim, c["hidden"], c["layers"])
        torch.nn.init.normal_(self.decoder[-1].weight, std=0.01)

    def dim_z(self):
        return self._dim_z

    def loss(self, x, y):
        mu, logvar = self.encoder(torch.cat([x, y], -1)).chunk(2, -1)
        logvar = logvar.clamp(-12.0, 6.0)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        x_hat = self.decoder(torch.cat([z, y], -1))
        rec = ((x - x_hat) ** 2).sum(-1).mean()
        kl = (-0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(-1)).mean()
        loss = rec + self.config["kl_weight"] * kl
        return loss, {"reconstruction": float(rec.detach()), "kl": float(kl.detach())}

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self._dim_z, generator=generator, device=y.device)
        x = self.decoder(torch.cat([z, y.repeat_interleave(n, 0)], -1))
        return x.reshape(m, n, -1)
