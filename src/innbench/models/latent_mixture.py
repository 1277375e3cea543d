"""The latent-mixture INN: one unconditional INN, the observation lives in its latent space (the talk's third
INN family; trained with the information-bottleneck weighting of Ardizzone et al. 2020 as an option)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from .base import Model, ModelFacts
from .blocks import PERMUTATIONS, CouplingSettings, InvertibleSequence
from .parts import ConditionNoise
from .settings import ConditionalSettings, setting

__all__ = ["LatentMixtureINN"]

_LOG_2PI = math.log(2 * math.pi)


@dataclass(frozen=True)
class LatentMixtureINNSettings(ConditionalSettings, CouplingSettings):
    """The options of :class:`LatentMixtureINN` (model ``latent_mixture_inn``), documented in its Args."""

    blocks: int = 6
    permutation: str = setting("random", choices=PERMUTATIONS)
    covariance: Literal["diag", "full"] = "diag"
    components: int | None = None
    beta: float = 1.0
    head_layers: int = 2


class LatentMixtureINN(Model):
    r"""Latent-mixture INN: ``z = f(x)`` with one unconditional coupling INN ``f`` and a Gaussian per
    observation in latent space, ``p(z | y) = N(mu_y, Sigma_y)``, so that ``p(z) = sum_y p(y) N(mu_y,
    Sigma_y)`` is a mixture. Posterior sampling draws ``z ~ N(mu_y*, Sigma_y*)`` and returns ``x =
    f^{-1}(z)``; the density ``p(x | y) = N(f(x); mu_y, Sigma_y) |det J_f(x)|`` is exact.

    **Class observations** (a problem with ``observation_classes``, ``y`` one-hot: the Gaussian-mixture
    problem and its ``some`` / ``none`` label maps): ``p(z | k)`` is a mixture of ``components`` Gaussians
    per class (default 8; 1 is the talk's one Gaussian per class) with learned means, weights and
    covariances (``covariance`` ``"diag"``, the default, or ``"full"``, a learned Cholesky factor). They
    start where the initial ``f`` puts the class's training codes: k-means on ``f(x)`` per class, with the
    clusters' spreads and shares. Loss per sample, divided by ``dim(z)``: ``L_X + beta L_Y`` with ``L_X =
    -log sum_k p(k) p(f(x) | k) - log|det J|`` (maximum likelihood of the mixture, ``y`` unused) and
    ``L_Y = -log p(y | f(x))`` (the mixture's classification of the code), ``p(k)`` the training set's class
    frequencies. ``beta = 1`` (default) is the class-conditional maximum likelihood ``-log p(f(x) | y) -
    log|det J|`` (up to the constant ``-log p(y)``), which makes the posterior exact at the optimum; the
    information-bottleneck INN trades the two terms with ``beta`` (larger: the classes separate more in
    latent space, the density of ``x`` is fit less).

    **Continuous observations** (kinematics, ballistics, users' problems): the documented extension.
    A small network (``head_layers`` x ``hidden``) reads the standardised observation and gives the
    latent mixture's means, scales (diagonal, or a Cholesky factor with ``covariance="full"``; log scales
    clamped to [-8, 0]: no component wider than the standard normal) and weights, ``z | y ~ sum_c w_c(y)
    N(mu_c(y), Sigma_c(y))``, ``components`` of them (default 4). Trained by conditional maximum
    likelihood (``beta`` must be 1: a continuum of classes has no mixture to classify against). During
    training the condition gets Gaussian noise of standard deviation ``y_noise`` (as the cINN's: the
    posterior of a deterministic forward process is concentrated on a lower-dimensional set, where the
    likelihood has no finite optimum).

    How this differs from a cINN: in the cINN ``y`` enters every coupling block, so the map ``z -> x``
    itself changes with ``y`` and each observation's posterior may have its own shape. Here the map is one
    bijection for all ``y`` and ``y`` only moves and stretches a Gaussian mixture in its latent space: every
    posterior is the image of a few ellipsoids under the same ``f^{-1}``. The family is smaller, but ``f``
    organises the whole latent space by the observation (the "disentangled" latent of the talk: the
    observation is readable from ``z`` alone, ``p(y | z)``) and ``f`` is also a density model of ``p(x)``.
    With ``mu(y) = [y, 0]`` and a small fixed scale on the first ``dim(y)`` coordinates it is the
    maximum-likelihood form of the augmented-latent INN (``inn``).

    Architecture: ``blocks`` GLOW-style affine coupling blocks (unconditional), ``hidden`` x ``layers``
    subnetworks, scales soft-clamped at ``clamp``, a fixed random permutation after each block. Problems
    with one parameter are padded with a standard normal dimension (divided out of the density, dropped
    when sampling). Latent size ``dim(z) = dim(x)`` (2 where ``dim(x) = 1``).

    Defaults (6 blocks at the budget's learning rate, a k-means start, 8 components per class label, 4 for a
    continuous observation, log scales capped at 0) chosen with the ``default`` grid's budget:
    docs/journal/recipes_in_code.md#latent_mixture_inn.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` (class labels or
            continuous vector observations).
        blocks: coupling blocks of ``f`` (6).
        hidden: width of the subnetworks (128); the width option a budget's ``params`` scales.
        layers: hidden layers per subnetwork (3).
        clamp: soft clamp of the log scales (2.0).
        activation: the subnetworks' activation (``"silu"``).
        permutation: the fixed mixing after each block, ``"random"`` or ``"orthogonal"``.
        covariance: ``"diag"`` or ``"full"`` covariances of the latent Gaussians.
        components: Gaussians per class label, or in the mixture of a continuous observation (None: 8 per
            label, 4 for a continuous observation).
        beta: weight of the classification term ``L_Y`` (1: class-conditional maximum likelihood).
        head_layers: hidden layers of the network that maps a continuous observation to the mixture (2).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        lr_scale: factor on the budget's learning rate (1.0).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("latent_mixture_inn", "gaussian_modes", blocks=2, hidden=32)
        >>> model.n_comp, model.classes  # 8 Gaussians for each of the 8 labels
        (8, 8)
        >>> model.sample([[1, 0, 0, 0, 0, 0, 0, 0]], 5).shape
        (1, 5, 2)
    """

    name = "latent_mixture_inn"
    title = "latent-mixture INN"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=True, density=True, equation="IB-INN")
    conditional = True
    Settings = LatentMixtureINNSettings

    def build(self):
        c = self.config
        p = self.problem
        beta = c["beta"]
        from .. import params as P

        self.classes = p.observation_classes
        # None: 8 per class label, 4 for a continuous y (docs/journal/recipes_in_code.md#latent_mixture_inn)
        comps = c["components"]
        self.n_comp = (8 if self.classes is not None else 4) if comps is None else P.count(comps, "components")
        if self.classes is None and beta != 1.0:
            raise ValueError(f"beta: the information-bottleneck weighting needs class observations; problem "
                             f"{p.name!r} has continuous ones (use beta=1, conditional maximum likelihood)")
        self.dim = max(2, p.x_dim)
        d = self.dim
        self.n_off = d * (d - 1) // 2 if c["covariance"] == "full" else 0
        self.net = InvertibleSequence(d, 0, c["blocks"], c["hidden"], c["layers"], c["clamp"], seed=c["seed"],
                                      activation=c["activation"], permutation=c["permutation"])
        if self.classes is not None:
            k, m = int(self.classes), self.n_comp
            # set from the training data by set_normalization
            self.means = nn.Parameter(torch.randn(k, m, d) * 0.1)
            self.log_scales = nn.Parameter(torch.zeros(k, m, d))
            self.off_diag = nn.Parameter(torch.zeros(k, m, self.n_off))
            self.weight_logits = nn.Parameter(torch.zeros(k, m))
            self.register_buffer("log_class_prior", torch.full((k,), -math.log(k)))
            self.head = None
        else:
            width, mods, n_in = c["hidden"], [], self.cond_dim
            for _ in range(int(c["head_layers"])):
                mods += [nn.Linear(n_in, width), nn.SiLU()]
                n_in = width
            m = self.n_comp
            last = nn.Linear(n_in, m * (2 * d + self.n_off + 1))
            nn.init.zeros_(last.weight)  # start at standard normals of equal weight
            nn.init.zeros_(last.bias)
            if m > 1:  # ... whose means differ a little, or the components could never separate
                with torch.no_grad():
                    last.bias.view(m, -1)[:, :d] = 0.5 * torch.randn(m, d)
            self.head = nn.Sequential(*mods, last)
        self._tril = torch.tril_indices(d, d, -1)

    def dim_z(self):
        return self.problem.x_dim

    def make_condition_noise(self) -> ConditionNoise:
        """``y_noise`` on a continuous condition; none on class labels (:meth:`Model.make_condition_noise`)."""
        return super().make_condition_noise() if self.problem.observation_classes is None else ConditionNoise()

    def set_normalization(self, x, y):
        super().set_normalization(x, y)
        if self.classes is None:
            return
        onehot = torch.as_tensor(np.asarray(y)[:, : self.classes], dtype=torch.float64)
        counts = onehot.sum(0)
        self.log_class_prior.copy_(torch.log((counts + 1e-3) / (counts + 1e-3).sum()))  # p(k) of the training set
        # data-dependent start: each class's components at the k-means clusters of its training codes f(x)
        # under the initial f, with their spreads and shares, so that f need not first carry the classes
        # (and the modes within a class) to arbitrary places
        g = torch.Generator().manual_seed(int(self.config["seed"]))
        with torch.no_grad():
            xs = self.standardize_x(torch.as_tensor(np.asarray(x)[:200_000], dtype=torch.float32))
            z = torch.cat([self.net(self._pad(part))[0] for part in xs.split(20_000)])
            onehot = onehot[: len(z)]
            for k in range(int(self.classes)):
                rows = z[onehot[:, k] > 0.5][:5_000]  # plenty for a start; k-means costs O(rows)
                if len(rows) >= 2 * self.n_comp:
                    centres, share, spread = _kmeans(rows, self.n_comp, g)
                    self.means[k] = centres
                    self.log_scales[k] = torch.log(spread + 1e-3)
                    self.weight_logits[k] = torch.log(share + 1e-3)

    # -- the latent Gaussians ------------------------------------------------------------------
    def _labels(self, y):
        """Class index of each standardised one-hot row (the one positive entry after standardisation)."""
        return y[:, : self.classes].argmax(-1)

    def _head(self, y):
        """Per row of a continuous y and per component: means ``(m, C, d)``, log scales ``(m, C, d)``,
        off-diagonal Cholesky entries ``(m, C, n_off)`` and log weights ``(m, C)``."""
        d, k = self.dim, self.n_off
        out = self.head(y).view(len(y), self.n_comp, 2 * d + k + 1)
        return (out[..., :d], out[..., d : 2 * d].clamp(-8.0, 0.0), out[..., 2 * d : 2 * d + k],
                torch.log_softmax(out[..., -1], -1))

    def _mixture(self, y):
        """The latent mixture ``p(z | y)`` of each row of y: as :meth:`_head`, for a class label its class's."""
        if self.classes is None:
            return self._head(y)
        k = self._labels(y)
        return self.means[k], self.log_scales[k], self.off_diag[k], torch.log_softmax(self.weight_logits, -1)[k]

    def _cholesky(self, log_scale, off):
        lower = torch.diag_embed(torch.exp(log_scale))
        if self.n_off:
            i, j = self._tril.to(log_scale.device)
            lower = lower.clone()
            lower[..., i, j] = off
        return lower

    def _log_normal(self, z, mean, log_scale, off):
        """``log N(z; mean, L L^T)`` (``L`` from the log scales and off-diagonal entries), broadcast over
        the leading dimensions."""
        r = z - mean
        if self.n_off:
            lower = self._cholesky(log_scale, off).expand(*r.shape, self.dim)
            u = torch.linalg.solve_triangular(lower, r.unsqueeze(-1), upper=False).squeeze(-1)
        else:
            u = r * torch.exp(-log_scale)
        return -0.5 * (u**2).sum(-1) - log_scale.sum(-1) - 0.5 * self.dim * _LOG_2PI

    def class_log_likelihoods(self, z):
        """``log p(z | k) = log sum_c w_kc N(z; mu_kc, Sigma_kc)`` for every class: ``(n, K)`` (class
        observations only)."""
        lp = self._log_normal(z[:, None, None, :], self.means, self.log_scales, self.off_diag)  # (n, K, C)
        return torch.logsumexp(lp + torch.log_softmax(self.weight_logits, -1), -1)

    def _latent_log_density(self, z, y):
        """``log p(z | y)`` per row."""
        mean, log_scale, off, log_w = self._mixture(y)
        return torch.logsumexp(log_w + self._log_normal(z[:, None, :], mean, log_scale, off), -1)

    # -- the contract -------------------------------------------------------------------------
    def _pad(self, x):
        if self.dim == x.shape[-1]:
            return x
        return torch.cat([x, torch.randn(*x.shape[:-1], self.dim - x.shape[-1], device=x.device)], -1)

    def loss(self, x, y):
        z, logdet = self.net(self._pad(x))
        if self.classes is None:
            nll = -(self._latent_log_density(z, y) + logdet).mean() / self.dim
            return nll, {"nll": float(nll.detach())}
        joint = self.class_log_likelihoods(z) + self.log_class_prior  # log p(z, k)
        log_pz = torch.logsumexp(joint, -1)
        own = joint.gather(1, self._labels(y)[:, None]).squeeze(1)
        l_x = -(log_pz + logdet).mean() / self.dim
        l_y = -(own - log_pz).mean() / self.dim  # -log p(y | z)
        loss = l_x + self.config["beta"] * l_y
        return loss, {"nll_x": float(l_x.detach()), "nll_y": float(l_y.detach())}

    def log_prob_standardized(self, x, y):
        xp = self._pad(x)
        z, logdet = self.net(xp)
        lp = self._latent_log_density(z, y) + logdet
        if self.dim > x.shape[-1]:  # the padding dimension is standard normal noise: divide its density out
            pad = xp[..., x.shape[-1] :]
            lp = lp + 0.5 * (pad**2).sum(-1) + 0.5 * pad.shape[-1] * _LOG_2PI
        return lp

    def sample_standardized(self, y, n, generator):
        m = len(y)
        eps = torch.randn(m * n, self.dim, generator=generator, device=y.device)
        mean, log_scale, off, log_w = (a.repeat_interleave(n, 0) for a in self._mixture(y))
        comp = torch.multinomial(torch.exp(log_w), 1, generator=generator)  # a component by its weight
        mean, log_scale, off = (a.gather(1, comp[:, :, None].expand(-1, 1, a.shape[-1])).squeeze(1)
                                for a in (mean, log_scale, off))
        if self.n_off:
            step = (self._cholesky(log_scale, off) @ eps.unsqueeze(-1)).squeeze(-1)
        else:
            step = torch.exp(log_scale) * eps
        x, _ = self.net(mean + step, rev=True)
        return x[:, : self.problem.x_dim].reshape(m, n, -1)


def _kmeans(rows: torch.Tensor, k: int, generator: torch.Generator, restarts: int = 8):
    """The best of ``restarts`` k-means runs (:func:`_kmeans_once`) by within-cluster sum of squares: a
    single run can leave two centres in one mode and one centre between two, which training does not undo."""
    best, best_cost = None, float("inf")
    for _ in range(restarts):
        centres, share, spread = _kmeans_once(rows, k, generator)
        cost = float(_sq_dist(rows.double(), centres.double()).min(1).values.sum())
        if cost < best_cost:
            best, best_cost = (centres, share, spread), cost
    return best


def _kmeans_once(rows: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 20):
    """Lloyd's k-means on ``rows (n, d)`` from a k-means++ start (each next centre drawn with probability
    proportional to the squared distance to the nearest one so far): the centres ``(k, d)``, each cluster's
    share of the rows ``(k,)`` and per-coordinate spread ``(k, d)`` (a cluster left empty keeps its start
    and the overall spread)."""
    rows = rows.double()
    first = int(torch.randint(len(rows), (1,), generator=generator))
    centres = rows[[first]].clone()
    for _ in range(k - 1):
        d2 = _sq_dist(rows, centres).min(1).values
        pick = torch.multinomial(d2 / d2.sum() if d2.sum() > 0 else torch.ones_like(d2), 1, generator=generator)
        centres = torch.cat([centres, rows[pick]])
    for _ in range(iterations + 1):
        member = torch.nn.functional.one_hot(_sq_dist(rows, centres).argmin(1), k).double()  # (n, k)
        count = member.sum(0)
        mean = (member.T @ rows) / count.clamp(min=1)[:, None]
        centres = torch.where(count[:, None] > 0, mean, centres)
    var = (member.T @ rows**2) / count.clamp(min=1)[:, None] - centres**2
    spread = torch.where(count[:, None] >= 2, var.clamp(min=0).sqrt(), rows.std(0).expand(k, -1))
    return centres.float(), (count / len(rows)).float(), spread.float()


def _sq_dist(rows: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``(n, k)`` (directly: ``torch.cdist`` is slow for a few centres on a CPU)."""
    return ((rows[:, None, :] - centres[None]) ** 2).sum(-1)
