"""Building blocks shared by the models: coupling, permutation and soft clamp for the INN types; an MLP and a time
embedding for the ODE and diffusion types.

Every block maps ``(x, c) -> (y, log|det J|)`` forward and ``(y, c) -> (x, -log|det J|)`` with
``rev=True``, in the manner of FrEIA, without global state or in-place tricks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Literal  # noqa: F401  Literal: the inherited settings' annotations, which pdoc resolves here

import torch
from torch import nn

from .settings import ModelSettings, positive, setting

__all__ = ["ACTIVATIONS", "PERMUTATIONS", "AffineCouplingBlock", "CouplingSettings", "InvertibleSequence",
           "PermuteRandom", "RotateRandom", "activation_class", "mlp", "soft_clamp", "subnet", "time_embedding",
           "time_frequencies"]


def soft_clamp(s: torch.Tensor, clamp: float) -> torch.Tensor:
    """``clamp * 0.636 * atan(s / clamp)``: smooth, odd, bounded by ~``clamp`` (the ICLR 2019 INN's clamp).

    Example:
        >>> import torch
        >>> from innbench.models.blocks import soft_clamp
        >>> [round(v, 3) for v in soft_clamp(torch.tensor([-1e6, 0.0, 1e6]), 2.0).tolist()]
        [-1.998, 0.0, 1.998]
    """
    return clamp * 0.636 * torch.atan(s / clamp)


#: Activations of the subnetworks by name (the ``activation`` option of the coupling models).
ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "leaky_relu": nn.LeakyReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def activation_class(name):
    """The ``nn.Module`` class of an activation given by name (see :data:`ACTIVATIONS`) or class.

    Example:
        >>> from innbench.models.blocks import activation_class
        >>> activation_class("gelu")
        <class 'torch.nn.modules.activation.GELU'>
    """
    if isinstance(name, type) and issubclass(name, nn.Module):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"activation: unknown name {name!r}; known: {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def subnet(n_in: int, n_out: int, hidden: int, layers: int = 3, activation="silu") -> nn.Sequential:
    """An MLP with ``layers`` linear layers whose last layer starts at zero (so blocks start as identity).

    Args:
        n_in: input features.
        n_out: output features.
        hidden: width of the hidden layers.
        layers: linear layers (at least 1).
        activation: the activation between them (a name from :data:`ACTIVATIONS` or a class).

    Example:
        >>> import torch
        >>> from innbench.models.blocks import subnet
        >>> net = subnet(3, 4, hidden=16)
        >>> len(net), bool((net(torch.randn(5, 3)) == 0).all())  # 3 linear layers, 2 activations; zero at start
        (5, True)
    """
    activation = activation_class(activation)
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(layers - 1):
        mods += [nn.Linear(width, hidden), activation()]
        width = hidden
    last = nn.Linear(width, n_out)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(*mods, last)


def mlp(n_in: int, n_out: int, hidden: int, hidden_layers: int) -> nn.Sequential:
    """An MLP of ``hidden_layers`` linear layers of width ``hidden``, each followed by SiLU, then a linear output
    layer (PyTorch's default initialisation): the network of flow matching, ``npse``, ``cmpe`` and NRE.

    Args:
        n_in: input features.
        n_out: output features.
        hidden: width of the hidden layers.
        hidden_layers: hidden layers (0: one linear layer).

    Example:
        >>> import torch
        >>> from innbench.models.blocks import mlp
        >>> net = mlp(3, 2, hidden=16, hidden_layers=2)
        >>> len(net), net(torch.randn(5, 3)).shape
        (5, torch.Size([5, 2]))
    """
    mods: list[nn.Module] = []
    width = n_in
    for _ in range(hidden_layers):
        mods += [nn.Linear(width, hidden), nn.SiLU()]
        width = hidden
    return nn.Sequential(*mods, nn.Linear(width, n_out))


def time_frequencies(features: int) -> torch.Tensor:
    """The frequencies ``pi 2^k``, ``k < features // 2``, of a sine / cosine embedding of a time in [0, 1]
    (:func:`time_embedding`)."""
    return math.pi * 2.0 ** torch.arange(features // 2, dtype=torch.float32)


def time_embedding(t: torch.Tensor, freqs: torch.Tensor) -> torch.Tensor:
    """``[sin(t f), cos(t f)]`` for ``t (n, 1)`` and the frequencies ``freqs`` of :func:`time_frequencies`:
    ``(n, 2 len(freqs))``."""
    ft = t * freqs
    return torch.cat([torch.sin(ft), torch.cos(ft)], -1)


class AffineCouplingBlock(nn.Module):
    r"""GLOW-style double affine coupling: both halves are transformed, each conditioned on the other.

    With ``x = [u1, u2]`` and an optional condition ``c`` fed to every subnetwork:

    .. math:: v_2 = u_2 \odot e^{s_2(u_1, c)} + t_2(u_1, c), \qquad v_1 = u_1 \odot e^{s_1(v_2, c)} + t_1(v_2, c)

    where the scales pass through :func:`soft_clamp`. ``log|det J| = sum(s_1) + sum(s_2)``.

    Arguments:
        dim: number of features (>= 2).
        cond_dim: size of the condition (0 for none).
        hidden, layers: width and depth of the subnetworks.
        clamp: soft clamp of the log-scales.
        activation: the subnetworks' activation (name from :data:`ACTIVATIONS`).

    Example:
        >>> import torch
        >>> from innbench.models.blocks import AffineCouplingBlock
        >>> block = AffineCouplingBlock(4, cond_dim=2, hidden=16)
        >>> _ = torch.nn.init.normal_(block.net1[-1].weight)  # leave the identity it starts as
        >>> x, c = torch.randn(8, 4), torch.randn(8, 2)
        >>> v, logdet = block(x, c)
        >>> x_again, minus_logdet = block(v, c, rev=True)
        >>> torch.allclose(x_again, x, atol=1e-5), torch.allclose(minus_logdet, -logdet), logdet.shape
        (True, True, torch.Size([8]))
    """

    def __init__(self, dim: int, cond_dim: int = 0, hidden: int = 128, layers: int = 3, clamp: float = 2.0,
                 activation="silu"):
        super().__init__()
        if dim < 2:
            raise ValueError(f"dim: a coupling block needs at least 2 features, got {dim}")
        self.d1 = dim // 2
        self.d2 = dim - self.d1
        self.clamp = clamp
        self.net2 = subnet(self.d1 + cond_dim, 2 * self.d2, hidden, layers, activation)
        self.net1 = subnet(self.d2 + cond_dim, 2 * self.d1, hidden, layers, activation)

    def _st(self, net, u, c):
        h = net(u if c is None else torch.cat([u, c], -1))
        s, t = h.chunk(2, -1)
        return soft_clamp(s, self.clamp), t

    def forward(self, x, c=None, rev: bool = False):
        u1, u2 = x[..., : self.d1], x[..., self.d1 :]
        if not rev:
            s2, t2 = self._st(self.net2, u1, c)
            v2 = u2 * torch.exp(s2) + t2
            s1, t1 = self._st(self.net1, v2, c)
            v1 = u1 * torch.exp(s1) + t1
            return torch.cat([v1, v2], -1), s1.sum(-1) + s2.sum(-1)
        v1, v2 = u1, u2
        s1, t1 = self._st(self.net1, v2, c)
        x1 = (v1 - t1) * torch.exp(-s1)
        s2, t2 = self._st(self.net2, x1, c)
        x2 = (v2 - t2) * torch.exp(-s2)
        return torch.cat([x1, x2], -1), -(s1.sum(-1) + s2.sum(-1))


class PermuteRandom(nn.Module):
    """A fixed random permutation of the features (drawn from ``seed``); log-determinant 0.

    Example:
        >>> import torch
        >>> from innbench.models.blocks import PermuteRandom
        >>> perm = PermuteRandom(5, seed=0)
        >>> x = torch.arange(5.0)[None]
        >>> y, _ = perm(x)
        >>> sorted(y[0].tolist()), torch.equal(perm(y, rev=True)[0], x)
        ([0.0, 1.0, 2.0, 3.0, 4.0], True)
    """

    def __init__(self, dim: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        perm = torch.randperm(dim, generator=g)
        self.register_buffer("perm", perm)
        self.register_buffer("inv", torch.argsort(perm))

    def forward(self, x, c=None, rev: bool = False):
        return x[..., self.inv if rev else self.perm], x.new_zeros(x.shape[:-1])


class RotateRandom(nn.Module):
    """A fixed random orthogonal matrix (a "soft permutation", as in FrEIA's ``AllInOneBlock``), drawn
    from ``seed``; ``|det| = 1`` so the log-determinant is 0. Every output mixes every input, so the
    next coupling block never sees the same split of the features twice.

    Example:
        >>> import torch
        >>> from innbench.models.blocks import RotateRandom
        >>> rot, x = RotateRandom(4, seed=0), torch.randn(3, 4)
        >>> y, _ = rot(x)
        >>> torch.allclose(y.norm(dim=1), x.norm(dim=1), atol=1e-5), torch.allclose(rot(y, rev=True)[0], x, atol=1e-5)
        (True, True)
    """

    def __init__(self, dim: int, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=g, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))  # Haar-distributed
        self.register_buffer("w", q)  # float64: orthogonal to rounding, cast to the input's type when used

    def forward(self, x, c=None, rev: bool = False):
        w = self.w.to(x.dtype)
        return x @ (w if rev else w.T), x.new_zeros(x.shape[:-1])


#: The fixed feature mixings between coupling blocks, by name (the ``permutation`` option).
PERMUTATIONS = {"random": PermuteRandom, "orthogonal": RotateRandom}


class InvertibleSequence(nn.Module):
    """``blocks`` coupling blocks, each followed by a fixed random permutation (``permutation="random"``)
    or a fixed random rotation (``"orthogonal"``).

    The network of the INN-type models (``forward(x, c, rev)`` returns the output and ``log|det J|``, as in
    FrEIA).

    Args:
        dim: number of features (>= 2).
        cond_dim: size of the condition (0 for none).
        blocks: coupling blocks.
        hidden, layers: width and depth of the subnetworks.
        clamp: soft clamp of the log-scales.
        seed: seed of the permutations (block ``i`` uses ``seed + i``).
        activation: the subnetworks' activation.
        permutation: ``"random"`` or ``"orthogonal"``.

    Example:
        >>> import torch
        >>> from innbench.models.blocks import InvertibleSequence
        >>> net = InvertibleSequence(4, cond_dim=2, blocks=3, hidden=16)
        >>> x, c = torch.randn(8, 4), torch.randn(8, 2)
        >>> z, logdet = net(x, c)
        >>> torch.allclose(net(z, c, rev=True)[0], x, atol=1e-5), z.shape, logdet.shape
        (True, torch.Size([8, 4]), torch.Size([8]))
    """

    def __init__(self, dim: int, cond_dim: int = 0, blocks: int = 6, hidden: int = 128, layers: int = 3,
                 clamp: float = 2.0, seed: int = 0, activation="silu", permutation: str = "random"):
        super().__init__()
        if permutation not in PERMUTATIONS:
            raise ValueError(f"permutation: unknown name {permutation!r}; known: {', '.join(PERMUTATIONS)}")
        mods = []
        for i in range(blocks):
            mods.append(AffineCouplingBlock(dim, cond_dim, hidden, layers, clamp, activation))
            mods.append(PERMUTATIONS[permutation](dim, seed + i))
        self.blocks = nn.ModuleList(mods)

    def forward(self, x, c=None, rev: bool = False):
        logdet = x.new_zeros(x.shape[:-1])
        for block in (reversed(self.blocks) if rev else self.blocks):
            x, ld = block(x, c, rev=rev)
            logdet = logdet + ld
        return x, logdet


@dataclass(frozen=True)
class CouplingSettings(ModelSettings):
    """The options of a model built on :class:`InvertibleSequence` (the INNs, the cINN, the latent-mixture INN),
    each documented in the model's Args: ``blocks`` coupling blocks with subnetworks of ``layers`` x ``hidden``
    (the width option), the log-scales' soft ``clamp`` and the subnetworks' ``activation``."""

    width_field: ClassVar[str | None] = "hidden"

    blocks: int = 10
    hidden: int = 128
    layers: int = 3
    clamp: float = setting(2.0, check=positive)
    activation: str = setting("silu", choices=ACTIVATIONS)
