"""Short tuning run: train one model with given options, report Err_post/Err_resim on test observations.

Usage: python benchmarks/tune.py MODEL PROBLEM [--batches 3000] [--observations 100] [--set KEY=VALUE ...]
       [--threads 1] [--save DIR]

The README's tuning numbers (condition noise and features for the cINN, sigma for the INN) come from
this script with --batches 3000 --batch-size 512 --observations 100 --threads 1.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from innbench.metrics import err_post, err_resim
from innbench.models import build_model
from innbench.problems import get_problem
from innbench.reference import reference_posterior, test_observations
from innbench.training import fit, get_budget


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("problem")
    ap.add_argument("--batches", type=int, default=3000)
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--observations", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--params", type=int, default=None, help="scale the width option to this parameter count")
    ap.add_argument("--save")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    opts = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}
    p = get_problem(args.problem)
    if args.params:
        from innbench.api import width_for_params
        from innbench.models import get_model_class

        cls = get_model_class(args.model)
        if cls.width_option and cls.width_option not in opts:
            opts[cls.width_option] = width_for_params(cls, p, args.params, **opts)
    m = build_model(args.model, p, **opts)
    info = fit(m, get_budget("default", n_batches=args.batches, batch_size=args.batch_size), progress=False)
    _, y = test_observations(p, args.observations)
    ref, _ = reference_posterior(p, y, 4000)
    t = time.perf_counter()
    s = m.sample(y, 4000)
    ep = err_post(s, ref)
    dist, sq, _ = err_resim(p, s, y)
    print(json.dumps({"model": args.model, "problem": args.problem, "options": opts, "params": m.n_parameters(),
                      "train_seconds": round(info["train_seconds"], 1), "err_post_mean": round(float(ep.mean()), 4),
                      "err_post_median": round(float(np.median(ep)), 4),
                      "err_post_quantiles_10_50_90_99": np.quantile(ep, [0.1, 0.5, 0.9, 0.99]).round(4).tolist(),
                      "err_resim_mean": round(float(np.nanmean(dist)), 4),
                      "err_resim_sq_mean": round(float(np.nanmean(sq)), 5),
                      "eval_seconds": round(time.perf_counter() - t, 1)}))
    if args.save:
        m.save(args.save)


if __name__ == "__main__":
    main()
