"""Wall time of innbench commands by torch thread count, on an idle machine and with one core busy.

Usage: python benchmarks/threads.py [--threads 1 2] [--runs 3] [--commands short readme demo]
       [--out results/threads.json]

Each command runs as a user runs it (a subprocess of the ``innbench`` command), ``--runs`` times per
condition, in turn (1 thread, 2 threads, 1, 2, ...), first on the idle machine and then while a second
process spins on one core (a pure-Python loop: what another user's job does to a shared machine;
``--spinners 2`` keeps both cores of a 2-core machine busy). Prints the
median wall time of each (command, threads, load) and the ratio busy / idle, and writes them to ``--out``.

Commands (``--commands``):

- ``short``: ``train --problem two_moons --model nsf --simulations 1000 --max-epochs 5`` (the issue's probe);
- ``readme``: the README's ``train --problem two_moons --model nsf --simulations 1000`` (early stopping);
- ``demo``: ``innbench demo`` (trains the quick cINN, evaluates it, draws its posterior).

A condition whose first run passes ``--give-up`` seconds is not repeated (with one core busy, the two-thread
demo took 40 min in the issue's reading).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "short": ["train", "--problem", "two_moons", "--model", "nsf", "--simulations", "1000", "--max-epochs", "5",
              "--quiet"],
    "readme": ["train", "--problem", "two_moons", "--model", "nsf", "--simulations", "1000", "--quiet"],
    "demo": ["demo"],
}


def _spin(stop, kind="python"):
    """Keep a core busy until ``stop``: a pure-Python loop, or (``torch``) small matrix products on torch's
    default threads, what another user's training job does."""
    if kind == "torch":
        import torch

        a = torch.randn(128, 128)
        while not stop.is_set():
            for _ in range(100):
                a = torch.tanh(a @ a)
        return
    while not stop.is_set():
        pass


def run_once(command: list[str], threads: int, out: Path, give_up: float) -> float | None:
    """Seconds of one run, or None past ``give_up`` seconds (the run is killed)."""
    exe = Path(sys.executable).with_name("innbench")
    args = [str(exe), *command, "--threads", str(threads), "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in ("INNBENCH_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    t0 = time.perf_counter()
    try:
        subprocess.run(args, check=True, capture_output=True, timeout=give_up, env=env)
    except subprocess.TimeoutExpired:
        return None
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--commands", nargs="+", default=["short"], choices=sorted(COMMANDS))
    ap.add_argument("--loads", nargs="+", default=["idle", "busy"], choices=["idle", "busy"])
    ap.add_argument("--spinners", type=int, default=1,
                    help="processes spinning during the busy runs (1: one core busy; the cores: all busy)")
    ap.add_argument("--spinner", choices=["python", "torch"], default="python",
                    help="what keeps the cores busy: a Python loop, or another torch job on its default threads")
    ap.add_argument("--give-up", type=float, default=900.0, help="seconds after which a run is abandoned")
    ap.add_argument("--out", default="results/threads.json")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for load in args.loads:
            stop = mp.Event()
            spinners = [mp.Process(target=_spin, args=(stop, args.spinner), daemon=True)
                        for _ in range(args.spinners if load == "busy" else 0)]
            for spinner in spinners:
                spinner.start()
            try:
                for name in args.commands:
                    times = {t: [] for t in args.threads}
                    for _ in range(args.runs):
                        for t in args.threads:
                            if times[t] and times[t][0] is None:
                                continue  # gave up once: not again
                            times[t].append(run_once(COMMANDS[name], t, Path(tmp) / f"{name}-{t}", args.give_up))
                    for t, ts in times.items():
                        done = [x for x in ts if x is not None]
                        row = {"command": name, "threads": t, "load": load,
                               "spinners": args.spinners if load == "busy" else 0,
                               "spinner": args.spinner if load == "busy" else None, "runs": len(done),
                               "median_s": statistics.median(done) if done else None,
                               "min_s": min(done) if done else None, "max_s": max(done) if done else None,
                               "gave_up_after_s": args.give_up if len(done) < len(ts) else None}
                        rows.append(row)
                        print(json.dumps(row), flush=True)
            finally:
                stop.set()
                for spinner in spinners:
                    spinner.join()
    for name in args.commands:
        for t in args.threads:
            idle = next((r["median_s"] for r in rows if r["command"] == name and r["threads"] == t
                         and r["load"] == "idle"), None)
            busy = next((r["median_s"] for r in rows if r["command"] == name and r["threads"] == t
                         and r["load"] == "busy"), None)
            if idle and busy:
                print(f"{name}, {t} thread(s): idle {idle:.1f} s, {args.spinners} core(s) busy {busy:.1f} s, "
                      f"ratio {busy / idle:.2f}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                               "date": time.strftime("%Y-%m-%d"), "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
