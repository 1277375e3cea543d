"""INN with y-supervision trained by maximum likelihood (Kruse et al. 2019, Eq. 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .base import Model, ModelFacts
from .blocks import CouplingSettings, InvertibleSequence
from .settings import YSupervisedSettings

__all__ = ["INN"]


@dataclass(frozen=True)
class INNSettings(YSupervisedSettings, CouplingSettings):
    """The options of :class:`INN` (model ``inn``), each documented in its docstring's Args."""

    y_sigma: float = 0.05
    pad_noise: float = 0.01
    z_dim: int | None = None


class INN(Model):
    r"""Invertible network ``[y, z] = f(x)`` that predicts the observation and encodes the rest in ``z``.

    Latent size ``dim(z) = dim(x) - dim(y)`` (or ``dim(x)`` where ``dim(y) >= dim(x)``, as for the
    8-mode mixture); the network's width is ``D = max(dim(x), dim(y) + dim(z))``. Where ``D > dim(x)``
    the input is padded with Gaussian noise of standard deviation ``pad_noise``, and any outputs beyond
    ``[y, z]`` are supervised towards zero like ``y``. Coupling blocks as in :class:`ConditionalINN`,
    without a condition.

    Loss (Eq. 4), divided by ``D``:
    ``L = 1/2 (||y_hat - y||^2 / sigma^2 + ||z||^2) - log|det J_{x -> [y, z]}|``
    with ``sigma = y_sigma`` (default 0.05) in standardised units of ``y`` (the supervised outputs are treated as
    Gaussian around the truth with that small standard deviation).

    Posterior sampling: ``x = f^{-1}([y*, z])``, ``z ~ N(0, I)``, padding outputs set to 0.

    Defaults chosen on validation observations: docs/journal/recipes_in_code.md#inn.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` (vector observations).
        blocks: coupling blocks (10).
        hidden: width of the subnetworks (128); the width option a budget's ``params`` scales.
        layers: hidden layers per subnetwork (3).
        clamp: soft clamp of the log scales (2.0).
        activation: the subnetworks' activation (``"silu"``).
        y_sigma: standard deviation of the supervised ``y`` outputs, standardised units (0.05).
        pad_noise: standard deviation of the noise padding the input to the network's width (0.01).
        z_dim: the latent size (None: the paper's rule, :meth:`innbench.models.Model.latent_size`).
        transform_observations: predict the problem's stretched observation coordinate (True).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> inn = build_model("inn", "kinematics", blocks=2, hidden=32)
        >>> inn.dim_z(), inn.width  # [y, z] = 2 + 2 outputs for 4 parameters
        (2, 4)
        >>> inn.sample([[1.5, 0.0]], 5).shape
        (1, 5, 4)
    """

    name = "inn"
    title = "INN (max likelihood)"
    facts = ModelFacts(ml_loss=True, y_supervised=True, exact_inverse=True, density=False, equation="Eq. 4")
    Settings = INNSettings

    def _set_layout(self):
        """``dim(z)`` and the network width ``D = max(dim(x), dim(y) + dim(z))`` (shared by the [y, z] models)."""
        p = self.problem
        self._dim_z = self.config["z_dim"] or self.latent_size()
        self.width = max(p.x_dim, p.y_dim + self._dim_z, 2)

    def build(self):
        c = self.config
        self._set_layout()
        self.net = InvertibleSequence(self.width, 0, c["blocks"], c["hidden"], c["layers"], c["clamp"], seed=c["seed"],
                                      activation=c["activation"])

    def dim_z(self):
        return self._dim_z

    def _pad_x(self, x, generator=None):
        extra = self.width - x.shape[-1]
        if extra == 0:
            return x
        noise = torch.randn(*x.shape[:-1], extra, device=x.device, generator=generator)
        return torch.cat([x, self.config["pad_noise"] * noise], -1)

    def loss(self, x, y):
        out, logdet = self.net(self._pad_x(x))
        yd, zd = self.problem.y_dim, self._dim_z
        y_hat, z, pad = out[:, :yd], out[:, yd : yd + zd], out[:, yd + zd :]
        sig2 = self.config["y_sigma"] ** 2
        fit = ((y_hat - y) ** 2).sum(-1) + (pad**2).sum(-1)
        nll = (0.5 * (fit / sig2 + (z**2).sum(-1)) - logdet).mean() / self.width
        return nll, {"nll": float(nll.detach()), "y_mse": float(((y_hat.detach() - y) ** 2).mean())}

    def sample_standardized(self, y, n, generator):
        m = len(y)
        yd, zd = self.problem.y_dim, self._dim_z
        z = torch.randn(m * n, zd, generator=generator, device=y.device)
        pad = torch.zeros(m * n, self.width - yd - zd, device=y.device)
        x = self.inverse_net(torch.cat([y.repeat_interleave(n, 0), z, pad], -1))
        return x[:, : self.problem.x_dim].reshape(m, n, -1)

    def inverse_net(self, out):
        """``f^{-1}`` of a full network output ``[y, z, pad]``."""
        return self.net(out, rev=True)[0]
