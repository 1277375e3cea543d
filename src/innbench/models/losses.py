"""Differentiable training losses shared by several models (MMD of the ICLR 2019 INN recipe)."""

from __future__ import annotations

import torch

__all__ = ["BACKWARD_MMD_KERNELS", "FORWARD_MMD_KERNELS", "autoencoder_loss", "mmd_loss", "observation_weights"]

#: Kernels of the forward MMD on (z, y) in the lab's INN code: (C, a) pairs of ``(a C / (C + d^2))^a``.
FORWARD_MMD_KERNELS = ((0.2, 2.0), (1.5, 2.0), (3.0, 2.0))
#: Kernels of the backward MMD on x: the same family as Err_post.
BACKWARD_MMD_KERNELS = ((0.2, 0.1), (0.2, 0.5), (0.2, 2.0))


def _squared_distances(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Pairwise ``|p_i - q_j|^2`` by expansion (torch.cdist's backward pass is slow on the CPU)."""
    return ((p * p).sum(1)[:, None] + (q * q).sum(1)[None, :] - 2.0 * p @ q.T).clamp_min(0.0)


def mmd_loss(a: torch.Tensor, b: torch.Tensor, kernels=FORWARD_MMD_KERNELS, weights: torch.Tensor | None = None
             ) -> torch.Tensor:
    """Biased squared MMD between batches ``a`` and ``b`` (same kernel family as Err_post), differentiable.

    ``weights`` (``(n, n)``, optional) multiplies the pairwise terms ``k(a_i, a_j) + k(b_i, b_j) -
    2 k(a_i, b_j)`` and the sum is divided by the weights' sum (so the loss keeps the unweighted scale;
    the ICLR 2019 code's ``mmd_back_weighted`` takes the plain mean). With
    ``weights_ij = exp(-|y_i - y_j|^2 / (2 s^2))`` for the observations ``y_i`` that row ``i`` of ``a`` and
    of ``b`` belong to, this is the MMD of the joint kernel ``k_x k_y`` between ``(a, y)`` and ``(b, y)``,
    which compares the conditionals of nearby observations rather than only the marginals.

    Args:
        a: a batch ``(n, d)``.
        b: a batch ``(n, d)`` (``(m, d)`` without weights).
        kernels: the ``(C, a)`` pairs of the kernel (:data:`FORWARD_MMD_KERNELS`, :data:`BACKWARD_MMD_KERNELS`).
        weights: optional ``(n, n)`` weights of the pairwise terms (:func:`observation_weights`).

    Returns:
        A scalar tensor.

    Example:
        >>> import torch
        >>> from innbench.models.losses import mmd_loss
        >>> g = torch.Generator().manual_seed(0)
        >>> a, b = torch.randn(200, 2, generator=g), torch.randn(200, 2, generator=g)
        >>> bool(mmd_loss(a, b) < mmd_loss(a, b + 1.0)), mmd_loss(a, a).abs().item() < 1e-6
        (True, True)
    """

    def k(p, q):
        d2 = _squared_distances(p, q)
        out, inv = 0.0, {}
        for c, alpha in kernels:
            if c not in inv:
                inv[c] = (c + d2).reciprocal()
            u = inv[c] * (alpha * c)
            # (a C / (C + d^2))^a with the cheap special cases: a general pow and its backward pass cost
            # several times a square or a square root on the CPU
            if alpha == 2.0:
                out = out + u.square()
            elif alpha == 1.0:
                out = out + u
            elif alpha == 0.5:
                out = out + u.sqrt()
            else:
                out = out + torch.exp(alpha * torch.log(u))
        return out

    if weights is None:
        return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()
    return ((k(a, a) + k(b, b) - 2 * k(a, b)) * weights).sum() / weights.sum()


def observation_weights(y: torch.Tensor, width: float) -> torch.Tensor:
    """``exp(-|y_i - y_j|^2 / (2 width^2))`` for a batch of (standardised) observations: the weights of
    :func:`mmd_loss` that make a backward MMD conditional on ``y``.

    Example:
        >>> import torch
        >>> from innbench.models.losses import observation_weights
        >>> w = observation_weights(torch.tensor([[0.0], [0.3], [3.0]]), width=0.3)
        >>> [[round(v, 3) for v in row] for row in w.tolist()]  # one width apart: exp(-1/2)
        [[1.0, 0.607, 0.0], [0.607, 1.0, 0.0], [0.0, 0.0, 1.0]]
    """
    return torch.exp(-0.5 / width**2 * _squared_distances(y, y))


def autoencoder_loss(x, y, enc, decode, z_dim: int, mmd_weight: float, reconstruction_weight: float,
                     decode_from: str = "y", decode_noise: float = 0.05, fit_weight: float = 1.0):
    """Eq. 7 on an encoding ``enc = [y_hat, z, rest]`` of ``x``, with ``decode`` mapping an encoding back to
    ``x``: ``fit_weight * (||y_hat - y||^2 + ||rest||^2) + mmd_weight * MMD([z, y], [z', y]) + reconstruction_weight *
    ||x - x_rec||^2`` (batch means, forward kernels, ``z' ~ N(0, I)``). Returns ``(loss, {part: value})``.

    ``decode_from`` says what the reconstruction decodes:

    - ``"y"`` (default): ``x_rec = decode([y + s e1, z + s e2, s e3])`` with ``s = decode_noise``, the
      *true* observation and the encoder's ``z`` both slightly perturbed (the lab's ICLR 2019 code decodes
      its own detached output instead, like ``"y_hat"`` with noise). Sampling decodes ``[y*, z']``, so the
      decoder is trained on what it is given
      at sampling time, and the encoder cannot hide information about ``x`` in small deviations of
      ``y_hat`` from ``y`` (the channel ``"y_hat"`` leaves open).
    - ``"y_hat"``: ``x_rec = decode(enc)``, Eq. 7 as printed. Measured on kinematics the decoder then
      learned to read ``x`` from ``y_hat``'s errors (rms 0.14 standardised units) and decoding the true
      ``y*`` failed on whole regions of targets (Err_post 0.80 on 100 validation targets).
    """
    yd = y.shape[-1]
    y_hat, z, rest = enc[:, :yd], enc[:, yd : yd + z_dim], enc[:, yd + z_dim :]
    fit = ((y_hat - y) ** 2).sum(-1).mean() + (rest**2).sum(-1).mean()
    mmd = mmd_loss(torch.cat([z, y], -1), torch.cat([torch.randn_like(z), y], -1), FORWARD_MMD_KERNELS)
    if decode_from == "y_hat":
        x_rec = decode(enc)
    elif decode_from == "y":
        s = decode_noise
        x_rec = decode(torch.cat([y + s * torch.randn_like(y), z + s * torch.randn_like(z),
                                  s * torch.randn_like(rest)], -1))
    else:
        raise ValueError(f"decode_from: expected 'y' or 'y_hat', got {decode_from!r}")
    rec = ((x_rec - x) ** 2).sum(-1).mean()
    loss = fit_weight * fit + mmd_weight * mmd + reconstruction_weight * rec
    return loss, {"fit": float(fit.detach()), "mmd": float(mmd.detach()), "reconstruction": float(rec.detach())}
