"""Differentiable training losses shared by several models (MMD of the ICLR 2019 INN recipe)."""

from __future__ import annotations

import torch

__all__ = ["FORWARD_MMD_KERNELS", "mmd_loss"]

#: Kernels of the forward MMD on (z, y) in the lab's INN code: (C, a) pairs of ``(a C / (C + d^2))^a``.
FORWARD_MMD_KERNELS = ((0.2, 2.0), (1.5, 2.0), (3.0, 2.0))


def mmd_loss(a: torch.Tensor, b: torch.Tensor, kernels=FORWARD_MMD_KERNELS) -> torch.Tensor:
    """Biased squared MMD between batches ``a`` and ``b`` (same kernel family as Err_post), differentiable."""

    def k(p, q):
        d2 = torch.cdist(p, q).pow(2)
        return sum(((alpha * c) / (c + d2)).pow(alpha) for c, alpha in kernels)

    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
