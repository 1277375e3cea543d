"""Mixture density network with full precision matrices (Bishop 1994; Kruse et al. 2019, Eq. 9)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from .base import Model, ModelFacts
from .blocks import subnet
from .settings import ConditionalSettings, positive, setting

__all__ = ["MDN"]


@dataclass(frozen=True)
class MDNSettings(ConditionalSettings):
    """The options of :class:`MDN` (model ``mdn``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    components: int = 16
    hidden: int = 256
    layers: int = 4
    lr_scale: float = setting(4.0, check=positive)


class MDN(Model):
    r"""A network ``y -> (pi_k, mu_k, L_k)`` for a Gaussian mixture over ``x`` with full precision matrices.

    Each component's precision is ``Lambda_k = L_k L_k^T`` with ``L_k`` lower triangular and a positive
    (exponentiated) diagonal, so ``log|Lambda_k|^{1/2} = sum log diag L_k`` without a matrix inverse.

    Loss (Eq. 9, the negative log-likelihood of the mixture), divided by ``dim(x)``:
    ``-log sum_k pi_k |Lambda_k|^{1/2} (2 pi)^{-D/2} exp(-1/2 (x - mu_k)^T Lambda_k (x - mu_k))``.

    Sampling is vectorised over observations and samples: a component index per sample, then
    ``x = mu_k + L_k^{-T} eps`` by one batched triangular solve (no Python loop, no explicit inverse).
    Latent size: ``dim(z) = dim(x)`` (the Gaussian noise ``eps``). Not invertible; exact density.
    Options: ``components`` (K), ``hidden`` and ``layers`` of the MLP, ``y_noise`` on the condition.

    Defaults (``components`` 16, ``lr_scale`` 4) chosen on validation observations:
    docs/journal/recipes_in_code.md#mdn.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        components: Gaussians in the mixture, ``K`` (16).
        hidden: width of the MLP (256); the width option a budget's ``params`` scales.
        layers: hidden layers of the MLP (4).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        lr_scale: factor on the budget's learning rate (4.0).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> mdn = build_model("mdn", "kinematics", components=4, hidden=32)
        >>> x = mdn.sample([[1.5, 0.0]], 5)
        >>> x.shape, mdn.log_prob(x[0], [[1.5, 0.0]]).shape
        ((1, 5, 4), (5,))
    """

    name = "mdn"
    title = "mixture density network"
    conditional = True
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=True, equation="Eq. 9")
    Settings = MDNSettings

    def build(self):
        d, k = self.problem.x_dim, self.config["components"]
        self.n_tril = d * (d + 1) // 2
        self.net = subnet(self.cond_dim, k * (1 + d + self.n_tril), self.config["hidden"], self.config["layers"])
        # start from unit-precision components spread by the default init of the last layer
        nn.init.normal_(self.net[-1].weight, std=0.01)
        self.register_buffer("tril_idx", torch.tril_indices(d, d))

    def dim_z(self):
        return self.problem.x_dim

    def _params(self, c):
        d, k = self.problem.x_dim, self.config["components"]
        h = self.net(c)
        logits = h[:, :k]
        mu = h[:, k : k + k * d].reshape(-1, k, d)
        raw = h[:, k + k * d :].reshape(-1, k, self.n_tril)
        L = torch.zeros(h.shape[0], k, d, d, device=h.device, dtype=h.dtype)
        L[:, :, self.tril_idx[0], self.tril_idx[1]] = raw
        diag = torch.diagonal(L, dim1=-2, dim2=-1)
        log_diag = diag.clamp(-7.0, 7.0)
        L = L - torch.diag_embed(diag) + torch.diag_embed(log_diag.exp())
        return torch.log_softmax(logits, -1), mu, L, log_diag.sum(-1)

    def log_prob_standardized(self, x, c):
        log_pi, mu, L, half_logdet = self._params(c)
        diff = (x[:, None, :] - mu).unsqueeze(-1)  # (b, k, d, 1)
        maha = (L.transpose(-1, -2) @ diff).squeeze(-1).pow(2).sum(-1)  # (x-mu)^T L L^T (x-mu)
        d = x.shape[-1]
        comp = log_pi + half_logdet - 0.5 * maha - 0.5 * d * math.log(2 * math.pi)
        return torch.logsumexp(comp, -1)

    def loss(self, x, y):
        nll = -self.log_prob_standardized(x, y).mean() / x.shape[-1]
        return nll, {"nll": float(nll.detach())}

    def sample_standardized(self, y, n, generator):
        m, d = len(y), self.problem.x_dim
        log_pi, mu, L, _ = self._params(y)
        k = torch.multinomial(log_pi.exp(), n, replacement=True, generator=generator)  # (m, n)
        mu_s = torch.gather(mu, 1, k[..., None].expand(m, n, d))
        L_s = torch.gather(L, 1, k[..., None, None].expand(m, n, d, d))
        eps = torch.randn(m, n, d, 1, generator=generator, device=y.device)
        # L^T v = eps  =>  v ~ N(0, (L L^T)^{-1})
        v = torch.linalg.solve_triangular(L_s.transpose(-1, -2), eps, upper=True).squeeze(-1)
        return mu_s + v
