"""INN trained with supervised L2 and MMD losses (Kruse et al. 2019, Eq. 3; Ardizzone et al., ICLR 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from .base import ModelFacts
from .blocks import CouplingSettings
from .inn import INN
from .losses import BACKWARD_MMD_KERNELS, FORWARD_MMD_KERNELS, mmd_loss, observation_weights
from .settings import YSupervisedSettings

__all__ = ["INNMMD"]


@dataclass(frozen=True)
class INNMMDSettings(YSupervisedSettings, CouplingSettings):
    """The options of :class:`INNMMD` (model ``inn_mmd``), each documented in its docstring's Args."""

    pad_noise: float = 0.01
    y_noise: float = 0.05
    fit_weight: float = 1.0
    mmd_forward_weight: float = 50.0
    mmd_backward_weight: float = 500.0
    reconstruction_weight: float = 1.0
    decode_from: Literal["y", "y_hat"] = "y"
    backward_y_width: float = 0.3
    z_dim: int | None = None


class INNMMD(INN):
    r"""The bidirectionally trained INN of the ICLR 2019 paper: ``[y, z] = f(x)``, no likelihood.

    Same invertible network, latent size (``dim(z) = dim(x) - dim(y)``) and zero-padding convention as
    :class:`innbench.models.inn.INN`; input padding with Gaussian noise of standard deviation
    ``pad_noise`` (0.01). All terms on standardised ``x`` and ``y``, averaged over the batch:

    - ``fit_weight * ||y_hat - y||^2`` (1): supervised forward fit, plus the same weight on the padding
      outputs towards 0 (Eq. 3's L2 term);
    - ``mmd_forward_weight * MMD([z, y], [z', y])`` (50), ``z' ~ N(0, I)``, lab's forward kernels
      (C, a) in {(0.2, 2), (1.5, 2), (3, 2)}; the model's ``y_hat`` is detached in the first argument so
      that the term shapes ``z`` only (Eq. 3's MMD term);
    - ``mmd_backward_weight * ramp * MMD(x, f^{-1}([y + eps, z', 0]))`` (500), ``eps ~ N(0, y_noise^2)``
      with ``y_noise`` 0.05, Err_post's kernels; ``ramp`` rises as ``min(1, 2 * 0.002^(1 - p))`` over
      the training fraction ``p`` (the ICLR code's warm-up). With ``backward_y_width`` (0.3, standardised
      units of the condition) the pairwise terms are weighted by ``exp(-|y_i - y_j|^2 / (2 * 0.3^2))``
      (:func:`innbench.models.losses.observation_weights`, the ICLR code's ``mmd_back_weighted``), so the
      term compares the generated and true ``x`` of *nearby observations*, a conditional rather than a
      marginal match; ``None`` switches the weighting off;
    - ``reconstruction_weight * ||x - f^{-1}([y + eps, z + eps_z, 0])||^2`` (1), with
      ``eps_z ~ N(0, y_noise^2)``: the inverse of the *true* observation and the encoded ``z``, both
      perturbed, must give back ``x``. This ties ``y_hat`` to ``y`` far more tightly than the fit term
      alone; ``decode_from="y_hat"`` decodes ``[y_hat + eps, z + eps_z, 0]`` instead (the ICLR code's
      reconstruction, which decodes its own detached output), which only asks for a stable inverse.

    Posterior sampling as for the ML-trained INN: ``x = f^{-1}([y*, z, 0])``, ``z ~ N(0, I)``.
    Exact inverse; no density (the loss does not train one).

    Defaults chosen on validation observations: docs/journal/recipes_in_code.md#inn_mmd.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` (vector observations).
        blocks: coupling blocks (10).
        hidden: width of the subnetworks (128); the width option a budget's ``params`` scales.
        layers: hidden layers per subnetwork (3).
        clamp: soft clamp of the log scales (2.0).
        activation: the subnetworks' activation (``"silu"``).
        pad_noise: standard deviation of the noise padding the input (0.01).
        y_noise: standard deviation of the noise on ``y`` (and ``z``) in the backward terms (0.05).
        fit_weight: weight of the supervised forward fit (1).
        mmd_forward_weight: weight of the MMD on ``[z, y]`` (50).
        mmd_backward_weight: weight of the MMD on ``x`` (500), ramped up over training.
        reconstruction_weight: weight of the reconstruction term (1).
        decode_from: ``"y"`` (the true observation) or ``"y_hat"`` (the ICLR code's) in the reconstruction.
        backward_y_width: width of the observation weighting of the backward MMD (0.3; None: unweighted).
        z_dim: the latent size (None: the paper's rule).
        transform_observations: predict the problem's stretched observation coordinate (True).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("inn_mmd", "kinematics", blocks=2, hidden=32)
        >>> model.facts.ml_loss, model.has_density, model.dim_z()
        (False, False, 2)
        >>> model.sample([[1.5, 0.0]], 5).shape
        (1, 5, 4)
    """

    name = "inn_mmd"
    title = "INN (L2 + MMD)"
    facts = ModelFacts(ml_loss=False, y_supervised=True, exact_inverse=True, density=False, equation="Eq. 3")
    Settings = INNMMDSettings

    def backward_ramp(self) -> float:
        return min(1.0, 2.0 * 0.002 ** (1.0 - self.progress))

    def loss(self, x, y):
        c = self.config
        yd, zd = self.problem.y_dim, self._dim_z
        xp = self._pad_x(x)
        out, _ = self.net(xp)
        y_hat, z, pad = out[:, :yd], out[:, yd : yd + zd], out[:, yd + zd :]
        fit = ((y_hat - y) ** 2).sum(-1).mean() + (pad**2).sum(-1).mean()
        fwd = mmd_loss(torch.cat([z, y_hat.detach()], -1), torch.cat([torch.randn_like(z), y], -1),
                       FORWARD_MMD_KERNELS)
        eps = c["y_noise"]
        zero_pad = torch.zeros_like(pad)
        x_rand = self.inverse_net(torch.cat([y + eps * torch.randn_like(y), torch.randn_like(z), zero_pad], -1))
        w = None if c["backward_y_width"] is None else observation_weights(y, c["backward_y_width"])
        bwd = mmd_loss(x, x_rand[:, : self.problem.x_dim], BACKWARD_MMD_KERNELS, weights=w)
        y_dec = y if c["decode_from"] == "y" else y_hat
        x_rec = self.inverse_net(torch.cat([y_dec + eps * torch.randn_like(y), z + eps * torch.randn_like(z),
                                            zero_pad], -1))
        rec = ((x_rec[:, : self.problem.x_dim] - x) ** 2).sum(-1).mean()
        loss = (c["fit_weight"] * fit + c["mmd_forward_weight"] * fwd
                + c["mmd_backward_weight"] * self.backward_ramp() * bwd + c["reconstruction_weight"] * rec)
        parts = {"fit": fit, "mmd_forward": fwd, "mmd_backward": bwd, "reconstruction": rec}
        return loss, {k: float(v.detach()) for k, v in parts.items()}
