"""Tuning run: train one model with given options and budget, score it on *validation* observations.

Usage::

    python benchmarks/tune.py MODEL PROBLEM [--preset default] [--batches 4000] [--batch-size 512]
        [--n-train 1000000] [--lr 2e-3] [--params 100000] [--observations 100] [--samples 4000]
        [--set KEY=VALUE ...] [--threads 1] [--tag NAME] [--log results/tuning/tune.jsonl] [--save DIR]

Validation observations are prior-predictive draws with seed ``VALIDATION_SEED`` (not the benchmark's
fixed test seed), so settings chosen here are not chosen on the test set. Every run appends one JSON
line to ``--log`` (the ablation tables in ``docs/journal/model_recipes.md`` are read from those lines): Err_post
mean, median and quantiles, Err_resim, and for kinematics the split into interior targets
(|horizontal| < 1.5) and targets near the edge of the reach (|horizontal| >= 1.9).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from innbench.api import width_for_params
from innbench.metrics import err_post, err_resim
from innbench.models import build_model, get_model_class
from innbench.problems import get_problem
from innbench.reference import reference_posterior, test_observations
from innbench.runtime import tune_allocator
from innbench.training import fit, get_budget

from _common import VALIDATION_SEED, append_jsonl, parse_pairs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("problem")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--batches", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--n-train", type=int, default=None)
    ap.add_argument("--lr", type=float, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--observations", type=int, default=100)
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--params", type=int, default=None, help="scale the width option to this parameter count")
    ap.add_argument("--tag", default="")
    ap.add_argument("--log", default="results/tuning/tune.jsonl")
    ap.add_argument("--save")
    ap.add_argument("--save-samples", help="write model samples, reference and y to this .npz")
    ap.add_argument("--sweep", metavar="KEY=V1,V2,...",
                    help="after training, score again with each value of a sampling-time option (one log line each)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tune_allocator()
    opts = parse_pairs(args.set, "--set")
    p = get_problem(args.problem)
    overrides = {k: v for k, v in (("n_batches", args.batches), ("batch_size", args.batch_size),
                                   ("n_train", args.n_train), ("lr", args.lr)) if v is not None}
    budget = get_budget(args.preset, **overrides)
    cls = get_model_class(args.model)
    config = {**{k: v for k, v in budget.model.items() if k in cls.defaults}, **opts, "seed": args.seed}
    if args.params and cls.width_option and cls.width_option not in opts:
        config[cls.width_option] = width_for_params(cls, p, args.params, **config)
    m = build_model(args.model, p, **config)
    info = fit(m, budget, seed=args.seed, progress=False)
    _, y = test_observations(p, args.observations, seed=VALIDATION_SEED)
    ref, _ = reference_posterior(p, y, args.samples)
    sweep = [(None, None)]
    if args.sweep:
        key, values = args.sweep.split("=", 1)
        sweep = [(key, parse_pairs([f"{key}={v}"], "--sweep")[key]) for v in values.split(",")]
    for key, value in sweep:
        if key is not None:
            for member in getattr(m, "members", [m]):
                member.configure(**{key: value})
        tag = args.tag if key is None else f"{args.tag}@{key}={value}"
        s, ep, dist = _score(args, p, m, y, ref, config, budget, info, tag)
    if args.save:
        m.save(args.save)
    if args.save_samples:
        np.savez_compressed(args.save_samples, samples=s.astype(np.float32), reference=ref.astype(np.float32), y=y,
                            err_post=ep, err_resim=dist)


def _score(args, p, m, y, ref, config, budget, info, tag):
    t = time.perf_counter()
    s = m.sample(y, args.samples)
    sample_s = time.perf_counter() - t
    ep = err_post(s, ref)
    dist, sq, _ = err_resim(p, s, y)
    row = {"tag": tag, "model": args.model, "problem": args.problem, "options": config, "config": m.config,
           "budget": {k: getattr(budget, k) for k in ("n_train", "n_batches", "batch_size", "lr")},
           "params": m.n_parameters(), "train_seconds": round(info["train_seconds"], 1),
           "final_loss": info["final_loss"], "recoveries": info["recoveries"],
           "observations": args.observations, "samples": args.samples,
           "err_post_mean": round(float(ep.mean()), 5), "err_post_median": round(float(np.median(ep)), 5),
           "err_post_q10_50_90_99": np.quantile(ep, [0.1, 0.5, 0.9, 0.99]).round(4).tolist(),
           "err_resim_mean": round(float(np.nanmean(dist)), 5), "err_resim_sq_mean": round(float(np.nanmean(sq)), 6),
           "sample_seconds": round(sample_s, 2)}
    if p.name == "kinematics":
        h = np.abs(y[:, 0])
        for name, mask in (("interior", h < 1.5), ("edge", h >= 1.9)):
            row[f"err_post_{name}"] = round(float(ep[mask].mean()), 5) if mask.any() else None
            row[f"err_resim_{name}"] = round(float(np.nanmean(dist[mask])), 5) if mask.any() else None
    append_jsonl(row, args.log)
    return s, ep, dist


if __name__ == "__main__":
    main()
