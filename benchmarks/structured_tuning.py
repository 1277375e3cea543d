"""Tuning runs without references: held-out log-likelihood and calibration of one model on a simulation budget.

Usage::

    python benchmarks/structured_tuning.py [--problem epidemic] [--model cinn] [--simulations 10000]
        [--set KEY=VALUE ...] [--budget KEY=VALUE ...] [--nll 2000] [--sbc 200] [--sbc-samples 1000]
        [--threads 1] [--tag NAME] [--out results/tuning/structured_tuning.jsonl]

For problems whose reference posteriors are expensive (the epidemic's MCMC takes 2-3 minutes per
observation), settings are compared on two measurements that need none, both on fresh validation
simulations (seeds 777 and 778, never the benchmark's fixed test observations):

- the mean negative log posterior density ``-log q(x | y)`` of ``--nll`` simulated pairs: its expectation is
  the expected KL divergence from the true posterior to the model's plus a constant, so lower is better
  (models with a density only);
- SBC on ``--sbc`` prior-predictive draws with ``--sbc-samples`` posterior samples each: the smallest rank
  histogram p-value and the coverage of the central 50 % and 90 % intervals, as the benchmark reports them.

One JSON line per run goes to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from innbench import api
from innbench.calibration import sbc_ranks
from innbench.evaluation import calibration_summary
from innbench.problems import get_problem
from innbench.training import simulate_training_data

from _common import VALIDATION_SEED, append_jsonl, parse_pairs

NLL_SEED, SBC_SEED = VALIDATION_SEED, VALIDATION_SEED + 1


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="epidemic")
    ap.add_argument("--model", default="cinn")
    ap.add_argument("--simulations", type=int, default=10_000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model option")
    ap.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE", help="a SimulationBudget field")
    ap.add_argument("--nll", type=int, default=2000)
    ap.add_argument("--sbc", type=int, default=200)
    ap.add_argument("--sbc-samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--members", type=int, default=1,
                    help="an ensemble: this many models trained on the same simulations from seeds seed, seed+1, ...; "
                         "density the mean of theirs, samples pooled in equal shares")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default="results/tuning/structured_tuning.jsonl")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problem = get_problem(args.problem)
    options, budget = parse_pairs(args.set, "--set"), parse_pairs(args.budget, "--budget")

    t0 = time.perf_counter()
    data = simulate_training_data(problem, args.simulations, args.seed)
    models = [api.train(problem, args.model, seed=args.seed + k, data=data, simulation_budget=budget,
                        progress=False, **options) for k in range(args.members)]
    train_s = time.perf_counter() - t0
    infos = [m.train_info for m in models]
    row = {"tag": args.tag, "problem": args.problem, "model": args.model, "simulations": args.simulations,
           "options": options, "budget": budget, "seed": args.seed, "members": args.members,
           "train_s": round(train_s, 1), "epochs": [i.get("epochs") for i in infos],
           "best_epoch": [i.get("best_epoch") for i in infos], "stop": [i.get("stopped") for i in infos],
           "best_val_loss": [i.get("final_loss") for i in infos], "n_parameters": models[0].n_parameters()}
    if args.nll and models[0].facts.density:
        x, y = problem.simulate(args.nll, np.random.default_rng(NLL_SEED))
        lps = np.stack([np.concatenate([m.log_prob(x[i:i + 500], y[i:i + 500]) for i in range(0, len(x), 500)])
                        for m in models])
        lp = np.logaddexp.reduce(lps, axis=0) - np.log(len(models))
        row["nll"] = float(-np.mean(lp))
        row["nll_se"] = float(np.std(lp) / np.sqrt(len(lp)))
        row["nll_members"] = [float(-v.mean()) for v in lps]
    if args.sbc:
        x, y = problem.simulate(args.sbc, np.random.default_rng(SBC_SEED))
        share = -(-args.sbc_samples // len(models))
        samples = np.concatenate([api.sample(m, y, n=share, seed=args.seed + 1) for m in models], 1)
        samples = samples[:, : args.sbc_samples]
        row.update(calibration_summary(sbc_ranks(samples, x, rng=0), samples.shape[1]))
    append_jsonl(row, args.out)


if __name__ == "__main__":
    sys.exit(main())
