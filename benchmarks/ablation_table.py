"""Render the tuning log (one JSON line per ``benchmarks/tune.py`` run) as Markdown ablation tables.

Usage: python benchmarks/ablation_table.py [results/tuning/tune.jsonl] [--problem kinematics]

One table per model, one row per run in the order they were logged: the run's tag, the options that
differ from the model's defaults, the budget, and Err_post (mean, median, interior and edge targets for
kinematics) and Err_resim on the validation observations. The options column lists what the run
set explicitly; everything else was the model's default *when the run was made* (the tag says which
earlier change it builds on).
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict

from innbench.models import get_model_class


def _changed(model, options):
    skip = {"seed", get_model_class(model).width_option}
    return ", ".join(f"{k}={v}" for k, v in options.items() if k not in skip) or "–"


def render(rows, problem="kinematics") -> str:
    by_model, seen = defaultdict(list), set()
    for r in rows:
        key = json.dumps({k: v for k, v in r.items() if not k.endswith("seconds")}, sort_keys=True)
        if r["problem"] == problem and key not in seen:  # a repeated identical run (training is deterministic)
            seen.add(key)
            by_model[r["model"]].append(r)
    out = []
    for model, rs in by_model.items():
        out.append(f"### {model} ({problem})\n")
        out.append("| run | options set (the rest: the model's defaults at the time, see the tag) | budget | params "
                   "| Err_post mean | median | interior | edge | Err_resim |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in rs:
            b = r["budget"]
            budget = f"{b['n_batches']} x {b['batch_size']}, lr {b['lr']:g}, {b['n_train']:,} pairs"
            out.append(f"| {r['tag']} | {_changed(model, r['options'])} | {budget} | {r['params']:,} | "
                       f"{r['err_post_mean']:.4f} | {r['err_post_median']:.4f} | {r.get('err_post_interior') or '–'} | "
                       f"{r.get('err_post_edge') or '–'} | {r['err_resim_mean']:.4f} |")
        out.append("")
    return "\n".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", nargs="?", default="results/tuning/tune.jsonl")
    ap.add_argument("--problem", default="kinematics")
    args = ap.parse_args(argv)
    with open(args.log) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print(render(rows, args.problem))


if __name__ == "__main__":
    main()
