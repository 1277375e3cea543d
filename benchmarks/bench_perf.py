"""Speed of the pieces the performance targets are about: references, Err_post, inference, batched sampling.

Usage: python benchmarks/bench_perf.py [--models-dir runs/bench] [--threads 2] [--observations 1000]
       [--sampling-observations 200] [--samples 4000] [--out results/perf.json]

- reference: exact reference posteriors for the first ``--observations`` test observations x 4000 samples
  per problem, without the disk cache (target: 1000 x 4000 within 2 minutes per problem);
- err_post: seconds per 4000 x 4000 MMD, for the first model scored against a reference set and for the
  next ones (the reference self-term is remembered);
- inference: one ``sample(y*, 4000)`` call per model directory under ``--models-dir`` (median of 10,
  after a warm-up; targets: coupling INNs <= 10 ms, MDN and iResNet <= 50 ms on the CPU);
- sampling: ``sample(y[:k], 4000)`` for the first ``--sampling-observations`` test observations in one
  call, reported per observation (target for a coupling model: 1000 x 4000 within one minute);
- sizes (``--sizes``): ``sample(y*, 4000)`` of freshly built (untrained) coupling INNs and MDNs scaled to
  each parameter count of ``--size-params``, with each ``--activations`` of the coupling subnets (a
  single-pass sampler's cost does not depend on its weights, so this is the speed-size curve behind
  the trained models' numbers).
``--device cuda`` times the same calls on a GPU (synchronised); ``--samples`` changes the 4000 samples per
observation of every timing (the targets are stated for 4000). Prints a table and writes JSON.
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
from innbench.problems import get_problem
from innbench.reference import reference_posterior, test_observations


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models-dir", default="runs/bench")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--observations", type=int, default=1000)
    ap.add_argument("--sampling-observations", type=int, default=200)
    ap.add_argument("--problems", nargs="+", default=["kinematics", "ballistics"])
    ap.add_argument("--skip-reference", action="store_true", help="skip the reference and Err_post timings")
    ap.add_argument("--only", nargs="+", help="only model directories whose name contains one of these")
    ap.add_argument("--sizes", action="store_true", help="also time untrained models over --size-params")
    ap.add_argument("--size-params", nargs="+", type=int, default=[25_000, 50_000, 100_000, 200_000])
    ap.add_argument("--size-models", nargs="+", default=["cinn", "inn", "mdn"])
    ap.add_argument("--activations", nargs="+", default=["silu", "relu"])
    ap.add_argument("--skip-saved", action="store_true", help="skip the saved models under --models-dir")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--samples", type=int, default=4000, help="samples per observation in every timing")
    ap.add_argument("--out", default="results/perf.json")
    args = ap.parse_args(argv)
    n = args.samples
    from innbench.runtime import tune_allocator

    tune_allocator()
    torch.set_num_threads(args.threads)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else (lambda: None)
    res = {"meta": {"innbench_version": innbench.__version__, "torch": torch.__version__, "threads": args.threads,
                    "device": args.device, "samples": n,
                    "machine": platform.platform(), "processor": platform.processor(),
                    "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "date": time.strftime("%Y-%m-%d")},
           "reference": {}, "err_post": {}, "models": {}, "sizes": {}}
    for problem in [] if args.skip_reference else args.problems:
        p = get_problem(problem)
        _, y = test_observations(p, args.observations)
        t = time.perf_counter()
        reference_posterior(p, y, n, cache=False)
        res["reference"][problem] = {"observations": len(y), "seconds": time.perf_counter() - t}
        print(f"reference {problem}: {len(y)} x {n} in {res['reference'][problem]['seconds']:.1f} s", flush=True)
        ref, _ = reference_posterior(p, y[:20], n)
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

    for d in [] if args.skip_saved else sorted(Path(args.models_dir).glob("*")):
        if not (d / "config.json").exists() or "rejection_abc" in d.name:
            continue
        if args.only and not any(o in d.name for o in args.only):
            continue
        m = load(d, device=args.device)
        if m.problem.name not in args.problems:
            continue
        _, y = test_observations(m.problem, max(args.sampling_observations, 1))
        m.sample(y[:1], n)
        times = []
        for i in range(10):
            sync()
            t = time.perf_counter()
            m.sample(y[i % len(y) : i % len(y) + 1], n, seed=i)
            sync()
            times.append(time.perf_counter() - t)
        k = args.sampling_observations
        t = time.perf_counter()
        m.sample(y[:k], n)
        sync()
        batched = (time.perf_counter() - t) / k
        res["models"][d.name] = {"model": m.name, "problem": m.problem.name, "n_parameters": m.n_parameters(),
                                 "inference_ms_median": 1000 * float(np.median(times)),
                                 "batched_ms_per_observation": 1000 * batched, "batched_observations": k}
        print(f"{d.name:28s} {m.n_parameters():>9,d} params  {1000 * np.median(times):8.1f} ms per query  "
              f"{1000 * batched:8.1f} ms per observation batched ({k})", flush=True)
    if args.sizes:
        from innbench.api import width_for_params
        from innbench.models import build_model, get_model_class
        for problem in args.problems:
            p = get_problem(problem)
            _, y = test_observations(p, 10)
            for name in args.size_models:
                cls = get_model_class(name)
                acts = args.activations if "activation" in cls.defaults else [None]
                for target in args.size_params:
                    for act in acts:
                        opts = {} if act is None else {"activation": act}
                        opts[cls.width_option] = width_for_params(cls, p, target, **opts)
                        m = build_model(name, p, **opts).to(args.device)
                        m.set_normalization(*p.simulate(2000, np.random.default_rng(0)))
                        m.sample(y[:1], n)
                        times = []
                        for i in range(20):
                            sync()
                            t = time.perf_counter()
                            m.sample(y[i % 10 : i % 10 + 1], n, seed=i)
                            sync()
                            times.append(time.perf_counter() - t)
                        key = f"{problem}-{name}-{target}" + (f"-{act}" if act else "")
                        res["sizes"][key] = {"model": name, "problem": problem, "target_params": target,
                                             "n_parameters": m.n_parameters(), "activation": act,
                                             "inference_ms_median": 1000 * float(np.median(times))}
                        print(f"{key:34s} {m.n_parameters():>9,d} params  {1000 * np.median(times):8.1f} ms per query",
                              flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and (args.skip_reference or args.only or args.skip_saved):  # a partial re-run: update the file
        old = json.loads(out.read_text())
        for key in ("reference", "err_post", "models", "sizes"):
            old.setdefault(key, {}).update(res[key])
        old["meta"] = res["meta"]
        res = old
    out.write_text(json.dumps(res, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
