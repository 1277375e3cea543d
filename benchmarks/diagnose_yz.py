"""Diagnose a saved [y, z] model (INN, INN+MMD, iResNet, invertible autoencoder) on validation observations.

Usage::

    python benchmarks/diagnose_yz.py MODEL_DIR [--observations 50] [--samples 2000]

Prints, in standardised units: how well the network's forward output ``y_hat`` fits the true ``y`` on
prior draws (the forward fit), the latent ``z`` statistics on prior draws (mean, std, should be 0, 1),
and, for posterior samples ``x = f^{-1}([y*, z])``: how far the network's own forward ``y_hat(x)`` is from
``y*`` (the inverse's consistency) and how far the true forward ``f(x)`` is (the re-simulation error), so
a large Err_resim can be attributed to the fit, the inverse or samples outside the training support.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from tune import validation_observations  # noqa: E402

from innbench.models.base import load_model  # noqa: E402


def encode(m, xs):
    """The network's forward output [y_hat, z, ...] for standardised x."""
    if hasattr(m, "encode"):
        return m.encode(xs)
    h = m._pad_x(xs)
    if hasattr(m, "forward_net"):
        return m.forward_net(h)
    return m.net(h)[0]


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--observations", type=int, default=50)
    ap.add_argument("--samples", type=int, default=2000)
    a = ap.parse_args()
    m = load_model(a.model_dir)
    p = m.problem
    yd, zd = p.y_dim, m.dim_z()
    rng = np.random.default_rng(5)
    x = p.sample_prior(20000, rng)
    y = p.forward(x)
    xs = m.standardize_x(torch.as_tensor(x, dtype=torch.float32))
    ys = m.condition(torch.as_tensor(y, dtype=torch.float32))
    out = encode(m, xs)
    fit = (out[:, :yd] - ys).pow(2).sum(-1).sqrt()
    z = out[:, yd:yd + zd]
    print(f"forward fit |y_hat - y| (std units) on prior draws: mean {fit.mean():.4f} median {fit.median():.4f} "
          f"q99 {fit.quantile(0.99):.4f}")
    print(f"z on prior draws: mean {z.mean(0).numpy().round(3)} std {z.std(0).numpy().round(3)}; "
          f"rest rms {out[:, yd + zd:].pow(2).mean().sqrt():.4f}")
    _, yv = validation_observations(p, a.observations)
    s = m.sample(yv, a.samples, round_discrete=False)  # (m, n, x_dim)
    flat = s.reshape(-1, p.x_dim)
    y_star = np.repeat(yv, a.samples, 0)
    xs2 = m.standardize_x(torch.as_tensor(flat, dtype=torch.float32))
    out2 = encode(m, xs2)
    ys2 = m.condition(torch.as_tensor(y_star, dtype=torch.float32))
    cons = (out2[:, :yd] - ys2).pow(2).sum(-1).sqrt()
    fy = p.forward(flat)
    resim = np.linalg.norm(fy - y_star, axis=-1)
    fys = m.condition(torch.as_tensor(fy, dtype=torch.float32))
    fit2 = (out2[:, :yd] - fys).pow(2).sum(-1).sqrt()
    lp = p.log_prior(flat)
    print(f"samples: |y_hat(x) - y*| (inverse consistency, std units) mean {cons.mean():.4f} median {cons.median():.4f}")
    print(f"samples: |y_hat(x) - f(x)| (forward fit at the samples, std units) mean {np.nanmean(fit2.numpy()):.4f} "
          f"median {np.nanmedian(fit2.numpy()):.4f}")
    print(f"samples: |f(x) - y*| (Err_resim, raw units) mean {np.nanmean(resim):.4f} median {np.nanmedian(resim):.4f}")
    print(f"samples: log prior mean {np.mean(lp[np.isfinite(lp)]):.3f} (prior draws: {np.mean(p.log_prior(x)):.3f})")
    per = resim.reshape(len(yv), -1)
    worst = np.argsort(-np.nanmean(per, 1))[:5]
    for i in worst:
        print(f"  y* {yv[i].round(3)}: resim {np.nanmean(per[i]):.3f}, consistency {cons.reshape(len(yv), -1)[i].mean():.3f}")


if __name__ == "__main__":
    main()
