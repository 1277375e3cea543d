"""Core benchmark: train models on both paper problems with the default budget, evaluate.

Usage: python benchmarks/bench_core.py [--observations 200] [--preset default] [--out results/bench_core.json]

Writes JSON with Err_post (mean, median), Err_resim (distance and squared), inference ms, training
seconds and parameter counts per (problem, model), plus the paper's published values beside them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

import innbench
from innbench.api import evaluate, load, train
from innbench.benchmark.paper import PAPER


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--observations", type=int, default=200)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--problems", nargs="+", default=["kinematics", "ballistics"])
    ap.add_argument("--models", nargs="+", default=["cinn", "inn"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--out", default="results/bench_core.json")
    ap.add_argument("--save-models", default=None, help="directory to keep the trained models in")
    ap.add_argument("--params", type=int, default=200_000,
                    help="target parameter count for every model (0: each model's default width)")
    ap.add_argument("--from-saved", action="store_true",
                    help="evaluate the models saved under --save-models instead of training them again")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out.read_text()) if out.exists() else {}
    results["meta"] = {
        "innbench_version": innbench.__version__,
        "torch": torch.__version__,
        "machine": platform.platform(),
        "processor": platform.processor(),
        "threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d"),
        "preset": args.preset,
        "observations": args.observations,
        "params_target": args.params,
    }
    results.setdefault("runs", {})
    for problem in args.problems:
        for model in args.models:
            key = f"{problem}/{model}"
            print(f"== {key}", flush=True)
            save = Path(args.save_models) / f"{problem}-{model}" if args.save_models else None
            overrides = {"params": args.params} if args.params else {}
            if args.from_saved:
                if save is None:
                    ap.error("--from-saved needs --save-models DIR")
                m = load(save, device=args.device)
            else:
                m = train(problem, model, seed=args.seed, preset=args.preset, out=save, device=args.device,
                          progress=False, budget_overrides=overrides)
            res = evaluate(m, num_observations=args.observations)
            s = res["summary"]
            paper = PAPER.get((problem, model))
            s["paper"] = {"err_post": paper[0], "err_resim": paper[1], "inference_ms": paper[2]} if paper else None
            s["final_loss"] = m.train_info["final_loss"]
            s["dim_z"] = m.dim_z()
            s["facts"] = dataclasses.asdict(m.facts)
            results["runs"][key] = {"summary": s, "per_observation": res["per_observation"]}
            print(f"   Err_post {s['err_post_mean']:.4f} (median {s['err_post_median']:.4f}, floor {s['noise_floor_mean']:.4f})"
                  f"  Err_resim {s['err_resim_mean']:.4f} (sq {s['err_resim_sq_mean']:.5f})"
                  f"  {s['inference_ms']:.1f} ms  train {s['train_seconds']:.0f} s  {s['n_parameters']} params"
                  + (f"   paper: {paper[0]} / {paper[1]} / {paper[2]} ms" if paper else ""), flush=True)
            out.write_text(json.dumps(results, indent=1, default=float))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
