"""Would an ensemble help at small budgets? K members trained on the same simulations (different
initialisation seeds), samples pooled in equal shares, C2ST against the exact reference.

Usage::

    python benchmarks/ensemble_probe.py [--model nsf] [--problem two_moons] [--simulations 1000] [--members 4]
        [--observations 10] [--samples 10000] [--out results/tuning/ensemble_probe.jsonl]

Observations are prior-predictive draws with the validation seed (777), not the test or sbibm ones: this
is a tuning measurement. Prints, per member and for the pooled ensemble, the mean C2ST (5 folds, torch).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from innbench import api
from innbench.calibration import c2st
from innbench.problems import get_problem
from innbench.reference import reference_posterior, test_observations
from innbench.training import simulate_training_data

VALIDATION_SEED = 777


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="nsf")
    ap.add_argument("--problem", default="two_moons")
    ap.add_argument("--simulations", type=int, default=1000)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--observations", type=int, default=10)
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problem = get_problem(args.problem)
    data = simulate_training_data(problem, args.simulations, 0)
    _, y = test_observations(args.problem, args.observations, seed=VALIDATION_SEED)
    ref, _ = reference_posterior(args.problem, y, args.samples)
    members, seconds = [], 0.0
    for k in range(args.members):
        t = time.perf_counter()
        members.append(api.train(problem, args.model, seed=k, data=data, progress=False))
        seconds += time.perf_counter() - t
    single = [members[0].sample(y, args.samples, seed=0)]
    share = args.samples // args.members
    pooled = np.concatenate([m.sample(y, share, seed=k) for k, m in enumerate(members)], axis=1)
    row = {"model": args.model, "problem": args.problem, "simulations": args.simulations,
           "members": args.members, "train_seconds": round(seconds, 1),
           "best_epochs": [m.train_info.get("best_epoch") for m in members]}
    for name, s in (("single", single[0]), ("ensemble", pooled)):
        scores = [c2st(s[i], ref[i], seed=i) for i in range(len(y))]
        row[f"c2st_{name}"] = [round(v, 4) for v in scores]
        row[f"c2st_{name}_mean"] = round(float(np.mean(scores)), 4)
    print(json.dumps(row))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
