"""Does L-C2ST, which needs no reference posterior, flag the observations where C2ST against the reference says a
model is off? Per observation, on sbibm's ten observations of a task, for models trained on growing simulation
budgets: L-C2ST's statistic and p-value beside C2ST and Err_post against the exact reference.

    .venv/bin/python benchmarks/lc2st_check.py --problem two_moons --model nsf --simulations 300 1000 10000 \
        --out results/lc2st_check.json

Prints one row per model and observation and the rank correlation of L-C2ST's statistic with C2ST over all rows;
writes them as JSON. The numbers of a run are in docs/journal/metric_registry.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from scipy.stats import spearmanr

from innbench import api, get_problem


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--problem", default="two_moons")
    ap.add_argument("--model", default="nsf")
    ap.add_argument("--simulations", type=int, nargs="+", default=[300, 1000, 10000])
    ap.add_argument("--samples", type=int, default=2000, help="posterior samples per observation")
    ap.add_argument("--calibration", type=int, default=2000, help="L-C2ST's calibration pairs")
    ap.add_argument("--null", type=int, default=20, help="L-C2ST's null classifiers")
    ap.add_argument("--observations", type=int, default=10, help="the first observations of the task's ten")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="results/lc2st_check.json")
    args = ap.parse_args(argv)
    problem = get_problem(args.problem)
    x_true, y = (a[: args.observations] for a in problem.fixed_observations())
    rows = []
    for n in args.simulations:
        t0 = time.perf_counter()
        model = api.train(args.problem, args.model, simulations=n, seed=args.seed)
        train_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = api.evaluate(model, y, true_parameters=x_true, n_samples=args.samples, seed=args.seed,
                           timing_observations=0, noise_floor_observations=0, c2st_observations=len(y),
                           metrics=["err_post", "c2st", "lc2st"],
                           metric_options={"lc2st_calibration": args.calibration, "lc2st_null": args.null})
        eval_s = time.perf_counter() - t0
        per = res["per_observation"]
        for i in range(len(y)):
            rows.append({"simulations": n, "obs": i + 1, "c2st": per["c2st"][i], "err_post": per["err_post"][i],
                         "lc2st": per["lc2st"][i], "lc2st_pvalue": per["lc2st_pvalue"][i]})
            r = rows[-1]
            print(f"{args.model}@{n:<6} obs {i + 1:2d}  C2ST {r['c2st']:.3f}  Err_post {r['err_post']:.4f}  "
                  f"L-C2ST {r['lc2st']:.4f}  p {r['lc2st_pvalue']:.3f}", flush=True)
        s = res["summary"]
        print(f"{args.model}@{n}: C2ST {s['c2st_mean']:.3f}  L-C2ST {s['lc2st_mean']:.4f}  rejected "
              f"{s['lc2st_rejected']:.2f}  (train {train_s:.0f} s, evaluation {eval_s:.0f} s)", flush=True)
    rho = spearmanr([r["lc2st"] for r in rows], [r["c2st"] for r in rows]).statistic
    print(f"Spearman rank correlation of L-C2ST's statistic with C2ST over {len(rows)} rows: {rho:.2f}")
    out = {"problem": args.problem, "model": args.model, "calibration": args.calibration, "null": args.null,
           "samples": args.samples, "spearman_lc2st_c2st": float(rho), "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {args.out}")
    return out


if __name__ == "__main__":
    main()
