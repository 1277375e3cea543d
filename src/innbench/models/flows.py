"""Autoregressive and spline flows built on zuko: MAF + decoder, IAF + decoder (Eq. 6), neural spline flow.

zuko (https://github.com/probabilists/zuko) supplies the masked autoregressive transforms and the
rational-quadratic splines; this module adds the conditioning, the feed-forward network for the slow
direction (in the manner of Parallel WaveNet) and seeded sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal

import torch
import zuko

from .base import Model, ModelFacts
from .blocks import subnet
from .settings import ConditionalSettings

__all__ = ["IAFDecoder", "MAFDecoder", "NeuralSplineFlow"]

_LOG_2PI = math.log(2 * math.pi)


def autoregressive_inverse(t, c, y):
    """The inverse of zuko's autoregressive transform ``t`` (context ``c``) at ``y``, as zuko computes it, with one
    difference: at each pass only the solved features' univariate transforms are built.

    zuko's inverse runs the masked network once per pass (``dim(x)`` passes) and builds the spline of every feature
    at every pass, although a pass fixes only the features of its place in the order; for 10 features that is ten
    times the spline work, which was two thirds of the NSF's sampling time (journal: metric_registry.md). The
    network's output for a feature depends only on the features before it (masked weights are exact zeros), so
    the solved features get the same parameters, and the same values, as zuko's last pass gives them. Any other
    transform is inverted by zuko itself.
    """
    from zuko.flows.autoregressive import MaskedAutoregressiveTransform
    from zuko.utils import broadcast, unpack

    if not isinstance(t, MaskedAutoregressiveTransform) or t.order is None:
        return t(c).inv(y)
    x = torch.zeros_like(y)
    for p in range(t.passes):
        cols = (t.order == p).nonzero().squeeze(-1).to(y.device)
        inputs = x if c is None else torch.cat(broadcast(x, c, ignore=1), dim=-1)
        phi = t.hyper(inputs).unflatten(-1, (-1, t.total)).index_select(-2, cols)
        x = x.index_copy(-1, cols, t.univariate(*unpack(phi, t.shapes)).inv(y.index_select(-1, cols)))
    return x


class _ConditionalFlow(Model):
    """A conditional zuko flow ``z = T(x; y)`` with a standard normal base, trained by maximum likelihood."""

    conditional = True

    def make_flow(self) -> zuko.flows.Flow:
        raise NotImplementedError

    def build(self):
        self.dim = self.problem.x_dim
        self.flow = self.make_flow()

    def dim_z(self):
        return self.problem.x_dim

    def log_prob_standardized(self, x, y):
        return self.flow(y).log_prob(x)

    def nll(self, x, y):
        return -self.flow(y).log_prob(x).mean() / self.dim

    def flow_inverse(self, z, c):
        """``x = T^{-1}(z; c)``, each autoregressive transform inverted by :func:`autoregressive_inverse` (the same
        numbers as zuko's inverse, bit for bit, in a fraction of its time)."""
        transforms = getattr(self.flow.transform, "transforms", None)
        if transforms is None:  # not a composition of transforms (the IAF's inverted flow): zuko inverts it
            return self.flow(c).transform.inv(z)
        x = z
        for t in reversed(transforms):
            x = autoregressive_inverse(t, c, x)
        return x

    def sample_standardized(self, y, n, generator):
        m = len(y)
        z = torch.randn(m * n, self.dim, generator=generator, device=y.device)
        return self.flow_inverse(z, y.repeat_interleave(n, 0)).reshape(m, n, -1)


@dataclass(frozen=True)
class NeuralSplineFlowSettings(ConditionalSettings):
    """The options of :class:`NeuralSplineFlow` (model ``nsf``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    transforms: int = 4
    hidden: int = 128
    layers: int = 3
    bins: int = 8


class NeuralSplineFlow(_ConditionalFlow):
    r"""Conditional neural spline flow (Durkan et al. 2019): autoregressive monotonic rational-quadratic
    splines (zuko's ``NSF``), ``bins`` 8 per dimension on [-5, 5] (identity outside), ``transforms`` 4,
    MADE hyper-networks with ``layers`` hidden layers of width ``hidden``.

    Loss: ``-log p(x | y) / dim(x)`` (the cINN's Eq. 5 with spline instead of affine transforms); the
    condition gets Gaussian noise of standard deviation ``y_noise`` (0.01) in training, and the problem's
    condition features, as for the cINN. Latent size ``dim(z) = dim(x)``. Sampling inverts the
    autoregressive splines (``dim(x)`` sequential passes per transform); exact inverse, exact density.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        transforms: spline transforms (4).
        hidden: width of the MADE networks (128); the width option a budget's ``params`` scales.
        layers: hidden layers of the MADE networks (3).
        bins: spline bins per dimension (8).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> nsf = build_model("nsf", "two_moons", hidden=32)
        >>> x = nsf.sample([[0.0, 0.0]], 5)
        >>> x.shape, nsf.log_prob(x[0], [[0.0, 0.0]]).shape
        ((1, 5, 2), (5,))
    """

    name = "nsf"
    title = "neural spline flow"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=True, density=True, equation="Eq. 5")
    Settings = NeuralSplineFlowSettings

    def make_flow(self):
        c = self.config
        return zuko.flows.NSF(self.dim, self.cond_dim, bins=c["bins"], transforms=c["transforms"],
                              hidden_features=[c["hidden"]] * c["layers"], randperm=False)

    def loss(self, x, y):
        nll = self.nll(x, y)
        return nll, {"nll": float(nll.detach())}


@dataclass(frozen=True)
class MAFDecoderSettings(ConditionalSettings):
    """The options of :class:`MAFDecoder` (model ``maf``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    transforms: int = 5
    hidden: int = 128
    layers: int = 3
    decoder_layers: int = 4
    cycle_weight: float = 1.0
    sampler: Literal["decoder", "flow"] = "decoder"


class MAFDecoder(_ConditionalFlow):
    r"""Masked autoregressive flow ``z = T(x; y)`` plus a feed-forward decoder ``x = g(z, y)`` (Eq. 6).

    A MAF evaluates densities in one pass but inverts sequentially, so a decoder network (``hidden``,
    ``decoder_layers``) learns the inverse, as Parallel WaveNet distils a fast network for the slow
    direction. Loss (Eq. 6), per sample and divided by ``dim(x)`` for the likelihood part:

    ``L = 1/2 ||z||^2 - log|det J_{x -> z}| + cycle_weight * ||x - g(sg(z), y)||^2``

    with ``cycle_weight`` 1 and ``sg`` a stop-gradient (the cycle loss trains the decoder and does not
    bend the flow). MAF: ``transforms`` 5 affine MADE transforms with ``layers`` hidden layers of width
    ``hidden``, orders alternating. Condition: observation plus the problem's condition features, noise
    ``y_noise`` (0.01) in training. Latent size ``dim(z) = dim(x)``.

    Sampling with ``sampler="decoder"`` (default, the paper's model): ``x = g(z, y*)``, one pass;
    ``sampler="flow"`` inverts the MAF exactly. Density: exact (the MAF). The paper marks this model
    y-supervised; here it is conditioned on ``y`` like the cINN (its dim(z) = 4 in the paper's table
    says the same), so there is no supervised y output.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        transforms: affine MADE transforms (5).
        hidden: width of the MADE networks and of the decoder (128); the width option a budget's ``params``
            scales.
        layers: hidden layers of the MADE networks (3).
        decoder_layers: hidden layers of the decoder (4).
        cycle_weight: weight of the decoder's cycle loss (1).
        sampler: ``"decoder"`` (one pass, the paper's model) or ``"flow"`` (the MAF inverted exactly).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> maf = build_model("maf", "kinematics", hidden=32)
        >>> maf.dim_z(), maf.facts.exact_inverse
        (4, False)
        >>> maf.sample([[1.5, 0.0]], 5).shape
        (1, 5, 4)
    """

    name = "maf"
    title = "MAF + decoder"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=True, equation="Eq. 6")
    Settings = MAFDecoderSettings
    sampling_options = ("sampler",)

    def make_flow(self):
        c = self.config
        self.decoder = subnet(self.dim + self.cond_dim, self.dim, c["hidden"], c["decoder_layers"])
        return zuko.flows.MAF(self.dim, self.cond_dim, transforms=c["transforms"],
                              hidden_features=[c["hidden"]] * c["layers"])

    def loss(self, x, y):
        z, ladj = self.flow(y).transform.call_and_ladj(x)
        nll = (0.5 * (z**2).sum(-1) - ladj).mean() / self.dim
        x_hat = self.decoder(torch.cat([z.detach(), y], -1))
        cycle = ((x_hat - x) ** 2).sum(-1).mean()
        return nll + self.config["cycle_weight"] * cycle, {"nll": float(nll.detach()), "cycle": float(cycle.detach())}

    def flow_inverse(self, z, c):
        if self.config["sampler"] == "flow":
            return super().flow_inverse(z, c)
        return self.decoder(torch.cat([z, c], -1))


@dataclass(frozen=True)
class IAFDecoderSettings(ConditionalSettings):
    """The options of :class:`IAFDecoder` (model ``iaf``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    transforms: int = 5
    hidden: int = 128
    layers: int = 3
    encoder_layers: int = 4
    cycle_weight: float = 1.0


class IAFDecoder(_ConditionalFlow):
    r"""Inverse autoregressive flow ``x = T(z; y)`` plus a feed-forward encoder ``z = e(x, y)`` (Eq. 6).

    An IAF samples in one pass but evaluates densities sequentially (one pass per dimension); a
    feed-forward network (``hidden``, ``encoder_layers``) learns the slow direction, in the manner of
    Parallel WaveNet. Loss (Eq. 6), the likelihood part divided by ``dim(x)``:

    ``L = 1/2 ||z||^2 - log|det J_{x -> z}| + cycle_weight * ||sg(z) - e(x, y)||^2``, ``z = T^{-1}(x; y)``

    with ``cycle_weight`` 1: the likelihood is exact (zuko inverts the ``transforms`` 5 MADE transforms
    sequentially, cheap for a few dimensions) and the encoder is fitted to the flow's codes. Condition:
    observation plus the problem's condition features, noise ``y_noise`` (0.01) in training. Latent size
    ``dim(z) = dim(x)``. Sampling: ``x = T(z; y*)``, one pass per transform; density exact (slow
    direction) or approximate through the encoder. Conditioned on ``y`` rather than y-supervised (see
    :class:`MAFDecoder`).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        transforms: affine MADE transforms (5).
        hidden: width of the MADE networks and of the encoder (128); the width option a budget's ``params``
            scales.
        layers: hidden layers of the MADE networks (3).
        encoder_layers: hidden layers of the encoder (4).
        cycle_weight: weight of the encoder's cycle loss (1).
        y_noise: standard deviation of the condition's training noise, standardised units (0.01).
        condition_features: append the problem's condition features to the observation (True).
        seed: seed of the initial weights (0).
        **config: the options every conditional model has (:class:`innbench.models.Model`).

    Example:
        >>> from innbench.models import build_model
        >>> iaf = build_model("iaf", "kinematics", hidden=32)
        >>> iaf.dim_z(), iaf.sample([[1.5, 0.0]], 5).shape
        (4, (1, 5, 4))
    """

    name = "iaf"
    title = "IAF + decoder"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=True, equation="Eq. 6")
    Settings = IAFDecoderSettings

    def make_flow(self):
        c = self.config
        self.encoder = subnet(self.dim + self.cond_dim, self.dim, c["hidden"], c["encoder_layers"])
        flow = zuko.flows.MAF(self.dim, self.cond_dim, transforms=c["transforms"],
                              hidden_features=[c["hidden"]] * c["layers"])
        flow.transform = flow.transform.inv  # the MADE pass now maps z -> x: an IAF
        return flow

    def encode(self, x, y):
        """Fast approximate ``z = e(x, y)`` (the encoder's estimate of the flow's exact inverse)."""
        return self.encoder(torch.cat([x, y], -1))

    def loss(self, x, y):
        z, ladj = self.flow(y).transform.call_and_ladj(x)
        nll = (0.5 * (z**2).sum(-1) - ladj).mean() / self.dim
        cycle = ((self.encode(x, y) - z.detach()) ** 2).sum(-1).mean()
        return nll + self.config["cycle_weight"] * cycle, {"nll": float(nll.detach()), "cycle": float(cycle.detach())}
