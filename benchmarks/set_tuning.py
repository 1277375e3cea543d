"""Tuning runs for the set problem ``gaussian_set``: one model on a simulation budget, scored per set size.

Usage::

    python benchmarks/set_tuning.py [--model flow_matching] [--simulations 10000] [--set KEY=VALUE ...]
        [--budget KEY=VALUE ...] [--draws 10] [--sizes 5 100] [--samples 4000] [--threads 1]
        [--split validation|test] [--sample-steps 8 32] [--tag NAME] [--out results/tuning/set_tuning.jsonl]

Trains ``--model`` with :func:`innbench.api.train` on ``--simulations`` simulations (validation split, early
stopping), then draws ``--draws`` parameter vectors from the prior (``--split validation``: seed 777, never
the benchmark's test observations) and observes each through a set of every size in ``--sizes``, so one
trained network answers for small and large sets. For each observation it draws ``--samples`` posterior
samples and scores them against as many exact normal-inverse-Wishart draws: Err_post (the benchmark's MMD)
and its noise floor (two exact draws), per set size. One JSON line per run goes to ``--out``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from innbench import api
from innbench.metrics import err_post
from innbench.problems import get_problem

from _common import VALIDATION_SEED, append_jsonl, parse_pairs

SEEDS = {"validation": VALIDATION_SEED, "test": 2021}


class SufficientStatistics(torch.nn.Module):
    """Not learned: the items' mean (2), covariance (lower triangle, 3) and ``log n / log n_max`` of a set
    ``(m, n_max, 2)``, all the Gaussian posterior depends on. With it, what remains of Err_post is the
    conditional flow's, not the summary's."""

    out_dim = 6

    def __init__(self, n_max: int):
        super().__init__()
        self.n_max = n_max

    def forward(self, y):
        from innbench.models.summary import set_moments, summary_input

        mean, cov, count = set_moments(*summary_input(y))
        return torch.cat([mean, cov[:, 0, :1], cov[:, 1, :2], torch.log(count) / np.log(self.n_max)], -1)


def observations(problem, draws: int, sizes, seed: int):
    """``draws`` prior draws, each seen through one set of every size: ``(x (k, 5), y (k, y_dim), n (k,))``."""
    rng = np.random.default_rng(seed)
    x = problem.sample_prior(draws, rng)
    xs, ys, ns = [], [], []
    for size in sizes:
        ys.append(problem.draw_sets(x, np.full(draws, size), rng))
        xs.append(x)
        ns.append(np.full(draws, size))
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ns)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="flow_matching")
    ap.add_argument("--simulations", type=int, default=10_000)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a model option")
    ap.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE", help="a SimulationBudget field")
    ap.add_argument("--draws", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 100])
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--split", choices=tuple(SEEDS), default="validation")
    ap.add_argument("--moments", action="store_true",
                    help="the set summary with pooled moment features (SetSummary(moments=True), passed as a custom "
                         "summary network)")
    ap.add_argument("--oracle-summary", action="store_true",
                    help="a diagnostic: no learned summary, the model reads the sufficient statistics themselves "
                         "(the items' mean, covariance and log n; SufficientStatistics below)")
    ap.add_argument("--summary-hidden", type=int, default=64)
    ap.add_argument("--summary-dim", type=int, default=10)
    ap.add_argument("--preset", default=None,
                    help="train with this fixed-batch preset (fresh simulations every batch, the paper's protocol; "
                         "--budget then sets Budget fields such as n_batches) instead of --simulations")
    ap.add_argument("--sample-steps", type=int, nargs="+", default=None,
                    help="flow matching: score the trained model once per number of ODE steps (its 'steps' option "
                         "at sampling time); one output line each")
    ap.add_argument("--tag", default="")
    ap.add_argument("--out", default="results/tuning/set_tuning.jsonl")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    problem = get_problem("gaussian_set")
    options, budget = parse_pairs(args.set, "--set"), parse_pairs(args.budget, "--budget")
    x_true, y, sizes = observations(problem, args.draws, args.sizes, SEEDS[args.split])

    if args.oracle_summary:
        options["summary"] = SufficientStatistics(problem.observation_shape[0])
    if args.moments:
        from innbench.models.summary import SetSummary

        options["summary"] = SetSummary(*problem.observation_shape, args.summary_dim, args.summary_hidden,
                                        moments=True)
    t0 = time.perf_counter()
    if args.preset:
        model = api.train(problem, args.model, seed=args.seed, preset=args.preset, budget_overrides=budget,
                          progress=False, **options)
    else:
        model = api.train(problem, args.model, seed=args.seed, simulations=args.simulations,
                          simulation_budget=budget, progress=False, **options)
    train_s = time.perf_counter() - t0
    rng = np.random.default_rng(SEEDS[args.split] + 1)
    ref, _ = problem.exact_posterior(y, args.samples, rng)
    ref2, _ = problem.exact_posterior(y, args.samples, rng)
    floor = err_post(ref2, ref)
    if args.oracle_summary:
        options["summary"] = "sufficient statistics (oracle)"
    if args.moments:
        options["summary"] = f"moments (dim {args.summary_dim}, hidden {args.summary_hidden})"
    for steps in args.sample_steps or [None]:
        if steps is not None:  # the ODE solver's steps are read at sampling time
            for m in getattr(model, "members", [model]):
                m.configure(steps=steps)
        samples = api.sample(model, y, n=args.samples, seed=args.seed + 1)
        err = err_post(samples, ref)
        std_ratio = samples.std(1) / ref.std(1)
        row = {"tag": args.tag, "model": args.model, "simulations": None if args.preset else args.simulations,
               "preset": args.preset, "options": options, "sample_steps": steps,
               "budget": budget, "split": args.split, "seed": args.seed, "train_s": round(train_s, 1),
               "epochs": model.train_info.get("epochs"), "best_epoch": model.train_info.get("best_epoch"),
               "stop": model.train_info.get("stopped")}
        for size in args.sizes:
            k = sizes == size
            row[f"err_post_n{size}"] = float(err[k].mean())
            row[f"floor_n{size}"] = float(floor[k].mean())
            row[f"ratio_n{size}"] = float(err[k].mean() / floor[k].mean())
            row[f"std_ratio_n{size}"] = [round(float(v), 3) for v in std_ratio[k].mean(0)]
            row[f"err_post_n{size}_each"] = [round(float(v), 5) for v in err[k]]
        append_jsonl(row, args.out)


if __name__ == "__main__":
    sys.exit(main())
