"""Conditional INN (Kruse et al. 2019, Eq. 5; Ardizzone et al. 2019, "Guided image generation with cINNs")."""

from __future__ import annotations

import torch

from .base import Model, ModelFacts
from .blocks import InvertibleSequence

__all__ = ["ConditionalINN"]


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
    problem's :meth:`~innbench.problems.Problem.condition_features` (kinematics: distance to the reach).

    Latent size: ``dim(z) = dim(x)``. Posterior sampling: ``x = f^{-1}(z; y*)``, ``z ~ N(0, I)``.
    Exact inverse, exact density.
    """

    name = "cinn"
    title = "conditional INN"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=True, density=True, equation="Eq. 5")
    conditional = True
    defaults = {"blocks": 6, "hidden": 128, "layers": 3, "clamp": 2.0, "activation": "silu", "y_noise": 0.01,
                "condition_features": True, "seed": 0}

    def build(self):
        c = self.config
        self.dim = max(2, self.problem.x_dim)
        self.net = InvertibleSequence(self.dim, self.cond_dim, c["blocks"], c["hidden"], c["layers"],
                                      c["clamp"], seed=c["seed"], activation=c["activation"])

    def dim_z(self):
        return self.problem.x_dim

    def _pad(self, x):
        if self.dim == x.shape[-1]:
            return x
        return torch.cat([x, torch.randn(*x.shape[:-1], self.dim - x.shape[-1], device=x.device)], -1)

    def log_prob_standardized(self, x, y):
        z, logdet = self.net(self._pad(x), y)
        return -0.5 * (z**2).sum(-1) - 0.5 * self.dim * torch.log(torch.tensor(2 * torch.pi)) + logdet

    def loss(self, x, y):
        if self.config["y_noise"] > 0:
            y = y + self.config["y_noise"] * torch.randn_like(y)
        z, logdet = self.net(self._pad(x), y)
        nll = (0.5 * (z**2).sum(-1) - logdet).mean() / self.dim
        return nll, {"nll": float(nll.detach())}

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self.dim, generator=generator, device=y.device)
        c = y.repeat_interleave(n, 0)
        x, _ = self.net(z, c, rev=True)
        return x[:, : self.problem.x_dim].reshape(m, n, -1)
