"""Neural ratio estimation: a classifier learns ``log p(y | x) / p(y)`` once, MCMC per observation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from .base import ModelFacts
from .blocks import mlp
from .nle import LikelihoodQuery, LikelihoodQuerySettings

__all__ = ["BalancedRatio", "ContrastiveRatio", "NeuralRatio"]


@dataclass(frozen=True)
class NeuralRatioSettings(LikelihoodQuerySettings):
    """The options of :class:`NeuralRatio` (models ``nre_c`` and ``bnre``), each documented in its docstring's
    Args."""

    width_field: ClassVar[str | None] = "hidden"

    hidden: int = 128
    layers: int = 3
    classes: int = 5
    gamma: float = 1.0
    balance: float = 100.0


class NeuralRatio(LikelihoodQuery):
    r"""Neural ratio estimation (NRE): a classifier ``f(x, y)`` whose logit estimates
    ``log r(x, y) = log p(y | x) / p(y)``, trained once on the simulations; each query runs ensemble MCMC on
    ``log p(x) + f(x, y*)`` with the problem's prior density, as neural likelihood estimation does
    (:class:`innbench.models.nle.LikelihoodQuery`). The ratio needs no density of ``y``, so it works
    for any observation whose simulator is stochastic.

    Two losses, two registered models:

    - ``nre_c``, **contrastive** NRE (Miller, Weniger & Forré 2022): for each observation ``y``, ``classes``
      (K) candidate parameter vectors, either all from the marginal (class 0) or with the joint one at a
      known place (classes 1..K); the classifier ``q(0) = 1 / (1 + (gamma / K) sum_j r_j)``,
      ``q(k) = (gamma / K) r_k / (1 + (gamma / K) sum_j r_j)`` is trained by cross-entropy with the class
      odds ``gamma``. Unlike binary NRE its ratio is normalised (``E_p(x)[r(x, y)] = 1`` at the optimum) for
      every ``gamma`` and K.
    - ``bnre``, **balanced** NRE (Delaunoy et al. 2022): binary NRE (joint pairs against pairs whose ``x``
      is shuffled within the batch, binary cross-entropy) plus ``balance`` (lambda, 100) times
      ``(E_joint[sigma(f)] + E_marginal[sigma(f)] - 1)^2``, which pushes the posterior towards conservative
      (wider, not overconfident) at small budgets.

    Marginal pairs reuse the batch's own parameters with another row's observation (no extra simulation).
    Network: an MLP of ``layers`` x ``hidden`` (SiLU) on the standardised ``[x, y]`` (bounded parameters
    after the logit), one output. ``dim(z) = 0``: it has no latent space. Not amortized (MCMC per query,
    ``last_diagnostics`` holds R-hat, ESS, steps, seconds); ``members=K`` builds an ensemble whose
    log-ratios are mixed like NLE's likelihoods.

    The registered models ``nre_c`` (:class:`ContrastiveRatio`) and ``bnre`` (:class:`BalancedRatio`) list the
    options.
    """

    name = "nre"
    title = "neural ratio + MCMC"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="NRE")
    Settings = NeuralRatioSettings
    #: the loss: ``"contrastive"`` (nre_c) or ``"balanced"`` (bnre)
    variant: ClassVar[str] = "contrastive"

    def build(self):
        self.check_query_problem("learns a likelihood ratio")
        c = self.config
        if not float(c["gamma"]) > 0:  # classes and balance are checked by the settings
            raise ValueError(f"gamma: expected a number > 0 (the odds of the joint classes), got {c['gamma']!r}")
        self.net = mlp(self.problem.x_dim + self.problem.y_dim, 1, int(c["hidden"]), int(c["layers"]))

    def dim_z(self):
        return 0

    def logit(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The classifier's output, the estimated ``log r``, for standardised ``x (..., x_dim)`` and ``y``."""
        return self.net(torch.cat([x, y], -1))[..., 0]

    def loss(self, x, y):
        c = self.config
        n = len(x)
        if self.variant == "balanced":
            marginal = x[torch.randperm(n, device=x.device)]
            joint_logit, marginal_logit = self.logit(x, y), self.logit(marginal, y)
            bce = F.softplus(-joint_logit).mean() + F.softplus(marginal_logit).mean()
            gap = torch.sigmoid(joint_logit).mean() + torch.sigmoid(marginal_logit).mean() - 1.0
            loss = bce + float(c["balance"]) * gap**2
            return loss, {"bce": float(bce.detach()), "balance_gap": float(gap.detach())}
        k, gamma = int(c["classes"]), float(c["gamma"])
        # candidates for each observation: other rows' parameters (marginal draws), never the row's own
        others = (torch.arange(n, device=x.device)[:, None] + torch.randint(1, n, (n, 2 * k - 1), device=x.device)) % n
        cand_joint = torch.cat([x[:, None], x[others[:, : k - 1]]], 1)  # the joint x first (wlog: r is symmetric)
        cand_marg = x[others[:, k - 1:]]
        yy = y[:, None].expand(n, k, y.shape[-1])
        log_w = math.log(gamma / k)
        lr_joint = self.logit(cand_joint, yy)
        lr_marg = self.logit(cand_marg, yy)
        zero = torch.zeros(n, 1, device=x.device)
        log_norm_joint = torch.logsumexp(torch.cat([zero, log_w + lr_joint], 1), 1)
        log_norm_marg = torch.logsumexp(torch.cat([zero, log_w + lr_marg], 1), 1)
        log_q_joint = log_w + lr_joint[:, 0] - log_norm_joint
        log_q_marg = -log_norm_marg
        loss = -(gamma * log_q_joint.mean() + log_q_marg.mean()) / (1.0 + gamma)
        return loss, {"ce": float(loss.detach())}

    def network_log_likelihood(self, x, c):
        """The learned log-ratio ``log p(y | x) / p(y)``, which differs from ``log p(y | x)`` by a constant in
        ``x``, of standardised ``x (N, x_dim)`` and ``c (N, y_dim)``."""
        return self.logit(x, c)


class ContrastiveRatio(NeuralRatio):
    """Contrastive neural ratio estimation (NRE-C; Miller, Weniger & Forré 2022), model ``nre_c``: see
    :class:`NeuralRatio` for the method.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` with ``log_prior``, a
            stochastic simulator and vector observations.
        hidden: width of the classifier's hidden layers (128); the width option a budget's ``params`` scales.
        layers: hidden layers of the classifier (3).
        classes: contrastive classes K of ``nre_c`` (5, sbi's default).
        gamma: class odds of ``nre_c``: the joint classes against the marginal one (1.0, sbi's default).
        balance: weight lambda of ``bnre``'s balancing term (100, Delaunoy et al.'s).
        walkers: MCMC walkers per observation (0: ``max(64, 8 dim(x))``), as for ``nle``.
        burn: burn-in steps (1000).
        pilot: pilot steps for the autocorrelation time (500).
        init_draws: prior draws the walkers start from by importance resampling (20,000).
        max_thin: the largest thinning of the chains (200).
        use_symmetries: use the problem's exact symmetries (True).
        members: an ensemble of that many ratio models, their ratios mixed (1).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> import numpy as np
        >>> from innbench.models import build_model
        >>> nre = build_model("nre_c", "two_moons", hidden=32)
        >>> nre.amortized, nre.log_likelihood(np.zeros((3, 2)), np.zeros(2)).shape
        (False, (3,))
        >>> nre.config["classes"]
        5
    """

    name = "nre_c"
    title = "contrastive NRE + MCMC"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="NRE-C")
    variant = "contrastive"


class BalancedRatio(NeuralRatio):
    """Balanced neural ratio estimation (BNRE; Delaunoy et al. 2022), model ``bnre``: see :class:`NeuralRatio`
    for the method.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` with ``log_prior``, a
            stochastic simulator and vector observations.
        hidden: width of the classifier's hidden layers (128); the width option a budget's ``params`` scales.
        layers: hidden layers of the classifier (3).
        classes: contrastive classes K of ``nre_c`` (5, sbi's default).
        gamma: class odds of ``nre_c``: the joint classes against the marginal one (1.0, sbi's default).
        balance: weight lambda of ``bnre``'s balancing term (100, Delaunoy et al.'s).
        walkers: MCMC walkers per observation (0: ``max(64, 8 dim(x))``), as for ``nle``.
        burn: burn-in steps (1000).
        pilot: pilot steps for the autocorrelation time (500).
        init_draws: prior draws the walkers start from by importance resampling (20,000).
        max_thin: the largest thinning of the chains (200).
        use_symmetries: use the problem's exact symmetries (True).
        members: an ensemble of that many ratio models, their ratios mixed (1).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> build_model("bnre", "two_moons", hidden=32).config["balance"]
        100.0
    """

    name = "bnre"
    title = "balanced NRE + MCMC"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="BNRE")
    variant = "balanced"
