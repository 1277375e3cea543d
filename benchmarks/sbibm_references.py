"""innbench's reference posteriors against sbibm's, on sbibm's own ten observations per task.

Usage::

    pip download --no-deps sbibm==1.1.0 -d /tmp/sbibm
    python benchmarks/sbibm_references.py /tmp/sbibm/sbibm-1.1.0-py2.py3-none-any.whl \
        [--tasks two_moons,slcp,...] [--observations 10] [--samples 10000] [--c2st-backend sklearn]
        [--out results/sbibm_references.json]

For each task and observation: innbench's reference (:func:`innbench.reference.reference_posterior`:
exact samplers for two moons, the Gaussian linear and the Gaussian mixture tasks; ensemble MCMC for SLCP
and the Bernoulli GLM, with its R-hat and ESS) and sbibm's stored reference samples (rejection sampling,
closed forms, Polya-gamma Gibbs), both ``--samples`` draws, scored with the C2ST (0.5: indistinguishable).
Two independent exact samplers give about 0.5 plus the C2ST's own small-sample bias; the same number for
innbench-vs-innbench with another seed is printed beside it as the floor. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import io
import json
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

from innbench.calibration import c2st
from innbench.problems import get_problem
from innbench.reference import reference_posterior

TASKS = ("two_moons", "gaussian_linear", "gaussian_mixture", "slcp", "bernoulli_glm", "sir", "lotka_volterra")


def sbibm_reference(z: zipfile.ZipFile, task: str, k: int) -> np.ndarray:
    raw = bz2.decompress(z.read(f"sbibm/tasks/{task}/files/num_observation_{k}/reference_posterior_samples.csv.bz2"))
    rows = list(csv.reader(io.StringIO(raw.decode())))
    return np.asarray(rows[1:], dtype=float)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("wheel")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--observations", type=int, default=10, choices=range(1, 11), metavar="1..10",
                    help="the first this many of sbibm's ten observations per task")
    ap.add_argument("--samples", type=int, default=10_000)
    ap.add_argument("--c2st-backend", choices=("torch", "sklearn"), default="sklearn")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="results/sbibm_references.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = []
    with zipfile.ZipFile(args.wheel) as z:
        for task in args.tasks.split(","):
            problem = get_problem(task)
            _, y = problem.fixed_observations()
            y = y[: args.observations]
            t0 = time.perf_counter()
            ours, prov = reference_posterior(problem, y, args.samples)
            again, _ = reference_posterior(problem, y, args.samples, seed=99)
            ref_seconds = time.perf_counter() - t0
            for k in range(1, len(y) + 1):
                theirs = sbibm_reference(z, task, k)[: args.samples]
                row = {"task": task, "observation": k, "method": prov["method"],
                       "c2st_vs_sbibm": c2st(ours[k - 1], theirs, backend=args.c2st_backend),
                       "c2st_floor": c2st(ours[k - 1], again[k - 1], backend=args.c2st_backend),
                       "rhat": prov["rhat"][k - 1] if "rhat" in prov else None,
                       "ess": prov["ess"][k - 1] if "ess" in prov else None}
                rows.append(row)
                print(json.dumps(row), flush=True)
            print(f"# {task}: references in {ref_seconds:.0f} s", flush=True)
    print("\n| task | reference | C2ST vs sbibm, mean (max) | floor: ours vs ours, mean (max) | max R-hat | min ESS |")
    print("|---|---|---|---|---|---|")
    summary = {}
    for task in args.tasks.split(","):
        r = [x for x in rows if x["task"] == task]
        a, f = np.array([x["c2st_vs_sbibm"] for x in r]), np.array([x["c2st_floor"] for x in r])
        rh = [x["rhat"] for x in r if x["rhat"] is not None]
        es = [x["ess"] for x in r if x["ess"] is not None]
        summary[task] = {"c2st_vs_sbibm": a.tolist(), "floor": f.tolist()}
        diag = f"{max(rh):.3f} | {min(es):,.0f}" if rh else "– | –"
        print(f"| {task} | {r[0]['method']} | {a.mean():.3f} ({a.max():.3f}) | {f.mean():.3f} ({f.max():.3f}) | "
              f"{diag} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"backend": args.c2st_backend, "samples": args.samples, "rows": rows,
                                          "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
