"""Differentiable training losses shared by several models (MMD of the ICLR 2019 INN recipe)."""

from __future__ import annotations

import torch

__all__ = ["BACKWARD_MMD_KERNELS", "FORWARD_MMD_KERNELS", "mmd_loss"]

#: Kernels of the forward MMD on (z, y) in the lab's INN code: (C, a) pairs of ``(a C / (C + d^2))^a``.
FORWARD_MMD_KERNELS = ((0.2, 2.0), (1.5, 2.0), (3.0, 2.0))
#: Kernels of the backward MMD on x: the same family as Err_post.
BACKWARD_MMD_KERNELS = ((0.2, 0.1), (0.2, 0.5), (0.2, 2.0))


def mmd_loss(a: torch.Tensor, b: torch.Tensor, kernels=FORWARD_MMD_KERNELS) -> torch.Tensor:
    """Biased squared MMD between batches ``a`` and ``b`` (same kernel family as Err_post), differentiable."""

    def k(p, q):
        # squared distances by expansion: torch.cdist's backward pass is slow on the CPU
        d2 = ((p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2.0 * p @ q.T).clamp_min(0.0)
        return sum(((alpha * c) / (c + d2)).pow(alpha) for c, alpha in kernels)

    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
