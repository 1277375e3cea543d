"""Speed of the pieces the performance targets are about: references, Err_post, inference, batched sampling.

Usage: python benchmarks/bench_perf.py [--models-dir runs/bench] [--threads 2] [--observations 1000]
       [--sampling-observations 200] [--out results/perf.json]

- reference: exact reference posteriors for the first ``--observations`` test observations x 4000 samples
  per problem, without the disk cache (target: 1000 x 4000 within 2 minutes per problem);
- err_post: seconds per 4000 x 4000 MMD, for the first model scored against a reference set and for the
  next ones (the reference self-term is remembered);
- inference: one ``sample(y*, 4000)`` call per model directory under ``--models-dir`` (median of 10,
  after a warm-up; targets: coupling INNs <= 10 ms, MDN and iResNet <= 50 ms on the CPU);
- sampling: ``sample(y[:k], 4000)`` for the first ``--sampling-observations`` test observations in one
  call, reported per observation (target for a coupling model: 1000 x 4000 within one minute).
Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

import innbench
from innbench.api import load
from innbench.metrics import err_post
from innbench.reference import reference_posterior, test_observations


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default="runs/bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--observations", type=int, default=1000)
    ap.add_argument("--sampling-observations", type=int, default=200)
    ap.add_argument("--problems", nargs="+", default=["kinematics", "ballistics"])
    ap.add_argument("--skip-reference", action="store_true", help="skip the reference and Err_post timings")
    ap.add_argument("--only", nargs="+", help="only model directories whose name contains one of these")
    ap.add_argument("--out", default="results/perf.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    res = {"meta": {"innbench_version": innbench.__version__, "torch": torch.__version__, "threads": args.threads,
                    "machine": platform.platform(), "processor": platform.processor(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "date": time.strftime("%Y-%m-%d")},
           "reference": {}, "err_post": {}, "models": {}}
    for problem in [] if args.skip_reference else args.problems:
        _, y = test_observations(problem, args.observations)
        t = time.perf_counter()
        reference_posterior(problem, y, 4000, cache=False)
        res["reference"][problem] = {"observations": len(y), "seconds": time.perf_counter() - t}
        print(f"reference {problem}: {len(y)} x 4000 in {res['reference'][problem]['seconds']:.1f} s", flush=True)
        ref, _ = reference_posterior(problem, y[:20], 4000)
        rng = np.random.default_rng(0)
        fake = ref + 0.05 * rng.standard_normal(ref.shape)
        t = time.perf_counter()
        err_post(fake, ref)
        first = (time.perf_counter() - t) / len(ref)
        t = time.perf_counter()
        err_post(fake[::-1].copy(), ref)
        later = (time.perf_counter() - t) / len(ref)
        res["err_post"][problem] = {"first_model_s": first, "later_models_s": later}
        print(f"err_post {problem}: {first:.3f} s per observation (first model), {later:.3f} s (later)", flush=True)

    for d in sorted(Path(args.models_dir).glob("*")):
        if not (d / "config.json").exists() or "rejection_abc" in d.name:
            continue
        if args.only and not any(o in d.name for o in args.only):
            continue
        m = load(d)
        if m.problem.name not in args.problems:
            continue
        _, y = test_observations(m.problem, max(args.sampling_observations, 1))
        m.sample(y[:1], 4000)
        times = []
        for i in range(10):
            t = time.perf_counter()
            m.sample(y[i % len(y) : i % len(y) + 1], 4000, seed=i)
            times.append(time.perf_counter() - t)
        k = args.sampling_observations
        t = time.perf_counter()
        m.sample(y[:k], 4000)
        batched = (time.perf_counter() - t) / k
        res["models"][d.name] = {"model": m.name, "problem": m.problem.name, "n_parameters": m.n_parameters(),
                                 "inference_ms_median": 1000 * float(np.median(times)),
                                 "batched_ms_per_observation": 1000 * batched, "batched_observations": k}
        print(f"{d.name:28s} {m.n_parameters():>9,d} params  {1000 * np.median(times):8.1f} ms per query  "
              f"{1000 * batched:8.1f} ms per observation batched ({k})", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and (args.skip_reference or args.only):  # a partial re-run updates the earlier file
        old = json.loads(out.read_text())
        for key in ("reference", "err_post", "models"):
            old[key].update(res[key])
        old["meta"] = res["meta"]
        res = old
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
