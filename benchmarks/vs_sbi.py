"""innbench's estimators beside sbi's (neural posterior estimation) on the same simulations: C2ST, training and
sampling time.

Usage::

    pip install -c constraints.txt "sbi>=0.27"      # or: pip install -c constraints.txt -e ".[sbi]"
    python benchmarks/vs_sbi.py [--tasks two_moons,gaussian_linear] [--simulations 1000,10000] [--repeats 3]
        [--threads 1] [--innbench nsf] [--sbi nsf,maf] [--observations 10] [--samples 10000]
        [--c2st-backend torch] [--set KEY=VALUE ...] [--budget KEY=VALUE ...] [--out results/vs_sbi.json]

For each task, simulation budget ``N`` and repeat (seed ``0, 1, ...``): ``N`` pairs are simulated once with
innbench's problem (:func:`innbench.training.simulate_training_data`, the pairs ``api.train(..., simulations=N,
seed=seed)`` draws), then every estimator trains on those same pairs, innbench's and sbi's in turn (the order
alternates between repeats, so drifts in the machine's load hit both libraries):

- innbench: ``build_model(name, problem, seed=seed)`` trained by :func:`innbench.simbudget.fit_simulations`
  with ``SimulationBudget(simulations=N)`` (its validation split and early stopping: exactly what
  ``api.train(problem, name, simulations=N)`` does);
- sbi: ``NPE(prior, density_estimator=name).append_simulations(theta, x).train()`` with sbi's defaults
  (batch 200, learning rate 5e-4, patience 20, validation fraction 0.1); the prior is the task's own
  (two moons: ``BoxUniform(-1, 1)``; Gaussian linear: ``N(0, 0.1 I)``).

An untimed warm-up (one epoch of every estimator) comes first: the first optimiser of a process imports
``torch._dynamo``, seconds that would otherwise count against whichever library trains first. Training time is the
wall clock of that call (sbi's includes ``build_posterior``). Sampling time is the wall clock
of ``--samples`` draws per observation, one observation per call (sbi: ``posterior.sample((n,), x=y)``, whose
rejection of draws outside the prior's support counts; innbench: ``model.sample(y, n)``). Observations are
sbibm's ten per task (:meth:`innbench.problems.sbi.SBIBMTask.fixed_observations`); each sample set is scored by
the C2ST (:func:`innbench.calibration.c2st`: sbibm's protocol, 5 folds, ``--samples`` vs ``--samples``; the
``torch`` backend as the ``sbi`` grid uses, ``sklearn`` for sbibm's own classifier) against innbench's reference
posterior (:func:`innbench.reference.reference_posterior`, exact for both default tasks).

sbi is an optional extra (``pip install -e ".[sbi]"``), never a dependency of innbench: without it the script
runs innbench's rows only and says so (``--sbi none`` skips sbi even where it is installed). ``--set`` and
``--budget`` change innbench's model options and :class:`~innbench.simbudget.SimulationBudget` fields, for
experiments (the rows are then labelled, e.g. ``nsf[batch_size=128]``); without them both libraries run their
defaults. Prints one JSON line per run, then a table of medians over the repeats per task, budget and estimator;
writes every row as JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from innbench import __version__
from innbench.calibration import c2st
from innbench.models import build_model
from innbench.problems import get_problem
from innbench.reference import reference_posterior, resolve_reference_method
from innbench.simbudget import SimulationBudget, fit_simulations
from innbench.training import simulate_training_data

from _common import parse_pairs

INSTALL_HINT = 'pip install -c constraints.txt "sbi>=0.27"'
#: sbi's NPE default density estimator (sbi 0.27: ``NPE(density_estimator="maf")``)
SBI_DEFAULT = "maf"


def _list(text: str, cast=str) -> list:
    return [cast(t.strip()) for t in text.split(",") if t.strip() and t.strip().lower() != "none"]


def import_sbi():
    """sbi's ``NPE`` class and version, or ``(None, None)`` where sbi is not installed."""
    try:
        import sbi
        from sbi.inference import NPE
    except ImportError:
        return None, None
    return NPE, sbi.__version__


@contextlib.contextmanager
def sbi_tracker(log_dir):
    """sbi's default tracker (TensorBoard, written every epoch), into ``log_dir`` instead of ``./sbi-logs``; None
    (sbi's own default) where this sbi has no ``tracker`` argument."""
    try:
        from sbi.utils.tracking import TensorBoardTracker
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        yield None
        return
    writer = SummaryWriter(tempfile.mkdtemp(dir=log_dir))
    try:
        yield TensorBoardTracker(writer)
    finally:
        writer.close()


def sbi_prior(problem):
    """The task's prior as a torch distribution for sbi (the same as innbench's problem samples from), or None."""
    from sbi.utils import BoxUniform

    dim = problem.x_dim
    name = problem.name
    if name == "gaussian_linear":  # theta ~ N(0, PRIOR_VAR I), sbibm's and innbench's
        cov = float(problem.PRIOR_VAR) * torch.eye(dim)
        return torch.distributions.MultivariateNormal(torch.zeros(dim), covariance_matrix=cov)
    if name == "bernoulli_glm":
        precision = torch.as_tensor(problem.prior_precision(), dtype=torch.float32)
        return torch.distributions.MultivariateNormal(torch.zeros(dim), precision_matrix=precision)
    boxes = {"two_moons": (-1.0, 1.0), "slcp": (-3.0, 3.0),
             "gaussian_mixture": (getattr(problem, "LOW", -10.0), getattr(problem, "HIGH", 10.0))}
    if name in boxes:
        low, high = boxes[name]
        return BoxUniform(low=low * torch.ones(dim), high=high * torch.ones(dim))
    return None


def run_innbench(problem, name, x, y, y_obs, seed, samples, options=None, budget=None):
    """Train innbench's ``name`` on ``(x, y)`` as ``api.train(..., simulations=len(x))`` would (``options``: model
    options, ``budget``: :class:`SimulationBudget` fields, both empty by default), then sample."""
    model = build_model(name, problem, **(options or {}), seed=seed)
    t = time.perf_counter()
    fit_simulations(model, SimulationBudget(**{**(budget or {}), "simulations": len(x)}), seed=seed, data=(x, y),
                    progress=False)
    train_s = time.perf_counter() - t
    draws, times = [], []
    for i in range(len(y_obs)):
        t = time.perf_counter()
        draws.append(model.sample(y_obs[i : i + 1], samples, seed=seed, round_discrete=False)[0])
        times.append(time.perf_counter() - t)
    info = model.train_info
    return draws, times, train_s, {
        "epochs": info.get("epochs"), "best_epoch": info.get("best_epoch"), "steps": info.get("steps"),
        "batch_size": info.get("batch_size"), "n_parameters": model.n_parameters(),
        "stopped": info.get("stopped"), "train_seconds_inner": round(float(info.get("train_seconds", 0.0)), 2),
        "best_validation_loss": info.get("final_loss")}


def run_sbi(npe_class, prior, name, x, y, y_obs, seed, samples, log_dir):
    """Train sbi's NPE with density estimator ``name`` on ``(x, y)`` with sbi's defaults (its TensorBoard log
    written into ``log_dir``), then sample."""
    torch.manual_seed(seed)
    theta = torch.as_tensor(x, dtype=torch.float32)
    obs = torch.as_tensor(y, dtype=torch.float32)
    with sbi_tracker(log_dir) as tracker:
        t = time.perf_counter()
        inference = npe_class(prior=prior, density_estimator=name, show_progress_bars=False,
                              **({"tracker": tracker} if tracker is not None else {}))
        with contextlib.redirect_stdout(io.StringIO()):  # sbi prints "converged after N epochs" without a newline
            estimator = inference.append_simulations(theta, obs).train()
        posterior = inference.build_posterior(estimator)
        train_s = time.perf_counter() - t
    draws, times = [], []
    for i in range(len(y_obs)):
        xo = torch.as_tensor(y_obs[i : i + 1], dtype=torch.float32)
        t = time.perf_counter()
        s = posterior.sample((samples,), x=xo, show_progress_bars=False)
        times.append(time.perf_counter() - t)
        draws.append(s.detach().numpy().astype(float))
    summary = getattr(inference, "_summary", {})
    val = list(summary.get("validation_loss", []))
    epochs = summary.get("epochs_trained", [None])[-1]
    best = summary.get("best_validation_loss", [None])[-1]
    n_train = int(0.9 * len(x))  # sbi's split; its loader drops the last incomplete batch
    return draws, times, train_s, {
        "epochs": int(epochs) if epochs is not None else None,
        "best_epoch": int(np.argmin(val)) + 1 if val else None,
        "steps": int(epochs) * (n_train // min(200, n_train)) if epochs is not None else None,
        "batch_size": 200, "n_parameters": int(sum(p.numel() for p in estimator.parameters())),
        "stopped": "early stopping (sbi, 20 epochs)",
        "best_validation_loss": float(best) if best is not None else None}


def warm_up(problem, ours, theirs, npe_class, prior, options, budget, log_dir) -> float:
    """One untimed epoch of every estimator on 200 simulations, and a few draws: the first optimiser of a process
    imports ``torch._dynamo`` (seconds), which would otherwise count against whichever library trains first."""
    t = time.perf_counter()
    x, y = simulate_training_data(problem, 200, 12345)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ours:
            model = build_model(name, problem, **options, seed=0)
            fit_simulations(model, SimulationBudget(**{**budget, "simulations": 200, "max_epochs": 1}), data=(x, y),
                            progress=False)
            model.sample(y[:1], 10)
        for name in theirs:
            with sbi_tracker(log_dir) as tracker, contextlib.redirect_stdout(io.StringIO()):
                inference = npe_class(prior=prior, density_estimator=name, show_progress_bars=False,
                                      **({"tracker": tracker} if tracker is not None else {}))
                inference.append_simulations(torch.as_tensor(x, dtype=torch.float32),
                                             torch.as_tensor(y, dtype=torch.float32)).train(max_num_epochs=1)
            posterior = inference.build_posterior()
            posterior.sample((10,), x=torch.as_tensor(y[:1], dtype=torch.float32), show_progress_bars=False)
    return time.perf_counter() - t


def median(values):
    values = [v for v in values if v is not None and np.isfinite(v)]
    return float(np.median(values)) if values else float("nan")


def summarise(rows: list[dict]) -> list[dict]:
    """Medians over the repeats per (task, simulations, library, estimator), with ratios to sbi's default."""
    out, keys = [], []
    for r in rows:
        key = (r["task"], r["simulations"], r["library"], r["estimator"])
        if key not in keys:
            keys.append(key)
    for task, n, lib, est in keys:
        cell = [r for r in rows if (r["task"], r["simulations"], r["library"], r["estimator"]) == (task, n, lib, est)]
        out.append({"task": task, "simulations": n, "library": lib, "estimator": est, "runs": len(cell),
                    "c2st": median([r["c2st_mean"] for r in cell]), "train_s": median([r["train_s"] for r in cell]),
                    "sample_s": median([r["sample_s_median"] for r in cell]),
                    "epochs": median([r["epochs"] for r in cell]),
                    "best_epoch": median([r["best_epoch"] for r in cell]),
                    "n_parameters": cell[0]["n_parameters"]})
    for s in out:
        ref = next((o for o in out if (o["task"], o["simulations"], o["library"], o["estimator"])
                    == (s["task"], s["simulations"], "sbi", SBI_DEFAULT)), None)
        s["train_vs_sbi_default"] = s["train_s"] / ref["train_s"] if ref else None
        s["sample_vs_sbi_default"] = s["sample_s"] / ref["sample_s"] if ref else None
    return out


def print_table(summary: list[dict], samples: int) -> None:
    print(f"\n| task | N | estimator | runs | C2ST (median) | train s | sample s / {samples:,} draws | "
          f"train / sbi {SBI_DEFAULT} | sample / sbi {SBI_DEFAULT} | epochs (best) | parameters |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")

    def ratio(v):
        return f"{v:.2f}" if v is not None else "-"

    for s in summary:
        print(f"| {s['task']} | {s['simulations']:,} | {s['library']} {s['estimator']} | {s['runs']} | "
              f"{s['c2st']:.3f} | {s['train_s']:.1f} | {s['sample_s']:.3f} | {ratio(s['train_vs_sbi_default'])} | "
              f"{ratio(s['sample_vs_sbi_default'])} | {s['epochs']:.0f} ({s['best_epoch']:.0f}) | "
              f"{s['n_parameters']:,} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default="two_moons,gaussian_linear", help="innbench problem names (sbibm tasks)")
    ap.add_argument("--simulations", default="1000,10000", help="simulation budgets, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="runs per cell (seeds 0, 1, ...)")
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both libraries")
    ap.add_argument("--innbench", default="nsf", help="innbench model names, comma-separated")
    ap.add_argument("--sbi", default="nsf,maf",
                    help=f"sbi density estimators, comma-separated (sbi's NPE default: {SBI_DEFAULT}); none: skip sbi")
    ap.add_argument("--observations", type=int, default=10, help="sbibm's observations per task (at most 10)")
    ap.add_argument("--samples", type=int, default=10_000, help="posterior draws per observation (and reference)")
    ap.add_argument("--c2st-backend", choices=("torch", "sklearn"), default="torch",
                    help="torch: the sbi grid's fast classifier; sklearn: sbibm's MLPClassifier")
    ap.add_argument("--c2st-folds", type=int, default=5)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an option of innbench's models (e.g. hidden=50); default: none, the models' defaults")
    ap.add_argument("--budget", action="append", default=[], metavar="KEY=VALUE",
                    help="a SimulationBudget field for innbench (e.g. batch_size=200); default: none")
    ap.add_argument("--out", default="results/vs_sbi.json")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    tasks, budgets = _list(args.tasks), _list(args.simulations, int)
    ours, theirs = _list(args.innbench), _list(args.sbi)
    options, budget = parse_pairs(args.set, "--set"), parse_pairs(args.budget, "--budget")
    changed = ",".join(f"{k}={v}" for k, v in {**options, **budget}.items())
    npe_class, sbi_version = import_sbi() if theirs else (None, None)
    if theirs and npe_class is None:
        print(f"# sbi is not installed: innbench's rows only (for sbi's: {INSTALL_HINT})", flush=True)
        theirs = []
    rows = []
    log_dir = tempfile.mkdtemp(prefix="vs_sbi-")  # sbi's TensorBoard logs (else ./sbi-logs), removed at the end
    try:
        for task in tasks:
            problem = get_problem(task)
            _, y_obs = problem.fixed_observations()
            y_obs = y_obs[: args.observations]
            method = resolve_reference_method(problem, "exact")
            t = time.perf_counter()
            ref, _ = reference_posterior(problem, y_obs, args.samples, method=method)
            print(f"# {task}: {len(y_obs)} sbibm observations, {method} reference in {time.perf_counter() - t:.0f} s",
                  flush=True)
            prior = sbi_prior(problem) if theirs else None
            task_sbi = theirs if prior is not None else []
            if theirs and prior is None:
                print(f"# {task}: no sbi prior is defined here for this task; sbi rows skipped", flush=True)
            if task == tasks[0]:
                seconds = warm_up(problem, ours, task_sbi, npe_class, prior, options, budget, log_dir)
                print(f"# warm-up (untimed): {seconds:.1f} s", flush=True)
            for n in budgets:
                for rep in range(args.repeats):
                    seed = args.seed + rep
                    x, y = simulate_training_data(problem, n, seed)
                    runs = [("innbench", m) for m in ours]
                    for k, m in enumerate(task_sbi):  # interleaved: innbench, sbi, innbench, sbi, ...
                        runs.insert(min(2 * k + 1, len(runs)), ("sbi", m))
                    if rep % 2:
                        runs.reverse()  # the other library first on every other repeat
                    for lib, name in runs:
                        if lib == "innbench":
                            draws, times, train_s, extra = run_innbench(problem, name, x, y, y_obs, seed, args.samples,
                                                                        options, budget)
                        else:
                            draws, times, train_s, extra = run_sbi(npe_class, prior, name, x, y, y_obs, seed,
                                                                   args.samples, log_dir)
                        scores = [c2st(draws[i], ref[i], seed=0, folds=args.c2st_folds, backend=args.c2st_backend)
                                  if np.isfinite(draws[i]).any() else float("nan") for i in range(len(y_obs))]
                        label = f"{name}[{changed}]" if lib == "innbench" and changed else name
                        row = {"task": task, "simulations": n, "seed": seed, "library": lib, "estimator": label,
                               "version": __version__ if lib == "innbench" else sbi_version, "threads": args.threads,
                               "train_s": round(train_s, 2), "sample_s": [round(v, 4) for v in times],
                               "sample_s_median": round(float(np.median(times)), 4),
                               "c2st": [round(float(v), 4) for v in scores],
                               "c2st_mean": round(float(np.nanmean(scores)), 4), **extra}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    summary = summarise(rows)
    print_table(summary, args.samples)
    if not theirs:
        print(f"# no sbi rows (sbi {'not installed' if npe_class is None and _list(args.sbi) else 'skipped'})")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {"settings": {**vars(args), "c2st_protocol": f"{args.samples} vs {args.samples}, {args.c2st_folds} "
                           f"folds, {args.c2st_backend} backend"},
              "versions": {"innbench": __version__, "sbi": sbi_version, "torch": torch.__version__},
              "machine": {"processor": platform.processor() or platform.machine(), "cores": os.cpu_count()},
              "rows": rows, "summary": summary}
    out.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
