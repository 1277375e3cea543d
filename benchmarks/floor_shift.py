"""What "Err_post within 2x of its noise floor" asks of a posterior's location.

Err_post is the biased MMD (PROTOCOL.md's multi-scale inverse-multiquadric kernel on raw coordinates);
its noise floor is the Err_post of one exact sample set against another of the same size. This script
draws an isotropic 5-D Gaussian "posterior" of standard deviation ``s`` (the widths of issue 15's set
posteriors), shifts a second sample set by ``shift * s`` along a random direction, and prints
Err_post / floor, averaged over ``--reps`` repetitions, next to ``Phi(shift / 2)``, the accuracy of
the best classifier between the two Gaussians (what C2ST estimates).

For a posterior much narrower than the kernel (``s`` well below ``sqrt(0.2)``), the kernel is about
``k(0) - 42 |x - x'|^2`` near the diagonal, so Err_post is about ``84 |shift s|^2`` above a floor of about
``168 tr(Sigma) / N``: a ratio of ``1 + N shift^2 / 10`` for five dimensions and ``N`` samples a side.
"Within 2x" then asks for a shift of about ``sqrt(10 / N)`` standard deviations (0.03 at 10,000 samples),
the size of the Monte Carlo error of the reference's own mean; it does not shrink with the posterior's
width in these units, and it is stricter the more samples are drawn.

Usage::

    python benchmarks/floor_shift.py [--samples 10000] [--reps 3] [--out results/tuning/floor_shift.json]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch

from innbench.metrics import mmd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--dim", type=int, default=5)
    ap.add_argument("--widths", type=float, nargs="+", default=[0.03, 0.07, 0.2])
    ap.add_argument("--shifts", type=float, nargs="+", default=[0.0, 0.03, 0.05, 0.1, 0.3])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    n, d = args.samples, args.dim
    rows = []
    for s in args.widths:
        floors = [mmd(rng.normal(size=(n, d)) * s, rng.normal(size=(n, d)) * s) for _ in range(args.reps)]
        floor = float(np.mean(floors))
        for shift in args.shifts:
            errs = []
            for _ in range(args.reps):
                u = rng.normal(size=d)
                u /= np.linalg.norm(u)
                errs.append(mmd(rng.normal(size=(n, d)) * s, rng.normal(size=(n, d)) * s + shift * s * u))
            row = {"sd": s, "shift_sd": shift, "samples": n, "floor": floor, "err_post": float(np.mean(errs)),
                   "ratio": float(np.mean(errs)) / floor,
                   "ratio_linear": 1 + n * shift ** 2 / (2 * d),
                   "c2st_best": 0.5 * (1 + math.erf(shift / 2 / math.sqrt(2)))}
            rows.append(row)
            print(f"sd {s:<5} shift {shift:<4} sd: Err_post {row['err_post']:.2e}  floor {floor:.2e}  "
                  f"ratio {row['ratio']:6.2f} (linearised {row['ratio_linear']:6.2f})  "
                  f"best C2ST {row['c2st_best']:.3f}", flush=True)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
