"""Autoencoder without a bottleneck, trained with Eq. 7 (Kruse et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch

from .base import Model, ModelFacts
from .blocks import subnet
from .losses import autoencoder_loss
from .settings import YSupervisedSettings

__all__ = ["Autoencoder"]


@dataclass(frozen=True)
class AutoencoderSettings(YSupervisedSettings):
    """The options of :class:`Autoencoder` (model ``autoencoder``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    hidden: int = 256
    layers: int = 4
    mmd_weight: float = 50.0
    reconstruction_weight: float = 1.0
    decode_from: Literal["y", "y_hat"] = "y"
    decode_noise: float = 0.01


class Autoencoder(Model):
    r"""Encoder ``x -> [y_hat, z]`` and decoder ``[y, z] -> x``, the encoding as wide as ``x``.

    Loss (Eq. 7) on a batch, with standardised ``x`` and ``y``:
    ``L = ||y_hat - y||^2 + alpha * MMD([z, y], [z', y]) + beta * ||x - dec([y_hat, z])||^2``,
    ``z' ~ N(0, I)``, ``alpha = mmd_weight`` (default 50), ``beta = reconstruction_weight`` (default 1); the
    MMD uses the lab's forward kernels (C, a) in {(0.2, 2), (1.5, 2), (3.0, 2)} on ``[z, y]`` so that ``z``
    becomes standard normal *and* independent of ``y``. Latent size ``dim(z) = dim(x) - dim(y)``
    (``dim(x)`` where ``dim(y) >= dim(x)``: then the encoding is wider than ``x``).
    Sampling: ``x = dec([y*, z])``, ``z ~ N(0, I)``. Only asymptotically invertible; no density.

    Defaults chosen on validation observations: docs/journal/recipes_in_code.md#autoencoder.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` (vector observations).
        hidden: width of the encoder's and decoder's hidden layers (256); the width option a budget's
            ``params`` scales.
        layers: hidden layers of each (4).
        mmd_weight: ``alpha``, the weight of the MMD on ``[z, y]`` (50).
        reconstruction_weight: ``beta``, the weight of the reconstruction (1).
        decode_from: ``"y"`` (decode the true observation plus noise) or ``"y_hat"`` (Eq. 7 as printed; see
            :func:`innbench.models.losses.autoencoder_loss`).
        decode_noise: standard deviation of the noise on the decoded ``y`` (0.01).
        transform_observations: predict the problem's stretched observation coordinate (True).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("autoencoder", "kinematics", hidden=32)
        >>> model.dim_z(), model.has_density
        (2, False)
        >>> model.sample([[1.5, 0.0]], 5).shape
        (1, 5, 4)
    """

    name = "autoencoder"
    title = "autoencoder"
    facts = ModelFacts(ml_loss=False, y_supervised=True, exact_inverse=False, density=False, equation="Eq. 7")
    Settings = AutoencoderSettings

    def build(self):
        p, c = self.problem, self.config
        self._dim_z = self.latent_size()
        self.encoder = subnet(p.x_dim, p.y_dim + self._dim_z, c["hidden"], c["layers"])
        self.decoder = subnet(p.y_dim + self._dim_z, p.x_dim, c["hidden"], c["layers"])
        torch.nn.init.normal_(self.encoder[-1].weight, std=0.01)
        torch.nn.init.normal_(self.decoder[-1].weight, std=0.01)

    def dim_z(self):
        return self._dim_z

    def loss(self, x, y):
        enc = self.encoder(x)
        c = self.config
        return autoencoder_loss(x, y, enc, self.decoder, self._dim_z, c["mmd_weight"], c["reconstruction_weight"],
                                c["decode_from"], c["decode_noise"])

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self._dim_z, generator=generator, device=y.device)
        return self.decoder(torch.cat([y.repeat_interleave(n, 0), z], -1)).reshape(m, n, -1)
