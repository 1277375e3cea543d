"""Err_post of a stored ``gaussian_set`` run against the expected noise floor, per observation.

The noise floor of Err_post is the Err_post of an exact sampler: the biased MMD between two independent
exact sample sets. For a posterior much narrower than the kernel it is about ``84 |mean(a) - mean(b)|^2``
(``benchmarks/floor_shift.py``), so one pair of sets gives a floor that scatters like a chi-square with
``dim(x)`` degrees of freedom around its expectation (a factor of three either way is common). This script
reads a results database, recomputes the floor of each ``gaussian_set`` observation from ``--pairs``
independent pairs of exact normal-inverse-Wishart draws of the run's sample count (seeds 1000 + 2k and
1001 + 2k, never the reference's own seed), and prints, per observation, the number of items, the stored
Err_post, the first pair's floor, the mean floor over the pairs and the ratio Err_post / mean floor;
then the same per set size (the mean Err_post over the mean floor). A perfect sampler has ratio about 1
(its own Err_post is one more draw from the floor's distribution).

Usage::

    python benchmarks/set_floor_ratios.py --db results/structured_fresh.db [--run-id 2] [--pairs 10]
        [--out results/tuning/set_floor_ratios.jsonl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from innbench.benchmark.db import ResultsDB
from innbench.metrics import mmd
from innbench.problems import get_problem


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run-id", type=int, nargs="*", default=None,
                    help="runs to read (default: every gaussian_set run)")
    ap.add_argument("--pairs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    with ResultsDB(args.db, create=False) as db:  # read-only; refuses a missing or foreign file
        runs = [r for r in db.runs() if r["problem"] == "gaussian_set"
                and (not args.run_id or r["run_id"] in args.run_id)]
        results = {r["run_id"]: db.results([r["run_id"]]) for r in runs}
    if not runs:
        raise SystemExit(f"--run-id: no finished gaussian_set run {args.run_id or ''} in {args.db}")
    problem = get_problem("gaussian_set")
    floors: dict[tuple, np.ndarray] = {}
    for run in runs:
        run_id, label, n = run["run_id"], run["label"], int(run["config"]["samples"])
        out = {"db": args.db, "run_id": run_id, "label": label, "samples": n, "pairs": args.pairs, "observations": []}
        print(f"run {run_id} ({label}), {n} samples, floors from {args.pairs} pairs of exact draws")
        for r in results[run_id]:
            idx, err = r["obs_index"], r["err_post"]
            y = np.array(json.loads(r["y"]), dtype=float)[None]  # the stored row, NaN padding included
            items = int(problem.observation_lengths(y)[0])
            key = (y.tobytes(), n)
            if key not in floors:
                pair = []
                for k in range(args.pairs):
                    a = problem.exact_posterior(y, n, np.random.default_rng(1000 + 2 * k))[0][0]
                    b = problem.exact_posterior(y, n, np.random.default_rng(1001 + 2 * k))[0][0]
                    pair.append(mmd(a, b))
                floors[key] = np.array(pair)
            f = floors[key]
            row = {"obs_index": idx, "items": items, "err_post": err, "floor_first_pair": float(f[0]),
                   "floor_mean": float(f.mean()), "floor_sd": float(f.std(ddof=1)) if len(f) > 1 else None,
                   "ratio": err / float(f.mean())}
            out["observations"].append(row)
            print(f"  obs {idx}: {items:3d} items  Err_post {err:.2e}  floor (one pair) {f[0]:.2e}  "
                  f"floor (mean of {len(f)}) {f.mean():.2e} [{f.min():.1e}, {f.max():.1e}]  ratio {row['ratio']:.1f}x",
                  flush=True)
        for items in sorted({o["items"] for o in out["observations"]}):
            group = [o for o in out["observations"] if o["items"] == items]
            if len(group) > 1:
                r = np.mean([o["err_post"] for o in group]) / np.mean([o["floor_mean"] for o in group])
                print(f"  {items} items ({len(group)} observations): mean Err_post / mean floor {r:.1f}x")
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
