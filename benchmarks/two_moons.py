"""The cINN (or any model) on sbibm's two-moons task (or another SBI task): C2ST against reference posteriors.

Usage::

    python benchmarks/two_moons.py [--problem two_moons] [--model cinn] [--simulations 100000] [--preset default]
        [--batches N] [--observations 10] [--samples 10000] [--set KEY=VALUE ...] [--threads 2]
        [--split validation|test] [--out results/two_moons.jsonl]

Trains on ``--simulations`` simulated pairs with the preset's batch count (or, with
``--early-stopping``, on exactly that simulation budget with a validation split), then for each observation
draws ``--samples`` posterior samples and scores them with the classifier two-sample test (C2ST,
sbibm's classifier and 5-fold protocol; 0.5 = indistinguishable) against the same number of exact
reference draws (:meth:`innbench.problems.TwoMoons.exact_posterior`: the simulator's noise inverted,
no tolerance; for ``--problem`` another task, its own reference: closed form or MCMC on the exact
likelihood). Observations are prior-predictive draws: ``--split test`` uses the benchmark's fixed
test seed, ``validation`` (for tuning) another seed. sbibm's own ten observations are not bundled
(no downloads at run time), so numbers are comparable in protocol, not observation by observation.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from innbench import api
from innbench.calibration import c2st
from innbench.reference import TEST_SEED, reference_posterior, test_observations
from innbench.runtime import tune_allocator

from _common import VALIDATION_SEED, append_jsonl, parse_pairs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="two_moons")
    ap.add_argument("--model", default="cinn")
    ap.add_argument("--simulations", type=int, default=100_000)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--batches", type=int, default=None)
    ap.add_argument("--params", type=int, default=None)
    ap.add_argument("--observations", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--split", choices=("validation", "test"), default="test")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--early-stopping", action="store_true",
                    help="train on exactly --simulations pairs with a validation split and early stopping "
                         "(innbench.simbudget) instead of the preset's fixed batch count")
    ap.add_argument("--patience", type=int, default=None, help="epochs without improvement (default: the budget's)")
    ap.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                    help="with --early-stopping: a SimulationBudget field (batch_size, lr, weight_decay, ...)")
    ap.add_argument("--c2st-backend", choices=("torch", "sklearn"), default="torch",
                    help="sklearn: sbibm's own classifier (MLPClassifier, 5 folds), for numbers next to published "
                         "ones; torch (default): the same network, about 20 times faster")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default=None, help="append the result as one JSON line to this file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tune_allocator()
    opts = parse_pairs(args.set, "--set")
    overrides = {"n_train": args.simulations}
    if args.batches:
        overrides["n_batches"] = args.batches
    if args.params:
        overrides["params"] = args.params
    if args.early_stopping:
        model = api.train(args.problem, args.model, seed=args.seed, simulations=args.simulations, progress=False,
                          simulation_budget={**({"patience": args.patience} if args.patience else {}),
                                             **parse_pairs(args.budget, "--budget")},
                          budget_overrides={"params": args.params} if args.params else None, **opts)
    else:
        model = api.train(args.problem, args.model, seed=args.seed, preset=args.preset, progress=False,
                          budget_overrides=overrides, **opts)
    seed = TEST_SEED if args.split == "test" else VALIDATION_SEED
    _, y = test_observations(model.problem, args.observations, seed=seed)
    ref, _ = reference_posterior(model.problem, y, args.samples)
    t = time.perf_counter()
    s = model.sample(y, args.samples, seed=args.seed)
    sample_s = time.perf_counter() - t
    scores = [c2st(s[i], ref[i], seed=i, backend=args.c2st_backend) for i in range(len(y))]
    row = {"tag": args.tag, "problem": args.problem, "model": args.model, "options": model.config,
           "simulations": args.simulations,
           "budget": model.train_info["budget"], "n_parameters": model.n_parameters(),
           "train_seconds": round(model.train_info["train_seconds"], 1), "split": args.split,
           "observations": len(y), "samples": args.samples, "c2st_backend": args.c2st_backend,
           "epochs": model.train_info.get("epochs"), "best_epoch": model.train_info.get("best_epoch"),
           "c2st": [round(v, 4) for v in scores],
           "c2st_mean": round(float(np.mean(scores)), 4), "sample_seconds": round(sample_s, 2)}
    append_jsonl(row, args.out)
    return row


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
