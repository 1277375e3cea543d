"""Command-line interface: ``innbench <command>``. Every command is a thin front over :mod:`innbench.api`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import warnings
from pathlib import Path

__all__ = ["main"]


def _name_list(names, limit: int = 6, head: int = 3) -> str:
    """``names`` joined by commas; a list longer than ``limit`` as its first ``head`` names, the last one and
    the count (the epidemic's 160 observation names would fill a screen).

    Example:
        >>> from innbench.cli import _name_list
        >>> _name_list(["a", "b"])
        'a, b'
        >>> _name_list([f"y{i}" for i in range(1, 161)])
        'y1, y2, y3, ..., y160 (160 names)'
    """
    names = [str(n) for n in names]
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:head])}, ..., {names[-1]} ({len(names)} names)"


def _table(rows, right=()) -> list[str]:
    """``rows`` (lists of cells, the header first) as lines with every column as wide as its widest cell,
    two spaces apart; the columns whose indices are in ``right`` aligned right, a row's cells beyond the
    first row's (a note) appended unaligned.

    Example:
        >>> from innbench.cli import _table
        >>> for line in _table([["name", "n"], ["a", "10"], ["long_name", "7", "(a note)"]], right=(1,)):
        ...     print(line)
        name        n
        a          10
        long_name   7  (a note)
    """
    n = len(rows[0])
    widths = [max(len(r[i]) for r in rows if i < len(r)) for i in range(n)]
    lines = []
    for r in rows:
        cells = [c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r[:n])]
        lines.append("  ".join(cells + list(r[n:])).rstrip())
    return lines


def cmd_problems(args):
    from .problems import get_problem, list_problems

    rows = []
    for name in list_problems():
        p = get_problem(name)
        rows.append([name, f"x_dim={p.x_dim} y_dim={p.y_dim}", f"{p.reference_kind} reference",
                     f"x: {_name_list(p.x_names)}  |  y: {_name_list(p.y_names)}"])
    for line in _table(rows):
        print(line)


def cmd_models(args):
    from .models import get_model_class, list_models

    def yn(v):
        return "yes" if v else "no"

    if args.problem:
        from .problems import get_problem

        get_problem(args.problem)  # unknown names fail before any output
    rows = [["name", "model", "loss", "ML", "y-sup", "inverse", "density"] + (["dim(z)", "params"] if args.problem
                                                                                else [])]
    for name in list_models():
        cls = get_model_class(name)
        f = cls.facts
        row = [name, cls.title, f.equation, yn(f.ml_loss), yn(f.y_supervised), yn(f.exact_inverse), yn(f.density)]
        if args.problem and cls.requires_likelihood and not get_problem(args.problem).has_likelihood:
            row += ["–", "–", "(needs a likelihood)"]
        elif args.problem:
            try:
                m = cls(args.problem)
            except ValueError as exc:  # a model that cannot run on this problem says why
                row += ["–", "–", f"({str(exc).split(':')[0]})"]
            else:
                row += [str(m.dim_z()), str(m.n_parameters())]
        rows.append(row)
    for line in _table(rows, right=(8,)):
        print(line)
    if not args.problem:
        print("(--problem NAME adds dim(z) and the default parameter count; every loss term, weight and noise "
              "amplitude is in the README's models table and each model's docstring)")


def _model_overrides(items, flag: str = "--set"):
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"{flag}: expected KEY=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


def _given(args, **keys) -> dict:
    """``{key: args.<option>}`` for the options given on the command line (``option=key`` pairs)."""
    return {key: getattr(args, opt) for opt, key in keys.items() if getattr(args, opt) is not None}


def cmd_train(args):
    from .api import train
    from .problems import get_problem
    from .simbudget import read_simulations

    out = Path(args.out or f"runs/{args.problem}-{args.model}-seed{args.seed}")
    sims = {}
    if args.data is not None and not args.data.strip():
        raise ValueError("--data: expected the path of a .npz or .csv file, got an empty string")
    if args.simulations is None and args.data is None:
        given = [f"--{k.replace('_', '-')}" for k in ("patience", "max_epochs") if getattr(args, k) is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: options of a simulation budget; give --simulations or --data "
                             "(the fixed-batch presets train a fixed number of batches)")
    if args.simulations is not None or args.data:
        if args.simulations is not None and args.data:
            raise ValueError("--simulations, --data: give one of them")
        wrong = [f"--{k}" for k, v in (("batches", args.batches), ("n-train", args.n_train)) if v is not None]
        if wrong:
            raise ValueError(f"{', '.join(wrong)}: fixed-batch budget options; with --simulations/--data the "
                             "epochs come from early stopping (--patience, --max-epochs)")
        fields = _given(args, lr="lr", patience="patience", max_epochs="max_epochs")
        sims = {"simulation_budget": fields, "simulations": args.simulations}
        if args.data:
            sims["data"] = read_simulations(args.data, get_problem(args.problem))
    budget = _given(args, batches="n_batches", n_train="n_train", lr="lr", params="params") if not sims else (
        _given(args, params="params"))
    options = _model_overrides(args.set)
    _refuse_train_arguments_in_set(options, train)
    m = train(args.problem, args.model, seed=args.seed, preset=args.preset, out=out, device=args.device,
              progress=not args.quiet, budget_overrides=budget, **sims, **options)
    for line in _train_summary(m, out):
        print(line)


def _refuse_train_arguments_in_set(options: dict, train) -> None:
    """``--set`` sets model options; the arguments of training itself (``seed``, ``device``, ...) have options
    of their own."""
    import inspect

    own = {name for name, p in inspect.signature(train).parameters.items() if p.kind != p.VAR_KEYWORD}
    clash = sorted(set(options) & own)
    if clash:
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in clash)
        raise ValueError(f"--set {', '.join(clash)}: not a model option but an argument of training; use {flags}")


def _train_summary(m, out) -> list[str]:
    """What ``train`` prints after saving: the simulation budget's epochs (where it trained on one) and the
    model; every figure only where the model has it (a model that simulates per query trains nothing)."""
    info = m.train_info

    def num(key, fmt):
        v = info.get(key)
        return None if v is None else format(v, fmt)

    lines = []
    if info.get("stopped") == "not trainable":
        lines.append(f"{m.name} trains nothing: it simulates or samples per query ({info.get('stopped')})")
    elif "epochs" in info:
        budget = info.get("budget") or {}
        loss = num("final_loss", ".4f")
        lines.append(f"{budget.get('simulations')} simulations ({info.get('n_validation')} held out): "
                     f"{info.get('epochs')} epochs of batch {info.get('batch_size')}, best epoch "
                     f"{info.get('best_epoch')}" + (f" (validation loss {loss})" if loss else "")
                     + f"; {info.get('stopped')}")
    seconds, loss = num("train_seconds", ".1f"), num("final_loss", ".4f")
    lines.append(f"trained {m.name} on {m.problem.name}: {m.n_parameters()} parameters, "
                 + (f"{seconds} s, " if seconds else "") + (f"final loss {loss}, " if loss else "")
                 + f"saved to {out}")
    return lines


def cmd_sample(args):
    import numpy as np

    from .api import load
    from .io import check_array_output, read_observations, save_array

    check_array_output(args.out, 3)  # before any work
    model = load(args.model_path, args.device)
    y = read_observations(args.observations, model.problem)
    samples = model.sample(y, args.n, seed=args.seed, round_discrete=not args.no_round)
    bad = np.flatnonzero(~np.isfinite(samples).all(axis=(1, 2)))
    if len(bad):  # never written as if it were a result
        raise ValueError(f"--observations: the model gave NaN or infinite samples for rows {bad[:5].tolist()} "
                         f"(e.g. y = {y[bad[0]].tolist()}): observations far outside its training data; nothing "
                         "was written")
    save_array(args.out, samples)
    print(f"wrote samples of shape {samples.shape} to {args.out}")


def cmd_reference(args):
    from .api import reference
    from .atomic import atomic_file, check_output_file
    from .io import check_array_output, read_observations, write_array
    from .problems import get_problem

    check_array_output(args.out, 3)  # both files, before any work
    json_out = Path(str(args.out) + ".json")
    check_output_file(json_out, "--out")
    problem = get_problem(args.problem)
    y = read_observations(args.observations, problem)
    opts = {"pool_size": args.pool_size} if args.method == "abc" and args.pool_size else {}
    samples, prov = reference(problem, y, args.n, method=args.method, seed=args.seed, **opts)
    # the pair is written as temporary files and renamed together; the provenance names the samples'
    # shape and checksum, so a pair torn by a crash between the two renames is detectable
    with atomic_file(args.out, "--out") as npy_tmp, atomic_file(json_out, "--out") as json_tmp:
        write_array(npy_tmp, samples, Path(args.out).suffix)
        prov = {**prov, "samples_file": Path(args.out).name, "shape": list(samples.shape),
                "sha256": hashlib.sha256(npy_tmp.read_bytes()).hexdigest()}
        json_tmp.write_text(json.dumps(prov, indent=2))
    extra = (f", min ESS {min(prov['ess']):.0f}" if prov.get("ess") else
             f", max tolerance {max(prov['tolerance']):.4g}" if prov.get("tolerance") else "")
    print(f"wrote reference samples of shape {samples.shape} ({prov['method']}{extra}) to {args.out}")


def cmd_evaluate(args):
    from .api import evaluate, load
    from .io import read_observations, read_parameters
    from .problems import ObservationError

    metrics = None
    if args.metrics:  # "default" stands for the metrics computed when none are named
        from .metrics import default_metric_names, metric_names

        metrics = [n for name in args.metrics for n in (default_metric_names() if name == "default" else [name])]
        unknown = sorted(set(metrics) - set(metric_names()))
        if unknown:
            raise ValueError(f"--metrics: unknown {unknown[0]!r}; registered: default, {', '.join(metric_names())}")
    model = load(args.model_path, args.device)
    y = read_observations(args.observations, model.problem) if args.observations else None
    x_true = None
    if args.true_parameters:
        if y is None:
            raise ObservationError("--true-parameters: only with --observations (the test set's are known)")
        x_true = read_parameters(args.true_parameters, model.problem, len(y))
    if y is None and args.figures:  # the test set's parameters, for the posterior figure's truth
        from .reference import test_observations

        x_true, y = test_observations(model.problem, args.num_observations)
    if args.json:  # fail before the evaluation, not after, if the results cannot be written
        from .atomic import check_output_file

        check_output_file(args.json, "--json")
    if args.figures:
        from .atomic import check_output_dir

        check_output_dir(args.figures, "--figures")
    res = evaluate(model, y, num_observations=args.num_observations, n_samples=args.n,
                   reference_method=args.reference_method, timing_observations=args.timing_observations,
                   c2st_observations=args.c2st_observations, sbc=not args.no_sbc, true_parameters=x_true,
                   round_discrete=not args.no_round, progress=True, c2st_backend=args.c2st_backend,
                   c2st_folds=args.c2st_folds, keep_samples=bool(args.figures), metrics=metrics,
                   metric_options=_model_overrides(args.metric_option, "--metric-option") or None)
    if args.figures:
        from .api import evaluation_figures

        try:
            written = evaluation_figures(model, res, args.figures, true_parameters=x_true)
        except ValueError as exc:  # the API names its argument "out"; here it is --figures
            raise type(exc)(str(exc).replace("out: ", "--figures: ", 1)) from None
        res.pop("samples"), res.pop("reference")
        print(f"wrote {', '.join(p.name for p in written)} to {args.figures}")
    s = res["summary"]
    print(f"{s['model']} on {s['problem']} ({s['n_observations']} observations, {s['n_samples']} samples each)")
    # each line where its metric was computed (--metrics may name a few)
    if "err_post_mean" in s:
        floor = "" if "noise_floor_mean" not in s else f"   (noise floor {s['noise_floor_mean']:.4f})"
        print(f"  Err_post   mean {s['err_post_mean']:.4f}   median {s['err_post_median']:.4f}{floor}")
    if "err_resim_mean" in s:
        print(f"  Err_resim  mean {s['err_resim_mean']:.4f}   median {s['err_resim_median']:.4f}   "
              f"squared {s['err_resim_sq_mean']:.5f}")
    if "inference_ms" in s:
        timing = ("not timed" if s["inference_ms"] is None
                  else f"{s['inference_ms']:.1f} ms per {s['n_samples']}-sample call")
        print(f"  inference  {timing}" + (f"    invalid {s['invalid_fraction']:.4f}" if "invalid_fraction" in s
                                          else "")
              + (f"   outside support {s['outside_support_fraction']:.4f}" if "outside_support_fraction" in s
                 else ""))
    if s.get("sbc_observations"):
        print(f"  SBC        min p-value {s['sbc_min_pvalue']:.3g}   coverage of 50 % / 90 % intervals "
              f"{s['coverage_50']:.3f} / {s['coverage_90']:.3f}   ({s['sbc_observations']} observations)")
    elif not args.no_sbc and "sbc_observations" in s:
        print("  SBC        skipped: the true parameters of these observations are unknown (--true-parameters)")
    if s.get("c2st_observations"):
        c2 = "–" if s["c2st_mean"] is None else f"{s['c2st_mean']:.3f}"
        print(f"  C2ST       accuracy {c2}   (floor {s['c2st_floor_mean']:.3f}; 0.5 = indistinguishable; "
              f"{s['c2st_observations']} observations)")
    _print_other_metrics(s)
    if args.json:
        from .atomic import write_json

        write_json(args.json, res, "--json")
        print(f"wrote {args.json}")


#: the summary keys the lines of ``innbench evaluate`` above print by hand
_PRINTED = {"err_post_mean", "err_post_median", "noise_floor_mean", "noise_floor_observations", "err_resim_mean",
            "err_resim_median", "err_resim_sq_mean", "inference_ms", "invalid_fraction", "outside_support_fraction",
            "sbc_min_pvalue", "coverage_50", "coverage_90", "sbc_observations", "c2st_mean", "c2st_floor_mean",
            "c2st_observations", "err_resim_continuous_mean"}


def _print_other_metrics(summary: dict) -> None:
    """One line per registered metric (:mod:`innbench.metrics`) that the lines above do not print: its summary
    values by their declared titles (a metric of one's own is printed with no change here)."""
    from .metrics import metrics

    for m in metrics():
        titles = {key: v.summary_title(reducer) for v in m.values for key, reducer in v.summary}
        titles.update(dict(m.summary_titles))
        shown = [(titles[k], summary[k]) for k in titles if k not in _PRINTED and summary.get(k) is not None]
        if shown:
            print(f"  {m.name:<10} " + "   ".join(f"{t} {v:.4g}" for t, v in shown))


def cmd_observations(args):
    from .io import check_array_output, save_array
    from .problems import get_problem
    from .reference import test_observations

    check_array_output(args.out, 2)
    if args.x_out:
        check_array_output(args.x_out, 2, "--x-out")
    problem = get_problem(args.problem)
    x, y = test_observations(problem, args.n, seed=args.seed)
    save_array(args.out, y)
    msg = f"wrote {len(y)} test observations of shape {y.shape} to {args.out}"
    if args.x_out:
        save_array(args.x_out, x, "--x-out")
        msg += f" and their true parameters to {args.x_out}"
    print(msg)


def cmd_demo(args):
    from .demo import run_demo

    run_demo(args.out, preset=args.preset, num_observations=args.num_observations, device=args.device)


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def cmd_bench(args):
    import signal

    from .benchmark import get_grid, load_grid, run_grid

    overrides = _given(args, observations="observations", seeds="seeds", threads="threads",
                       simulations="simulations")
    if args.config:
        if args.preset:
            raise ValueError("--config, --preset: give one of them (a config file may say base = \"quick\")")
        grid = load_grid(args.config)
    else:
        grid = get_grid(args.preset or "quick")
    imports = list(grid.imports) + [i for i in args.imports if i not in grid.imports]  # for the workers
    try:
        grid = grid.select(args.problems, args.models, imports=imports, **overrides)
    except ValueError as exc:
        if str(exc).startswith("models:"):
            raise ValueError(f"--{exc}") from None
        raise
    # a kill (SIGTERM) is handled like Ctrl-C: finished cells stay, the running one is released
    signal.signal(signal.SIGTERM, _raise_interrupt)
    if args.list:  # the grid's imports and names are checked as a run checks them, so a listed grid runs
        grid.check_names()
        for cell in grid.cells():
            print(cell.describe())
        return
    counts = run_grid(grid, args.db, executor=args.executor, address=args.address, progress=not args.quiet,
                      save_dir=args.save_models, device=args.device, jobs=args.jobs)
    print(f"grid {grid.name!r}: {counts['done']} cells run, {counts['done_before']} already stored, "
          f"{counts['busy']} left to other processes, {counts['failed']} failed; results in {args.db}")
    if counts["failed"]:
        raise ValueError(f"{counts['failed']} cells failed (their errors are in the runs table of {args.db}); "
                         "run the same command again to retry them")


def cmd_report(args):
    from .benchmark.report import build_report

    res = build_report(args.db, args.out, grid=args.grid)
    print(f"report of grid {res['grid']!r}: {res['html']} ({len(res['tables'])} table files, "
          f"{len(res['figures'])} figures in {Path(args.out) / 'figures'})")
    if res["unregistered"]:
        print(f"note: problems {res['unregistered']} are not registered in this process, so their prior and "
              "posterior figures are left out (their tables come from the database alone): pass the grid's "
              "plugin with --imports", file=sys.stderr)


def cmd_explore(args):
    from .explore import Explorer, serve

    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port: expected a port from 0 (any free one) to 65535, got {args.port}")
    explorer = Explorer.from_paths(args.models, db=args.db, device=args.device)
    # numpy's BLAS too: its own threads on top of the server's contend for the cores (a 96 x 1000 product
    # took 30 ms instead of 4 on two busy cores); threadpoolctl comes with scikit-learn
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        serve(explorer, host=args.host, port=args.port, open_browser=not args.no_browser, quiet=not args.log,
          request_time_limit=args.request_time_limit)


#: the grid presets of ``innbench bench --preset`` (:data:`innbench.benchmark.config.GRID_PRESETS`, named here so
#: that ``--help`` need not import the benchmark and torch; tests/test_cli_help.py checks that they agree)
GRID_PRESET_NAMES = ("quick", "default", "paper", "sbi", "structured")
#: the training presets of ``--preset`` (:data:`innbench.training.PRESETS`; checked by the same test)
TRAINING_PRESET_NAMES = ("tiny", "quick", "default")


class _HelpFormatter(argparse.HelpFormatter):
    """Shows an option's default after its help, unless the help already says it ("(default ...") or there is
    none to show (no value, a flag, an empty list)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if ("(default" not in text and action.option_strings and default is not argparse.SUPPRESS
                and default is not None and default is not False and default != []):
            text += " (default: %(default)s)"
        return text


class _Parser(argparse.ArgumentParser):
    """The parser of ``innbench`` and of its subcommands (``add_subparsers`` makes them of the same class)."""

    def __init__(self, *args, formatter_class=_HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``innbench`` command, its subcommands and every option (importing nothing heavy:
    ``innbench --help`` answers at once)."""
    from . import __version__

    p = _Parser(prog="innbench", description="Ambiguous inverse problems with invertible neural networks. "
                "`innbench COMMAND --help` describes a command's options.")
    p.add_argument("--version", action="version", version=f"innbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    plug = argparse.ArgumentParser(add_help=False)
    plug.add_argument("--imports", nargs="+", default=[], metavar="MODULE_OR_FILE",
                      help="modules (package.module) or files (plugin.py) that register your own models and problems")

    threads = argparse.ArgumentParser(add_help=False)
    threads.add_argument("--threads", type=int,
                         help="torch CPU threads (default: $INNBENCH_THREADS or $OMP_NUM_THREADS, else 1: innbench's "
                              "networks are small, and a second thread gains little and waits long on a busy machine)")
    limit = argparse.ArgumentParser(add_help=False)
    limit.add_argument("--time-limit", type=float, metavar="SECONDS",
                       help="stop with an error (writing nothing) after this many seconds, also inside your "
                            "simulator (default: no limit)")

    sub.add_parser("problems", help="list registered problems", parents=[plug]).set_defaults(func=cmd_problems)
    mp = sub.add_parser("models", help="list registered models and the facts of the paper's tables", parents=[plug])
    mp.add_argument("--problem", help="also show dim(z) and the default parameter count for this problem")
    mp.set_defaults(func=cmd_models)

    t = sub.add_parser("train", help="train a model and write a model directory", parents=[plug, limit, threads])
    t.add_argument("--problem", required=True, help="problem name (`innbench problems` lists them)")
    t.add_argument("--model", required=True, help="model name (`innbench models` lists them)")
    t.add_argument("--seed", type=int, default=0, help="training seed (initial weights and training data)")
    t.add_argument("--preset", default="default",
                   help=f"training budget preset: {', '.join(TRAINING_PRESET_NAMES)} (tiny: seconds, for tests; "
                        "quick: minutes; default: the benchmark's)")
    t.add_argument("--out", help="model directory (default runs/PROBLEM-MODEL-seedS)")
    t.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    t.add_argument("--batches", type=int, help="override the preset's number of batches")
    t.add_argument("--n-train", type=int, help="override the preset's number of training pairs")
    t.add_argument("--lr", type=float, help="override the preset's peak learning rate")
    t.add_argument("--params", type=int,
                   help="target parameter count: the model's width is scaled to the nearest count")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="model option, e.g. --set hidden=256")
    t.add_argument("--simulations", type=int,
                   help="train on N fresh simulations with a validation split and early stopping (not the preset)")
    t.add_argument("--data", help="train on your own simulations: .npz with arrays x and y, or .csv with the "
                                  "parameters then the observations per row (validation split, early stopping)")
    t.add_argument("--patience", type=int,
                   help="with --simulations/--data: epochs without improvement before stopping (default 30)")
    t.add_argument("--max-epochs", type=int, help="with --simulations/--data: at most this many epochs")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="draw posterior samples from a trained model", parents=[plug, limit, threads])
    s.add_argument("--model-path", required=True, metavar="DIR",
                   help="model directory written by `innbench train` (or `bench --save-models`)")
    s.add_argument("--observations", required=True,
                   help="OBS.npy, OBS.csv or inline '1.5,0;1.2,0.3' (starting with '-': --observations=-1.5,0)")
    s.add_argument("--n", type=int, default=4000, help="posterior samples per observation")
    s.add_argument("--out", required=True, help="SAMPLES.npy, shape (m, n, x_dim)")
    s.add_argument("--seed", type=int, default=0, help="sampling seed")
    s.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    s.add_argument("--no-round", action="store_true", help="leave discrete parameters (ballistics speed) unrounded")
    s.set_defaults(func=cmd_sample)

    r = sub.add_parser("reference", help="draw reference posterior samples", parents=[plug, limit, threads])
    r.add_argument("--problem", required=True, help="problem name (`innbench problems` lists them)")
    r.add_argument("--observations", required=True,
                   help="OBS.npy, OBS.csv or inline '1.5,0;1.2,0.3' (starting with '-': --observations=-1.5,0)")
    r.add_argument("--n", type=int, default=4000, help="reference samples per observation")
    r.add_argument("--out", required=True,
                   help="REF.npy, shape (m, n, x_dim); its provenance (method, diagnostics) goes to REF.npy.json")
    r.add_argument("--method", choices=["exact", "mcmc", "abc"], default="exact",
                   help="exact: the problem's own sampler; mcmc: MCMC on its likelihood; abc: quantile ABC")
    r.add_argument("--seed", type=int, default=1234, help="sampling seed")
    r.add_argument("--pool-size", type=int, help="quantile ABC pool size (default 2e6)")
    r.set_defaults(func=cmd_reference)

    e = sub.add_parser("evaluate", help="score a model against reference posteriors", parents=[plug, limit, threads])
    e.add_argument("--model-path", required=True, metavar="DIR",
                   help="model directory written by `innbench train` (or `bench --save-models`)")
    e.add_argument("--observations", help="observations to score on (default: the problem's test set)")
    e.add_argument("--num-observations", type=int, default=200, help="how many test observations (default 200)")
    e.add_argument("--n", type=int, default=4000, help="samples per observation")
    e.add_argument("--reference-method", choices=["exact", "mcmc", "abc"], default="exact",
                   help="how the reference posteriors are drawn, as `innbench reference --method`")
    e.add_argument("--timing-observations", type=int, default=20, help="observations to time (0: no timing)")
    e.add_argument("--c2st-observations", type=int, default=5,
                   help="observations for the classifier two-sample test (default 5, about 2 s each; 0 skips it)")
    e.add_argument("--c2st-backend", choices=["torch", "sklearn"], default="torch",
                   help="sklearn: sbibm's own classifier (slow); torch (default): the same network, fast")
    e.add_argument("--c2st-folds", type=int, default=2, help="cross-validation folds of the C2ST (sbibm: 5)")
    e.add_argument("--no-sbc", action="store_true", help="skip the SBC ranks and coverage")
    e.add_argument("--metrics", nargs="+", metavar="NAME",
                   help="only these registered metrics (`default`: the ones computed without this option), e.g. "
                        "--metrics default lc2st adds the opt-in L-C2ST")
    e.add_argument("--metric-option", action="append", metavar="KEY=VALUE",
                   help="an option of a chosen metric, e.g. --metric-option lc2st_calibration=1000")
    e.add_argument("--true-parameters", help="with --observations: the x behind each observation (enables SBC)")
    e.add_argument("--json", metavar="FILE", help="write the results as JSON")
    e.add_argument("--figures", metavar="DIR", help="draw the posterior of the first observation (with its true "
                   "parameters where known), posterior predictive bands (series), SBC and coverage into DIR")
    e.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    e.add_argument("--no-round", action="store_true", help="leave discrete parameters (ballistics speed) unrounded")
    e.set_defaults(func=cmd_evaluate)

    o = sub.add_parser("observations", help="write the problem's fixed test observations (and their true x)",
                       parents=[plug])
    o.add_argument("--problem", required=True, help="problem name (`innbench problems` lists them)")
    o.add_argument("--n", type=int, default=1000, help="how many test observations")
    o.add_argument("--out", required=True, help="OBS.npy (or .csv), shape (n, y_dim)")
    o.add_argument("--x-out", help="also write the true parameters, shape (n, x_dim)")
    o.add_argument("--seed", type=int, default=20190601, help="test-set seed (default: the benchmark's)")
    o.set_defaults(func=cmd_observations)

    b = sub.add_parser("bench", help="run a benchmark grid (problems x models x seeds) into a results database",
                       parents=[plug])
    b.add_argument("--preset", help=f"grid preset: {', '.join(GRID_PRESET_NAMES)} (default: quick, minutes on a "
                                    "CPU; docs/benchmark.md describes each)")
    b.add_argument("--config", metavar="FILE", help="grid from a TOML file instead of --preset (`base = \"quick\"` "
                                                     "in the file starts from a preset)")
    b.add_argument("--db", default="results/innbench.db", help="SQLite results database (default results/innbench.db)")
    b.add_argument("--problems", nargs="+", help="only these problems of the grid")
    b.add_argument("--models", nargs="+", help="only these models (names or labels) of the grid")
    b.add_argument("--seeds", nargs="+", type=int, help="training seeds (overrides the grid's)")
    b.add_argument("--observations", type=int, help="test observations per cell (overrides the grid's)")
    b.add_argument("--simulations", type=int, nargs="+", metavar="N",
                   help="simulation budgets (overrides the grid's; e.g. --simulations 1000 10000)")
    b.add_argument("--threads", type=int, help="torch CPU threads per cell")
    b.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local (default) or ray: cells as Ray tasks")
    b.add_argument("--address", help="Ray cluster address (default: start a local Ray instance)")
    b.add_argument("--jobs", type=int, default=1,
                   help="local worker processes running cells at once (default 1; e.g. the number of cores)")
    b.add_argument("--save-models", help="also keep each trained model in this directory")
    b.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    b.add_argument("--list", action="store_true",
                   help="check the grid's names (after its imports), print its cells and exit without running")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_bench)

    rp = sub.add_parser("report", help="tables, figures and an HTML page from a results database", parents=[plug])
    rp.add_argument("--db", default="results/innbench.db", help="SQLite results database written by `innbench bench`")
    rp.add_argument("--out", default="results/report", help="output directory (default results/report)")
    rp.add_argument("--grid", help="which grid of the database (default: the most recently finished)")
    rp.set_defaults(func=cmd_report)

    x = sub.add_parser("explore", help="a local web page: saved models' posteriors for observations you pick, "
                                      "beside the reference, with Err_post and Err_resim live", parents=[plug])
    x.add_argument("--models", nargs="+", default=["models"], metavar="DIR",
                   help="model directories, or directories of them as 'bench --save-models DIR' writes "
                        "(default: models)")
    x.add_argument("--db", help="results database: show each benchmark model's grid metrics beside it")
    x.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    x.add_argument("--port", type=int, default=8765, help="port (default 8765; 0: any free port)")
    x.add_argument("--no-browser", action="store_true", help="do not open the page in the default browser")
    x.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    x.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (default 1: the models' requests already run in parallel)")
    x.add_argument("--request-time-limit", type=float, default=60.0, metavar="SECONDS",
                   help="answer a request still computing after this many seconds with an error (default 60)")
    x.add_argument("--log", action="store_true", help="print every request")
    x.set_defaults(func=cmd_explore)

    d = sub.add_parser("demo", help="train a cINN on inverse kinematics, evaluate it, draw its posterior",
                       parents=[threads])
    d.add_argument("--out", default="runs/demo", metavar="DIR",
                   help="output directory: the model, metrics.json and posterior_kinematics.png")
    d.add_argument("--preset", default="quick",
                   help=f"training budget preset: {', '.join(TRAINING_PRESET_NAMES)} (quick: minutes on a CPU)")
    d.add_argument("--num-observations", type=int, default=100, help="test observations to score the model on")
    d.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (auto: a GPU if there is one)")
    d.set_defaults(func=cmd_demo)
    return p


#: the command-line numbers and what each must be (checked before any work)
_POSITIVE = ("n", "batches", "n_train", "params", "pool_size", "num_observations", "observations", "threads", "jobs",
             "simulations", "patience", "max_epochs")
_NONNEGATIVE = ("seed", "timing_observations", "c2st_observations")


def _check_numbers(args) -> None:
    from . import params as P

    for key in _POSITIVE + _NONNEGATIVE:
        value = getattr(args, key, None)
        if value is not None and not (key == "observations" and isinstance(value, str)):  # a file or inline rows
            check = P.count if key in _POSITIVE else P.nonnegative_count
            for v in value if isinstance(value, list) else [value]:  # bench --simulations takes several
                check(v, "--" + key.replace("_", "-"))
    if getattr(args, "lr", None) is not None:
        P.positive_real(args.lr, "--lr")
    for key in ("time_limit", "request_time_limit"):
        if getattr(args, key, None) is not None:
            P.positive_real(getattr(args, key), "--" + key.replace("_", "-"))
    for s in getattr(args, "seeds", None) or []:
        P.nonnegative_count(s, "--seeds")


def _expected_errors() -> tuple:
    """The errors ``main`` reports as one line (exit 2): errors in the input. Evaluated only when an exception
    propagates; the error classes of the models and of training are looked up where their modules are loaded (an
    error of a module never imported cannot have been raised), so that no command imports torch for them. The
    problems' ``ObservationError`` is a ``ValueError``."""
    errors = [ValueError, KeyError, FileNotFoundError]
    for module, name in (("innbench.models.base", "ModelLoadError"), ("innbench.training", "TrainingDivergedError")):
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None:
            errors.append(cls)
    return tuple(errors)


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"innbench: warning: {message}", file=sys.stderr)


def main(argv=None) -> int:
    """The ``innbench`` command: parse ``argv``, run the subcommand, and turn expected errors into one line
    on stderr.

    Every subcommand is a thin front over the Python API (:mod:`innbench.api`, :mod:`innbench.benchmark`);
    ``innbench --help`` lists them.

    Args:
        argv: the arguments (without the program name); None: ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 2 for an error in the input (bad observations, an unknown name, a
        corrupt model directory, a diverged training), 130 after Ctrl-C.

    Example:
        >>> from innbench.cli import main
        >>> main(["problems"])  # doctest: +ELLIPSIS
        ballistics ...
        0
        >>> main(["sample", "--model-path", "no/such/dir", "--observations", "1.5,0", "--out", "s.npy"])
        2
    """
    from .runtime import time_limit, tune_allocator  # the standard library only: torch, the models and the
    # problems are imported by the commands that need them, so that --help answers at once

    parser = build_parser()
    args = parser.parse_args(argv)
    tune_allocator()
    try:
        if getattr(args, "imports", None):
            from .benchmark.config import import_plugins

            import_plugins(args.imports)
        _check_numbers(args)
        if getattr(args, "device", None):  # a missing GPU is an error now, not in every cell
            from .api import resolve_device

            args.device = resolve_device(args.device)
        if hasattr(args, "threads"):  # the commands that compute: --threads, the environment, else 1
            import torch

            from .runtime import resolve_threads

            if args.command != "bench" or args.threads is not None:  # a grid's cells: its own setting
                torch.set_num_threads(resolve_threads(args.threads, "--threads"))
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            warnings.filterwarnings("ignore", category=RuntimeWarning)  # numpy's overflow notes: results are checked
            with time_limit(getattr(args, "time_limit", None), "--time-limit", f"innbench {args.command}"):
                args.func(args)
    except _expected_errors() as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"innbench: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print(f"innbench: {exc.args[0] if exc.args else 'interrupted'}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
