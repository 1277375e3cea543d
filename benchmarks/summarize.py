"""Print a markdown table of benchmark results (one or more JSON files from bench_core.py) beside the paper.

Usage: python benchmarks/summarize.py results/bench_all_kinematics.json results/bench_all_ballistics.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from innbench.models import get_model_class, list_models


def main(paths):
    runs = {}
    for p in paths:
        runs.update(json.loads(Path(p).read_text())["runs"])
    order = {name: i for i, name in enumerate(list_models())}
    print("| problem | model | Err_post mean (median) | Err_resim dist (sq) | inference ms (CPU) | train s | params "
          "| paper Err_post / Err_resim / ms (GPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(runs, key=lambda k: (k.split("/")[0] != "kinematics", order.get(k.split("/")[1], 99))):
        s = runs[key]["summary"]
        problem, model = key.split("/")
        paper = s.get("paper")
        pp = f"{paper['err_post']} / {paper['err_resim']} / {paper['inference_ms']}" if paper else "–"
        print(f"| {problem} | {get_model_class(model).title} | {s['err_post_mean']:.4f} ({s['err_post_median']:.4f}) "
              f"| {s['err_resim_mean']:.4f} ({s['err_resim_sq_mean']:.5f}) | {s['inference_ms']:.1f} "
              f"| {s['train_seconds']:.0f} | {s['n_parameters']:,} | {pp} |")


if __name__ == "__main__":
    main(sys.argv[1:] or sorted(str(p) for p in Path("results").glob("bench_all_*.json")))
