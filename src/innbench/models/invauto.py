"""Invertible autoencoder (Teng, Choromanska and Bojarski 2018), trained with Eq. 7 (Kruse et al. 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .base import Model, ModelFacts
from .losses import autoencoder_loss
from .settings import YSupervisedSettings, interval, positive, setting

__all__ = ["InvertibleAutoencoder"]




@dataclass(frozen=True)
class InvertibleAutoencoderSettings(YSupervisedSettings):
    """The options of :class:`InvertibleAutoencoder` (model ``invauto``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    blocks: int = 8
    hidden: int = 128
    slope: float = setting(0.5, check=interval(0, 1, "a leaky-ReLU slope", closed_hi=True))
    mmd_weight: float = 50.0
    reconstruction_weight: float = 1.0
    decode_from: Literal["y", "y_hat"] = "y"
    decode_noise: float = 0.05
    fit_weight: float = 1.0
    init: Literal["gaussian", "orthogonal"] = "gaussian"
    orthogonality_weight: float = 0.0
    lr_scale: float = setting(2.0, check=positive)


class InvertibleAutoencoder(Model):
    r"""Encoder ``h_{l+1} = act(W_l h_l + b_l)``, decoder ``h_l = W_l^T (act^{-1}(h_{l+1}) - b_l)``.

    The decoder reuses the encoder's weights transposed: it is the exact inverse once the square
    matrices ``W_l`` are orthogonal, which the cycle (reconstruction) loss drives them towards from a
    random initialisation. ``act`` is a leaky ReLU with slope ``slope`` (0.5; invertible).
    Architecture: ``x`` is zero-padded to ``hidden`` features (128); ``blocks`` (8) layers of size
    ``hidden x hidden``; the first ``dim(y)`` outputs are ``y_hat``, the next ``dim(z)`` are ``z``, the
    rest are supervised towards 0.

    Loss (Eq. 7), standardised units, averaged over the batch:
    ``||y_hat - y||^2 + ||rest||^2 + mmd_weight * MMD([z, y], [z', y]) + reconstruction_weight *
    ||x - dec(enc(x))||^2``, ``z' ~ N(0, I)``, weights 50 and 1, the lab's forward kernels. Latent size
    ``dim(z) = dim(x) - dim(y)``. Sampling: ``x = dec([y*, z, 0])``. Only asymptotically invertible; no
    density.

    Defaults chosen on validation observations, and the options tried and left off:
    docs/journal/recipes_in_code.md#invauto.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` (vector observations).
        blocks: layers of the encoder (8).
        hidden: their width (128); the width option a budget's ``params`` scales.
        slope: slope of the leaky ReLU for negative inputs (0.5).
        mmd_weight: weight of the MMD on ``[z, y]`` (50).
        reconstruction_weight: weight of the cycle loss (1).
        decode_from: ``"y"`` (decode the true observation plus noise) or ``"y_hat"`` (Eq. 7 as printed).
        decode_noise: standard deviation of the noise on the decoded ``y`` (0.05).
        transform_observations: predict the problem's stretched observation coordinate (True).
        fit_weight: weight of the forward fit (1).
        init: ``"gaussian"`` or ``"orthogonal"`` initial weights.
        orthogonality_weight: weight of a penalty ``||W W^T - I||_F^2 / width`` per layer (0: none).
        lr_scale: factor on the budget's learning rate (2.0).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("invauto", "kinematics", hidden=32)
        >>> model.dim_z(), model.facts.exact_inverse
        (2, False)
        >>> model.sample([[1.5, 0.0]], 5).shape
        (1, 5, 4)
    """

    name = "invauto"
    title = "invertible autoencoder"
    facts = ModelFacts(ml_loss=False, y_supervised=True, exact_inverse=False, density=False, equation="Eq. 7")
    Settings = InvertibleAutoencoderSettings

    def build(self):
        p, c = self.problem, self.config
        self._dim_z = self.latent_size()
        self.width = max(c["hidden"], p.x_dim, p.y_dim + self._dim_z)
        self.weights = nn.ParameterList(nn.Parameter(self._initial_weight(c["init"])) for _ in range(c["blocks"]))
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(self.width)) for _ in range(c["blocks"]))

    def _initial_weight(self, init):
        w = torch.randn(self.width, self.width)
        if init == "orthogonal":  # the decoder starts as the exact inverse
            return torch.linalg.qr(w)[0]
        return w / self.width**0.5  # orthogonal only on average: the cycle loss corrects it

    def dim_z(self):
        return self._dim_z

    def orthogonality_penalty(self):
        """Mean over layers of ``||W W^T - I||_F^2 / width``: zero exactly when every ``W`` is orthogonal,
        i.e. when the transposed-weight decoder is the exact inverse of the encoder."""
        eye = torch.eye(self.width, device=self.weights[0].device, dtype=self.weights[0].dtype)
        return torch.stack([((w @ w.T - eye) ** 2).sum() for w in self.weights]).mean() / self.width

    def _act(self, h, last):
        return h if last else F.leaky_relu(h, self.config["slope"])

    def _act_inv(self, h, last):
        return h if last else torch.where(h >= 0, h, h / self.config["slope"])

    def encode(self, x):
        h = F.pad(x, (0, self.width - x.shape[-1]))
        n = len(self.weights)
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = self._act(h @ w.T + b, i == n - 1)
        return h

    def decode(self, h):
        n = len(self.weights)
        for i in reversed(range(n)):
            h = (self._act_inv(h, i == n - 1) - self.biases[i]) @ self.weights[i]
        return h[:, : self.problem.x_dim]

    def loss(self, x, y):
        enc = self.encode(x)
        c = self.config
        loss, parts = autoencoder_loss(x, y, enc, self.decode, self._dim_z, c["mmd_weight"], c["reconstruction_weight"],
                                       c["decode_from"], c["decode_noise"], c["fit_weight"])
        if c["orthogonality_weight"] > 0:
            ortho = self.orthogonality_penalty()
            loss = loss + c["orthogonality_weight"] * ortho
            parts["orthogonality"] = float(ortho.detach())
        return loss, parts

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self._dim_z, generator=generator, device=y.device)
        rest = torch.zeros(m * n, self.width - self.problem.y_dim - self._dim_z, device=y.device)
        return self.decode(torch.cat([y.repeat_interleave(n, 0), z, rest], -1)).reshape(m, n, -1)
