"""Run a benchmark grid: train and evaluate every cell, store each finished cell in the results database."""

from __future__ import annotations

import ctypes
import dataclasses
import os
import platform
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..runtime import torch_threads, tune_allocator
from .config import Cell, GridConfig, import_plugins
from .db import ResultsDB

__all__ = ["GridInterrupted", "hardware", "run_cell", "run_grid", "showcase_observations"]


class GridInterrupted(KeyboardInterrupt):
    """Ctrl-C during a grid; finished cells are stored, the unfinished ones are released.

    Raised by :func:`run_grid`; its message says how many cells are stored. Running the same grid again
    resumes it.
    """


def hardware() -> dict:
    """What a run is stored with about the machine: platform, processor, CPU count, torch threads, Python,
    host, process id and the CUDA device where there is one."""
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "host": platform.node(),
        "pid": os.getpid(),
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def showcase_observations(problem) -> tuple[list[str], np.ndarray]:
    """The observations whose posteriors the report draws (:meth:`Problem.showcase_observations`) and
    their names ``y0``, ``y1``, ...

    Example:
        >>> from innbench import get_problem
        >>> from innbench.benchmark.runner import showcase_observations
        >>> showcase_observations(get_problem("kinematics"))
        (['y0'], array([[1.5, 0. ]]))
    """
    y = np.asarray(problem.showcase_observations(), dtype=float)
    return [f"y{i}" for i in range(len(y))], y


def run_cell(cell: Cell, config: dict, progress: bool = False, save_dir=None, device: str = "cpu") -> dict:
    """Train and evaluate one cell; returns the rows for :meth:`ResultsDB.store` (no database access).

    Runs in the calling process or in a Ray worker, so it imports the grid's ``imports`` itself.

    Args:
        cell: the :class:`innbench.benchmark.Cell` (problem, model variant, seed, settings).
        config: the grid's settings, :meth:`GridConfig.to_dict`.
        progress: show progress bars.
        save_dir: a directory to save the trained model in (``<problem>-<label>-seed<seed>``); None: not saved.
        device: the torch device to train and sample on.

    Returns:
        ``{"run": ..., "observations": [...], "samples": [...], "references": [...], "calibration": [...]}``.

    Example:
        >>> from innbench.benchmark import GridConfig
        >>> grid = GridConfig(name="doc", problems=["linear"], seeds=[0],
        ...                   models=[{"model": "rejection_abc", "label": "abc", "options": {"simulations": 2000}}],
        ...                   preset="tiny", observations=3, samples=200, timing_observations=0,
        ...                   c2st_observations=0, noise_floor_observations=0)
        >>> from innbench.benchmark import run_cell
        >>> result = run_cell(grid.cells()[0], grid.to_dict())
        >>> len(result["observations"]), result["run"]["title"]
        (3, 'rejection ABC (baseline)')
    """
    import_plugins(config.get("imports", []))
    # the grid's thread count for this cell only: in the caller's process (jobs=1) its own count comes back
    with torch_threads(config.get("threads") or torch.get_num_threads()):
        return _run_cell(cell, config, progress, save_dir, device)


def _run_cell(cell: Cell, config: dict, progress: bool, save_dir, device: str) -> dict:
    from ..api import train
    from ..evaluation import own_calibration, score, showcase
    from ..problems import get_problem
    from ..reference import test_observations
    from ..training import Budget

    s = cell.settings
    budget = Budget(**s["budget"])
    problem = get_problem(cell.problem)
    out = None
    if save_dir is not None:
        out = Path(save_dir) / f"{cell.problem}-{cell.spec.label}-seed{cell.seed}"
    how = ({"simulations": cell.spec.simulations, "simulation_budget": s.get("simulation_budget") or None}
           if cell.spec.simulations is not None else {"preset": budget})
    model = train(problem, cell.spec.model, seed=cell.seed, out=out, device=device, progress=progress, **how,
                  **cell.spec.options)
    if s.get("observation_set", "test") == "fixed":
        x_true, y = (a[: s["observations"]] for a in problem.fixed_observations())
    else:
        x_true, y = test_observations(problem, s["observations"])
    c2st_opts = s.get("c2st", {})
    chosen = None  # the default metrics, and the grid's opt-in ones beside them
    if s.get("metrics"):
        from ..metrics import default_metric_names

        chosen = [*default_metric_names(), *s["metrics"]]
    res = score(model, y, x_true, n_samples=s["samples"], seed=cell.seed,
                timing_observations=config.get("timing_observations", 10),
                noise_floor_observations=config.get("noise_floor_observations", 50),
                c2st_observations=s["c2st_observations"], c2st_folds=c2st_opts.get("folds", 2),
                c2st_backend=c2st_opts.get("backend", "torch"), metrics=chosen,
                metric_options=s.get("metric_options"))
    calibration = []
    if s.get("sbc"):  # calibration on test draws of its own: no reference posterior needed
        own = own_calibration(model, s["sbc"]["observations"], s["sbc"]["samples"], seed=cell.seed)
        calibration = [{"obs_index": i, "sbc_ranks": r.tolist(), "sbc_draws": own["sbc_draws"]}
                       for i, r in enumerate(own["sbc_ranks"])]
        res["summary"].update(own["summary"])
    shown = showcase(model, s["samples"], seed=cell.seed)
    summ = res["summary"]
    run = {
        "config": {**config, "cell": {"problem": cell.problem, **dataclasses.asdict(cell.spec), "seed": cell.seed},
                   "settings": s,
                   "training": {k: model.train_info[k] for k in ("epochs", "best_epoch", "stopped", "n_train",
                                                                 "n_validation") if k in model.train_info}},
        "innbench_version": __version__,
        "torch_version": torch.__version__,
        "n_parameters": model.n_parameters(),
        "dim_z": model.dim_z(),
        "facts": dataclasses.asdict(model.facts),
        "title": model.title,
        "train_seconds": model.train_info.get("train_seconds"),
        "inference_ms": summ["inference_ms"],
        "sampling_seconds": summ["sampling_seconds_all"],
        "noise_floor": summ["noise_floor_mean"],
        "final_loss": model.train_info.get("final_loss"),
        "hardware": {**hardware(), "device": str(model.device)},
    }
    return {
        "run": run,
        "observations": _observation_rows(res),
        "calibration": calibration,
        "samples": [{"name": e["name"], "y": e["y"], "samples": e["samples"]} for e in shown],
        "references": [{"name": e["name"], "y": e["y"], "samples": e["reference"]} for e in shown],
    }


def _observation_rows(res: dict) -> list[dict]:
    """The per-observation rows of the results database from :func:`innbench.evaluation.score`'s output: each
    observation with every metric value it has (a value computed on the first observations only, such as
    C2ST's, is left out of the others; a value given once for all, such as ``sbc_draws``, goes to each)."""
    per = res["per_observation"]
    rows = []
    for i, y in enumerate(per["y"]):
        values = {}
        for name, v in per.items():
            if name == "y" or v is None:
                continue
            if isinstance(v, list):
                if i < len(v):
                    values[name] = v[i]
            else:
                values[name] = v
        rows.append({"obs_index": i, "y": y, "values": values})
    return rows


def _run_local(cell, config, progress, save_dir, device):
    try:
        return run_cell(cell, config, progress=progress, save_dir=save_dir, device=device), None
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # a failing cell is recorded, the grid goes on
        return None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=-4)}"


_PR_SET_PDEATHSIG = 1


def _prctl():
    """``prctl(2)`` where there is one (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _watch_driver(driver: int, every: float = 0.5) -> None:
    """End this worker as soon as its parent is no longer ``driver``, the process that started it.

    The death signal's backstop: it covers a driver gone before the worker could ask for the signal, a platform
    without one, and a worker whose SIGTERM is handled or ignored by some library.
    """
    def watch():
        while os.getppid() == driver:
            time.sleep(every)
        os._exit(1)  # the driver is gone: no one takes this worker's results

    if os.getppid() != driver:
        os._exit(1)
    threading.Thread(target=watch, name="innbench-driver-watch", daemon=True).start()


def _worker_init(threads: int, driver: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle
    prctl = _prctl()
    if prctl is not None:  # Linux: end with the driver even if it is killed outright
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # a death signal asked for after the driver died is never sent: a driver killed while this worker was still
    # importing (seconds) would leave it to compute a whole cell; the watch ends it at once instead
    _watch_driver(driver)
    torch.set_num_threads(threads)
    tune_allocator()  # a worker process of ours: the process-wide setting is ours to make


def _ray_cell(cell, config, save_dir, device):
    """A cell in a Ray worker process."""
    tune_allocator()
    return run_cell(cell, config, False, save_dir, device)


def _pool(claim_next, config, save_dir, device, jobs, threads):
    """Run cells in ``jobs`` worker processes, claiming the next cell whenever a worker is free."""
    import multiprocessing as mp

    pool = mp.get_context("spawn").Pool(jobs, initializer=_worker_init, initargs=(threads, os.getpid()))
    running = {}
    try:
        while True:
            while len(running) < jobs:
                cell = claim_next()
                if cell is None:
                    break
                running[cell.key] = (cell, pool.apply_async(run_cell, (cell, config, False, save_dir, device)))
            if not running:
                break
            finished = [k for k, (_, r) in running.items() if r.ready()]
            if not finished:
                time.sleep(0.2)
                continue
            for key in finished:
                cell, r = running.pop(key)
                try:
                    yield cell, r.get(), None
                except Exception as exc:
                    yield cell, None, f"{type(exc).__name__}: {exc}"
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _ray(cells, config, save_dir, device, address, cpus_per_cell):
    try:
        import ray
    except ImportError:
        raise ValueError("executor: 'ray' needs the ray package (pip install 'innbench[ray]')") from None
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    remote = ray.remote(num_cpus=cpus_per_cell, max_retries=0)(_ray_cell)
    pending = {remote.remote(cell, config, save_dir, device): cell for cell in cells}
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(ready[0])
            try:
                yield cell, ray.get(ready[0]), None
            except Exception as exc:
                yield cell, None, f"{type(exc).__name__}: {exc}"
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def _refuse_other_versions(db, grid, cells, db_path) -> None:
    """A database that holds finished cells of this grid made by another innbench version (or for another
    problem version) would mix results of different code in one table: refuse, before any work."""
    # any finished cell of the grid, not only those this run would repeat: new seeds or labels added by this
    # version would otherwise be averaged with the old ones in one report row
    other = [r for r in db.runs(grid.name) if r.get("innbench_version") != __version__]
    if other:
        made_by = sorted({str(r.get("innbench_version")) for r in other})
        raise ValueError(f"db: {db_path} holds {len(other)} finished cells of grid {grid.name!r} made by innbench "
                         f"{', '.join(made_by)} (this is {__version__}); results of different versions are not "
                         "mixed in one database: use a new --db (or delete those runs from it)")


class _Tally:
    """Claims cells in the database, stores what they return, counts outcomes, drives the progress bar."""

    def __init__(self, db, config, counts, total, name, log, progress):
        self.db, self.config, self.counts, self.log = db, config, counts, log
        self.unfinished: dict[str, Cell] = {}
        self.bar = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, initial=counts["done_before"], desc=f"grid {name}", unit="cell",
                            dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 10.0)

    def claim(self, cell) -> bool:
        # noted before the claim is written: a Ctrl-C that lands just after the database took the claim still
        # releases it (releasing a cell this process did not claim deletes nothing)
        self.unfinished[cell.key] = cell
        outcome = self.db.claim(cell, self.config)
        if outcome == "claimed":
            return True
        self.unfinished.pop(cell.key, None)
        self.counts["done_before" if outcome == "done" else "busy"] += 1
        if self.bar is not None and outcome == "done":
            self.bar.update(1)
        return False

    def record(self, cell, result, error) -> None:
        if error is None:
            self.db.store(cell, result)
            self.counts["done"] += 1
            r = result["run"]
            errs = [o["values"].get("err_post", np.nan) for o in result["observations"]]
            query = "not timed" if r["inference_ms"] is None else f"{r['inference_ms']:.1f} ms per query"
            self.log(f"  {cell.describe()}: Err_post {np.nanmean(errs):.4f} (median {np.nanmedian(errs):.4f}), "
                     f"{r['n_parameters']} params, train {r['train_seconds']:.0f} s, {query}")
        else:
            self.db.fail(cell, error)
            self.counts["failed"] += 1
            self.log(f"  {cell.describe()}: FAILED {error.splitlines()[0]}")
        self.unfinished.pop(cell.key, None)
        if self.bar is not None:
            self.bar.update(1)

    def release_unfinished(self) -> None:
        for cell in self.unfinished.values():
            self.db.release(cell)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _results(todo, tally, config, executor, jobs, threads, progress, save_dir, device, address):
    """``(cell, result, error)`` for each cell of ``todo`` this process claims, from the chosen executor."""
    if executor == "local" and jobs == 1:
        for cell in todo:  # claim right before running, so a second process shares the work
            if tally.claim(cell):
                yield (cell, *_run_local(cell, config, progress, save_dir, device))
        return
    if executor == "local":
        queue = iter(todo)
        stream = _pool(lambda: next((c for c in queue if tally.claim(c)), None), config, save_dir, device, jobs,
                       threads or max(1, (os.cpu_count() or 1) // jobs))
    else:
        stream = _ray([cell for cell in todo if tally.claim(cell)], config, save_dir, device, address, threads or 1)
    try:
        yield from stream
    finally:
        stream.close()  # stops the workers / cancels the pending tasks at once after an interruption


def run_grid(grid: GridConfig, db_path, executor: str = "local", address: str | None = None,
             progress: bool = True, save_dir=None, device: str = "cpu", log=print, jobs: int = 1) -> dict:
    """Run every cell of ``grid`` that the database at ``db_path`` does not hold yet.

    Finished cells are skipped (a re-run resumes an interrupted one), cells that another live process
    is working on are left to it, failed cells are tried again. Returns counts per outcome.
    ``jobs > 1`` (local executor) runs cells in that many worker processes, each with ``grid.threads``
    torch threads (default: the CPU cores divided among the jobs); this process writes the database.

    Args:
        grid: the :class:`innbench.benchmark.GridConfig` (:func:`innbench.benchmark.get_grid`,
            :func:`innbench.benchmark.load_grid`).
        db_path: the results database (:class:`innbench.benchmark.ResultsDB`; created if missing).
        executor: ``"local"`` (this process, or ``jobs`` worker processes) or ``"ray"``.
        address: the Ray cluster's address (None: a local Ray).
        progress: show a progress bar over the cells.
        save_dir: a directory to save every trained model in; None: not saved.
        device: the torch device of the cells.
        log: where the one-line messages go (``print``).
        jobs: worker processes of the local executor.

    Returns:
        Counts: ``cells``, ``done_before`` (skipped), ``busy`` (left to another process), ``done``, ``failed``.

    Raises:
        GridInterrupted: on Ctrl-C, after the finished cells are stored and the unfinished released.

    Example:
        >>> import tempfile
        >>> from innbench.benchmark import run_grid
        >>> from innbench.benchmark import GridConfig
        >>> grid = GridConfig(name="doc", problems=["linear"], seeds=[0],
        ...                   models=[{"model": "rejection_abc", "label": "abc", "options": {"simulations": 2000}}],
        ...                   preset="tiny", observations=3, samples=200, timing_observations=0,
        ...                   c2st_observations=0, noise_floor_observations=0)
        >>> path = tempfile.mkdtemp() + "/results.db"
        >>> run_grid(grid, path, progress=False, log=lambda *a: None)
        {'cells': 1, 'done_before': 0, 'busy': 0, 'done': 1, 'failed': 0}
        >>> run_grid(grid, path, progress=False, log=lambda *a: None)["done_before"]  # a re-run resumes
        1
    """
    if executor not in ("local", "ray"):
        raise ValueError(f"executor: expected 'local' or 'ray', got {executor!r}")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs: expected a positive number of worker processes, got {jobs!r}")
    grid.check_names()
    cells = grid.cells()
    config = grid.to_dict()
    counts = {"cells": len(cells), "done_before": 0, "busy": 0, "done": 0, "failed": 0}
    with ResultsDB(db_path) as db:
        _refuse_other_versions(db, grid, cells, db_path)
        status = db.status(c.key for c in cells)
        todo = [cell for cell in cells if status.get(cell.key) != "done"]
        counts["done_before"] = len(cells) - len(todo)
        log(f"grid {grid.name!r}: {len(cells)} cells, {counts['done_before']} already in {db_path}, "
            f"{len(todo)} to run ({executor}" + (f", {jobs} jobs)" if executor == "local" and jobs > 1 else ")"))
        tally = _Tally(db, config, counts, len(cells), grid.name, log, progress)
        try:
            for cell, result, error in _results(todo, tally, config, executor, jobs, grid.threads, progress,
                                                save_dir, device, address):
                tally.record(cell, result, error)
        except KeyboardInterrupt:
            tally.release_unfinished()
            tally.close()
            raise GridInterrupted(
                f"interrupted: {counts['done_before'] + counts['done']} of {len(cells)} cells are stored in "
                f"{db_path}; run the same command again to resume") from None
        tally.close()
    return counts
