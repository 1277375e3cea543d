"""The report: the paper's tables and figures, calibration and amortization, from the results database alone.

``build_report(db, out)`` writes into ``out``:

- ``table_<problem>.md``, ``.tex``, ``.csv``: the paper's Tables 1 and 2 layout (Err_post, Err_resim,
  inference ms, dim(z), ML loss, y-supervision) with mean, median and a clamped mean, and the
  published values alongside; ``calibration_<problem>.*``: C2ST accuracy, SBC uniformity, coverage;
- ``figures/*.png``: priors (Figure 1), posteriors (Figures 2 and 3, the Gaussian mixture per colour),
  box plots of both errors (Figures 4 and 5), what amortization buys, SBC rank histograms, coverage;
- ``report.html``: one self-contained page with all of the above (images embedded), its figures numbered
  1, 2, ... in page order, each results table split in two so that it fits a 1,400 px window (errors, time
  and the paper's values; the models' facts below), and one colour per model in every figure
  (:func:`innbench.figures.model_color`);
- ``summary.json``: the numbers of the tables.

Clamped mean: every per-observation error is capped at :data:`CLAMP` (1.0) before averaging. The
paper's ballistics means were computed "with clamped values" but its cap is not published; ours keeps
a few failed observations from dominating a mean while leaving every error below 1 untouched.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import re
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .. import __version__
from ..atomic import atomic_file, check_output_dir, replace_dir, write_json, write_text
from .db import ResultsDB
from .paper import NPE_C2ST, NPE_SOURCE, PAPER, paper_row

__all__ = ["CLAMP", "build_report", "collect"]

#: cap of the clamped means (per-observation errors above it count as CLAMP)
CLAMP = 1.0


def _yn(v) -> str:
    return "yes" if v else "no"


def collect(db: ResultsDB, grid: str | None = None) -> dict:
    """Gather the finished runs of ``grid`` (default: the most recently finished grid) by problem and label.

    Args:
        db: an open :class:`innbench.benchmark.ResultsDB`.
        grid: the grid's name; None: the most recently finished one.

    Returns:
        ``{"grid": name, "problems": {problem: {label: [run, ...]}}}`` with each run's per-observation rows.
    """
    grids = db.grids()
    if not grids:
        raise ValueError(f"db: {str(db.path)!r} holds no finished runs (run `innbench bench` first)")
    if grid is None:
        grid = grids[-1]
    elif grid not in grids:
        raise ValueError(f"grid: no finished runs of grid {grid!r} in {str(db.path)!r}; it holds {', '.join(grids)}")
    runs = db.runs(grid)
    versions = sorted({str(r.get("innbench_version")) for r in runs})
    if len(versions) > 1:  # one table averages one code base's results, never two
        raise ValueError(f"db: grid {grid!r} in {str(db.path)!r} holds runs made by innbench {', '.join(versions)}; "
                         "results of different versions are not reported together: rerun the grid into a new --db")
    rows = db.results([r["run_id"] for r in runs])
    long_values = db.metric_values([r["run_id"] for r in runs])
    own_calibration = db.calibration([r["run_id"] for r in runs])
    by_run: dict[int, list] = {}
    for row in rows:
        by_run.setdefault(row["run_id"], []).append(row)
    problems: dict[str, OrderedDict] = OrderedDict()
    for r in runs:
        entry = problems.setdefault(r["problem"], OrderedDict()).setdefault(r["label"], {
            "label": r["label"], "model": r["model"], "title": r["title"], "facts": r["facts"], "runs": [],
            "dim_z": r["dim_z"], "n_parameters": r["n_parameters"]})
        entry["runs"].append(r)
    out = {"grid": grid, "problems": problems, "runs": runs}
    for problem, labels in problems.items():
        for label, e in labels.items():
            obs = [row for run in e["runs"] for row in by_run.get(run["run_id"], [])]
            e["err_post"] = np.array([np.nan if o["err_post"] is None else o["err_post"] for o in obs], dtype=float)
            e["err_resim"] = np.array([np.nan if o["err_resim"] is None else o["err_resim"] for o in obs],
                                      dtype=float)
            e["err_resim_sq"] = np.array([np.nan if o["err_resim_sq"] is None else o["err_resim_sq"] for o in obs],
                                         dtype=float)
            e["err_resim_continuous"] = np.array([o["err_resim_continuous"] for o in obs
                                                  if o.get("err_resim_continuous") is not None], dtype=float)
            e["c2st"] = np.array([o["c2st"] for o in obs if o["c2st"] is not None], dtype=float)
            e["c2st_reference"] = np.array([o["c2st_reference"] for o in obs if o.get("c2st_reference") is not None],
                                           dtype=float)
            e["ranks"] = np.array([json.loads(o["sbc_ranks"]) for o in obs if o["sbc_ranks"]], dtype=float)
            e["sbc_draws"] = int(obs[0]["sbc_draws"]) if obs and obs[0]["sbc_draws"] else 0
            own = [own_calibration[run["run_id"]] for run in e["runs"] if run["run_id"] in own_calibration]
            if own:  # the grid calibrated on observations of their own (sbc_observations)
                e["ranks"], e["sbc_draws"] = np.concatenate([r for r, _ in own]), int(own[0][1])
            e["values"] = {}  # every stored metric value (the long format), pooled over the label's runs
            for run in e["runs"]:
                for name, vals in long_values.get(run["run_id"], {}).items():
                    e["values"].setdefault(name, []).extend(vals)
            e["n_observations"] = len({o["obs_index"] for o in obs})
            e["seeds"] = sorted({run["seed"] for run in e["runs"]})
            for key in ("train_seconds", "inference_ms", "noise_floor", "sampling_seconds"):
                vals = [run[key] for run in e["runs"] if run[key] is not None]
                e[key] = float(np.mean(vals)) if vals else None
            e["paper"] = paper_row(problem, e["model"]) if label == e["model"] else None
    return out


def _stats(a: np.ndarray) -> dict:
    a = a[np.isfinite(a)]
    if not len(a):
        return {"mean": None, "median": None, "clamped_mean": None}
    return {"mean": float(a.mean()), "median": float(np.median(a)), "clamped_mean": float(np.minimum(a, CLAMP).mean())}


def _amortized(e) -> bool:
    """Whether the row's model answers observations without redoing its work (its showcase posteriors are
    drawn; rejection ABC's are the reference method again)."""
    from ..models import get_model_class

    try:
        return bool(get_model_class(e["model"]).amortized)
    except (KeyError, ValueError):
        return True


def _kind(e) -> str:
    """The amortization figure's kind of a row: ``amortized``, ``mcmc`` (MCMC on the exact likelihood per
    query), ``abc``, ``trained-mcmc`` (trained once, MCMC per query on the learned likelihood: drawn with
    the trained models, at its per-query cost) or ``sequential`` (round 1 trained once, the later rounds'
    simulations and trainings per query: ``tsnpe``, ``snle``; drawn with the trained models, at that cost)."""
    from ..models import get_model_class

    if _amortized(e):
        return "amortized"
    try:
        cls = get_model_class(e["model"])
    except (KeyError, ValueError):
        return "abc"
    if getattr(cls, "sequential", False):
        return "sequential"
    if cls.requires_likelihood:
        return "mcmc"
    return "trained-mcmc" if cls.requires_prior_density else "abc"


def _title(e) -> str:
    """The row's name: the model's title, and for a variant its label (ABC: its simulation budget)."""
    if e["label"] == e["model"]:
        return e["title"]
    from ..models import get_model_class

    options = _run_config(e, "cell").get("options") or {}
    try:
        cls = get_model_class(e["model"])
    except (KeyError, ValueError):  # a plugin model whose module this process did not import
        return f"{e['title']} [{e['label']}]"
    return cls.variant_title(e["label"], options, e["title"])


def table_rows(labels: OrderedDict) -> list[dict]:
    rows = []
    for e in labels.values():
        ep, er = _stats(e["err_post"]), _stats(e["err_resim"])
        f = e["facts"] or {}
        p = e["paper"] or {}
        rows.append({
            "label": e["label"], "model": _title(e),
            "err_post_mean": ep["mean"], "err_post_median": ep["median"], "err_post_clamped": ep["clamped_mean"],
            "err_resim_mean": er["mean"], "err_resim_median": er["median"], "err_resim_clamped": er["clamped_mean"],
            "err_resim_continuous_mean": _stats(e["err_resim_continuous"])["mean"],
            "inference_ms": e["inference_ms"], "dim_z": e["dim_z"], "ml_loss": f.get("ml_loss"),
            "y_supervised": f.get("y_supervised"), "n_parameters": e["n_parameters"],
            "train_seconds": e["train_seconds"], "n_observations": e["n_observations"], "seeds": len(e["seeds"]),
            "paper_err_post": p.get("err_post"), "paper_err_resim": p.get("err_resim"),
            "paper_inference_ms": p.get("inference_ms"),
        })
    return rows


def calibration_rows(labels: OrderedDict) -> list[dict]:
    from ..evaluation import calibration_summary

    rows = []
    for e in labels.values():
        row = {"label": e["label"], "model": _title(e), "c2st_mean": None, "c2st_floor": None,
               "c2st_observations": len(e["c2st"]),
               "sbc_observations": len(e["ranks"]), "sbc_min_pvalue": None, "coverage_50": None,
               "coverage_90": None}
        if len(e["c2st"]) and np.isfinite(e["c2st"]).any():
            row["c2st_mean"] = float(np.nanmean(e["c2st"]))
        if len(e["c2st_reference"]):
            row["c2st_floor"] = float(np.mean(e["c2st_reference"]))
        if len(e["ranks"]) and e["sbc_draws"]:
            row.update(calibration_summary(e["ranks"], e["sbc_draws"]))
        rows.append(row)
    return rows


#: metric values the hand-made tables above show (the results and calibration tables, the runs' timings and
#: noise floor); every other registered value gets a column in the registry's table (:func:`metric_rows`)
SHOWN_VALUES = frozenset({"err_post", "err_resim", "err_resim_sq", "invalid_fraction", "outside_support_fraction",
                          "sbc_ranks", "sbc_draws", "c2st", "c2st_reference", "err_resim_continuous", "inference_ms",
                          "noise_floor"})


def metric_rows(labels: OrderedDict) -> tuple[list[dict], list[tuple[str, str]], dict]:
    """The table of the registered metrics the hand-made tables do not show (:mod:`innbench.metrics`), one row per
    label: each value's declared summaries over the stored per-observation values, and the metric's own
    (``summarize``). Returns ``(rows, columns, formats)``; no columns where no such metric was stored."""
    from ..metrics import metrics as registered

    columns, formats = [("model", "Model")], {}
    rows = [{"label": e["label"], "model": _title(e)} for e in labels.values()]
    for m in registered():
        own = [v for v in m.values if v.name not in SHOWN_VALUES]
        if not own or not any(v.name in e["values"] for v in own for e in labels.values()):
            continue
        before = len(columns)
        keys = [key for v in own for key, _ in v.summary] + [key for key, _ in m.summary_titles]
        for row, e in zip(rows, labels.values(), strict=True):
            per = {v.name: e["values"].get(v.name) for v in m.values}
            summary = m.summary_of(per, None)  # as the evaluation summarises, from the stored values
            row.update({key: summary.get(key) for key in keys})
            row[f"{m.name}_observations"] = max((len(per[v.name]) for v in own if per[v.name] is not None), default=0)
        for v in own:
            for key, reducer in v.summary:
                columns.append((key, v.summary_title(reducer)))
                formats[key] = v.fmt
        for key, title in m.summary_titles:
            columns.append((key, title))
            formats[key] = ".3g"
        if len(columns) > before:
            columns.append((f"{m.name}_observations", f"{m.name} obs."))
    return (rows, columns, formats) if len(columns) > 1 else ([], [], {})


def _coverage(e):
    from ..metrics.sbc import coverage_curve

    return coverage_curve(e["ranks"], e["sbc_draws"])


# -- formatting -----------------------------------------------------------------------------------
def _fmt(v, digits=4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, bool):
        return _yn(v)
    if isinstance(v, (int, np.integer)):
        return f"{v:,}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


MAIN_COLUMNS = [
    ("model", "Model"), ("err_post_mean", "Err_post mean"), ("err_post_median", "median"),
    ("err_post_clamped", "clamped"), ("err_resim_mean", "Err_resim mean"), ("err_resim_median", "median"),
    ("err_resim_clamped", "clamped"), ("inference_ms", "ms / query"), ("dim_z", "dim(z)"), ("ml_loss", "ML loss"),
    ("y_supervised", "y-supervised"), ("n_parameters", "params"), ("train_seconds", "train s"),
    ("paper_err_post", "paper Err_post"), ("paper_err_resim", "paper Err_resim"), ("paper_inference_ms", "paper ms"),
]
CAL_COLUMNS = [("model", "Model"), ("c2st_mean", "C2ST accuracy"), ("c2st_floor", "C2ST floor"),
               ("c2st_observations", "C2ST obs."), ("sbc_observations", "SBC obs."),
               ("sbc_min_pvalue", "SBC min p-value"), ("coverage_50", "coverage @50%"),
               ("coverage_90", "coverage @90%")]


def _cell(row, key, formats=None):
    v = row[key]
    if formats and key in formats:
        return "–" if v is None or not math.isfinite(v) else (f"{v:,}" if isinstance(v, int) else f"{v:{formats[key]}}")
    if key == "paper_inference_ms" and v is not None:
        return f"{v:g}"
    if key in ("train_seconds", "inference_ms") and v is not None:
        return f"{v:.1f}" if v < 100 else f"{v:.0f}"
    if key == "dim_z" and v is not None:
        return str(v)
    if key == "paper_err_post" or key == "paper_err_resim":
        return "–" if v is None else f"{v:g}"
    if key.startswith("c2st_") and key[5:].isdigit() and v is not None:
        return f"{v:.3f}"
    if key == "sbc_min_pvalue" and v is not None:
        return f"{v:.2g}"
    return _fmt(v) if key != "model" else str(v)


def markdown_table(rows, columns, formats=None) -> str:
    head = "| " + " | ".join(h for _, h in columns) + " |"
    sep = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(_cell(r, k, formats) for k, _ in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body]) + "\n"


def _tex_escape(s: str) -> str:
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("_", r"\_"), ("#", r"\#"),
                 ("–", "--"), ("@", "@")):
        s = s.replace(a, b)
    return s


def latex_table(rows, columns, caption: str, formats=None) -> str:
    lines = [r"\begin{table}[t]", r"\centering", r"\small", f"\\caption{{{_tex_escape(caption)}}}",
             r"\begin{tabular}{l" + "r" * (len(columns) - 1) + "}", r"\toprule",
             " & ".join(_tex_escape(h) for _, h in columns) + r" \\", r"\midrule"]
    for r in rows:
        lines.append(" & ".join(_tex_escape(_cell(r, k, formats)) for k, _ in columns) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows) -> None:
    with atomic_file(path, "out") as tmp, tmp.open("w", newline="") as f:
        if rows:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)


def _html_table(rows, columns, caption: str, groups=None, formats=None) -> dict:
    """A table for the page template: its caption, headings and formatted cells (escaped by the template);
    ``groups``, when given, a row of headings above them as ``[(heading, n_columns), ...]``."""
    return {"caption": caption, "headings": [h for _, h in columns], "groups": groups or [],
            "rows": [[_cell(r, k, formats) for k, _ in columns] for r in rows]}


#: The page's results table: the errors, the query time and the paper's values, under grouped headings (it
#: fits a 1,400 px window with 12 models); the model's facts (dim(z), losses, size, training time) go to a
#: second table below it. The .md/.tex/.csv files keep every column in one table.
HTML_MAIN_GROUPS = (("", ("model",)),
                    ("Err_post", ("err_post_mean", "err_post_median", "err_post_clamped")),
                    ("Err_resim", ("err_resim_mean", "err_resim_median", "err_resim_clamped",
                                   "err_resim_continuous_mean")),
                    ("", ("inference_ms",)),
                    ("paper (Kruse et al. 2019)", ("paper_err_post", "paper_err_resim", "paper_inference_ms")))
HTML_SHORT = {"err_post_mean": "mean", "err_resim_mean": "mean", "err_resim_continuous_mean": "mean unrounded",
              "paper_err_post": "Err_post", "paper_err_resim": "Err_resim", "paper_inference_ms": "ms / query"}
HTML_FACT_COLUMNS = [("model", "Model"), ("dim_z", "dim(z)"), ("ml_loss", "ML loss"),
                     ("y_supervised", "y-supervised"), ("n_parameters", "params"), ("train_seconds", "train s")]


def _html_results_tables(rows, cols, caption: str) -> list[dict]:
    """The results table of ``cols`` (the .md table's columns) for the page: its main table (errors, time,
    the paper's values, grouped headings) and the models' facts in a second table; same cells as the .md."""
    have = dict(cols)
    main, groups = [], []
    for heading, keys in HTML_MAIN_GROUPS:
        keys = [k for k in keys if k in have]
        if keys:
            main += [(k, HTML_SHORT.get(k, have[k]) if heading else have[k]) for k in keys]
            groups.append((heading, len(keys)))
    facts = [(k, h) for k, h in HTML_FACT_COLUMNS if k in have]
    shown = {k for k, _ in main} | {k for k, _ in facts}
    facts += [c for c in cols if c[0] not in shown]  # a column neither table names: never dropped
    return [_html_table(rows, main, caption, groups),
            _html_table(rows, facts, "The models: latent dimension, training loss and supervision, network size "
                                     "and training time.")]


# -- figures --------------------------------------------------------------------------------------
class _FigureWriter:
    """Saves figures as PNG files into one directory and remembers (section, caption, path) for the page."""

    def __init__(self, fig_dir: Path):
        self.dir = fig_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.saved: list[tuple[str, str, Path]] = []

    def __call__(self, fig, name: str, section: str, caption: str) -> None:
        path = self.dir / f"{name}.png"
        with atomic_file(path, "out") as tmp:
            fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
        self.saved.append((section, caption, path))


def _problems(names) -> dict:
    """The registered problem objects of ``names``; a plugin problem whose module this process did not
    import is left out (its tables still come from the database alone)."""
    from ..problems import get_problem

    out = {}
    for name in names:
        try:
            out[name] = get_problem(name)
        except KeyError:
            continue
    return out


def _prior_figure(data: dict, problems: dict, save) -> None:
    from .. import figures as F

    rng = np.random.default_rng(0)
    priors = {name: problems[name].sample_prior(1000, rng) for name in data["problems"] if name in problems}
    if priors:
        paper = {p for p, _ in PAPER} & set(priors)
        save(F.priors_figure(priors, problems), "priors", "Problems", "Prior samples of each problem" + (
            " (arm configurations, throw trajectories: the paper's Figure 1)." if paper else "."))


def _posterior_figure(problem: str, prob, labels, db: ResultsDB, save) -> None:
    refs = db.references(problem)
    if prob is None or not refs:
        return
    method = prob.reference_kind
    panels = [(f"reference ({method})", refs)]
    for e in labels.values():
        shows = db.samples(e["runs"][0]["run_id"])
        if shows and _amortized(e):
            panels.append((_title(e), shows))
    drawn = prob.posterior_figure(panels)
    if drawn is not None:
        save(drawn[0], f"posterior_{problem}", f"Posteriors: {problem}", drawn[1])


def _predictive_figure(problem: str, prob, labels, db: ResultsDB, save) -> None:
    """Posterior predictive bands over the first showcase observation, for problems observed as series."""
    from .. import figures as F

    refs = db.references(problem)
    if prob is None or prob.observation_kind != "series" or "y0" not in refs:
        return
    y0, ref = refs["y0"]
    panels = [(f"reference ({prob.reference_kind})", ref)]
    for e in labels.values():
        shows = db.samples(e["runs"][0]["run_id"])
        if "y0" in shows and _amortized(e):
            panels.append((_title(e), shows["y0"][1]))
    save(F.predictive_figure(panels, y0, prob), f"predictive_{problem}", f"Posteriors: {problem}",
         "Posterior predictive: 500 draws of each posterior re-simulated; median, central 50 % and 90 % bands of "
         "the simulated series per channel, and the observed series (dots).")


def _error_figures(problem: str, labels, save) -> None:
    from .. import figures as F

    entries = list(labels.values())
    names = [_title(e) for e in entries]
    for key, ylabel, what, figure, caption in (
            ("err_post", "Err_post (MMD)", "posterior mismatch", 4,
             "Err_post per test observation (box 25–75 %, whiskers 5–95 %, log scale; triangles: our means"),
            ("err_resim", "Err_resim (distance)", "re-simulation error", 5,
             "Err_resim per test observation (log scale; triangles: our means")):
        paper = {_title(e): e["paper"][key] for e in entries if e["paper"]}
        caption += f"; diamonds: the paper's means). As the paper's Figure {figure}." if paper else ")."
        save(F.error_boxplots({n: e[key] for n, e in zip(names, entries, strict=True)}, ylabel,
                              f"{problem}: {what}", paper=paper or None),
             f"box_{key}_{problem}", f"Results: {problem}", caption)


def _amortization_figure(problem: str, labels, save) -> None:
    from .. import figures as F

    points = []
    for e in labels.values():
        if e["inference_ms"] is None:
            continue
        st = _stats(e["err_post"])
        points.append({"label": _title(e).replace("rejection ABC, ", "ABC ").replace(" simulations", ""),
                       "name": _title(e),
                       "query_ms": e["inference_ms"], "err_post": st["mean"], "err_post_median": st["median"],
                       "train_seconds": e["train_seconds"], "kind": _kind(e)})
    if points:
        save(F.amortization_figure(points), f"amortization_{problem}", f"Amortization: {problem}",
             "What amortization buys: Err_post against query time per observation for rejection ABC at several "
             "simulation budgets and for the trained models (left); training time, paid once (right).")


def _calibration_figures(problem: str, prob, labels, save) -> None:
    from .. import figures as F

    with_tarp = [(e, _title(e)) for e in labels.values() if e["values"].get("tarp_credibility")]
    if with_tarp:
        from ..metrics.tarp import TARP_TITLE, tarp_ecp

        save(F.coverage_figure({t: tarp_ecp(e["values"]["tarp_credibility"]) for e, t in with_tarp}, sides=None,
                               title=TARP_TITLE), f"tarp_{problem}", f"Calibration: {problem}",
             "TARP (Lemos et al. 2023): the fraction of test observations whose true parameters lie in the ball "
             "around a random point that holds a given share of the posterior samples, against that share; all "
             "parameters at once; on the diagonal for an exact posterior.")
    with_ranks = [(e, _title(e)) for e in labels.values() if len(e["ranks"]) and e["sbc_draws"]]
    if not with_ranks:
        return
    first = with_ranks[0][0]
    dim_names = list(prob.x_names) if prob is not None else [f"x{i}" for i in range(first["ranks"].shape[1])]
    save(F.sbc_figure({t: e["ranks"] for e, t in with_ranks}, first["sbc_draws"], dim_names),
         f"sbc_{problem}", f"Calibration: {problem}",
         "Simulation-based calibration: rank of the true parameter among the posterior samples "
         "(uniform if calibrated; the band is the 99 % range of a uniform histogram).")
    save(F.coverage_figure({t: _coverage(e) for e, t in with_ranks}), f"coverage_{problem}",
         f"Calibration: {problem}",
         "Expected coverage of central credible intervals (marginal, per parameter) against the credibility "
         "level; below the diagonal = overconfident.")


def _run_config(e, key: str) -> dict:
    """Part ``key`` (``cell``, ``settings``) of the stored config of a row's first run."""
    return ((e["runs"][0].get("config") or {}).get(key) or {})


def budget_table(problem: str, labels) -> tuple[list[dict], list[int]] | None:
    """Mean C2ST per model family (rows) and simulation budget (columns ``c2st_<N>``), for grids with
    simulation budgets; baselines without a budget (MCMC) fill every column; the published NPE row last.
    Each row's ``kind`` is ``budget``, ``flat`` or ``published``. None when no row of ``problem`` has a budget."""
    fams: OrderedDict = OrderedDict()
    flat = []
    for e in labels.values():
        n = _run_config(e, "cell").get("simulations")
        c2 = float(np.nanmean(e["c2st"])) if len(e["c2st"]) and np.isfinite(e["c2st"]).any() else None
        if n is None:
            flat.append((e, c2))
            continue
        fam = e["label"].rsplit("@", 1)[0]
        fams.setdefault(fam, {"title": e["title"], "by": {}})["by"][int(n)] = c2
    if not fams:
        return None
    budgets = sorted({n for f in fams.values() for n in f["by"]})
    rows = [{"model": f["title"], "label": fam, "kind": "budget", **{f"c2st_{n}": f["by"].get(n) for n in budgets}}
            for fam, f in fams.items()]
    rows += [{"model": f"{e['title']}, no simulations", "label": e["label"], "kind": "flat",
              **{f"c2st_{n}": c2 for n in budgets}} for e, c2 in flat]
    if problem in NPE_C2ST:
        rows.append({"model": "NPE, published (sbibm)", "label": "npe_published", "kind": "published",
                     **{f"c2st_{n}": NPE_C2ST[problem].get(n) for n in budgets}})
    return rows, budgets


def _budget_figure(problem: str, labels, save) -> None:
    from .. import figures as F

    table = budget_table(problem, labels)
    if table is None:
        return
    rows, budgets = table
    curves = {r["model"]: (budgets, [np.nan if r[f"c2st_{n}"] is None else r[f"c2st_{n}"] for n in budgets])
              for r in rows if r["kind"] == "budget"}
    flat = {r["model"]: r[f"c2st_{budgets[0]}"] for r in rows if r["kind"] == "flat"}
    published = {}
    if problem in NPE_C2ST:
        pts = sorted(NPE_C2ST[problem].items())
        published["NPE (published)"] = ([n for n, _ in pts], [v for _, v in pts])
    save(F.budget_curve_figure(curves, f"{problem}: C2ST against the simulation budget", published, flat),
         f"budget_{problem}", f"Simulation budgets: {problem}",
         "C2ST against the number of simulations, one line per model (each trained on exactly that many, with "
         "early stopping); dashed: published NPE; dotted: MCMC on the exact likelihood (no simulations).")


def _figures(data: dict, db: ResultsDB, fig_dir: Path, problems: dict) -> list[tuple[str, str, Path]]:
    """Build every figure; returns (section, caption, path)."""
    from .. import figures as F

    # one colour per model on the whole page, in the order of the tables' rows
    F.set_model_order([_title(e) for labels in data["problems"].values() for e in labels.values()])
    save = _FigureWriter(fig_dir)
    _prior_figure(data, problems, save)
    for problem, labels in data["problems"].items():
        prob = problems.get(problem)
        _posterior_figure(problem, prob, labels, db, save)
        _predictive_figure(problem, prob, labels, db, save)
        _error_figures(problem, labels, save)
        _amortization_figure(problem, labels, save)
        _calibration_figures(problem, prob, labels, save)
        _budget_figure(problem, labels, save)
    return save.saved


# -- the page -------------------------------------------------------------------------------------
_TEMPLATES = Path(__file__).parent / "templates"

CALIBRATION_NOTE = (
    "C2ST: accuracy of a classifier telling model samples from reference samples (0.5 = indistinguishable); "
    "C2ST floor: the same test for an independent reference draw, i.e. what a perfect sampler gets. SBC: "
    "smallest chi-square p-value of the rank histograms over the parameters. Coverage: fraction of true "
    "parameters inside the central 50 % / 90 % marginal credible intervals.")


def _c2st_protocol(labels) -> str:
    settings = _run_config(next(iter(labels.values())), "settings")
    c = settings.get("c2st") or {"backend": "torch", "folds": 2}
    return f"C2ST classifier: {c['backend']}, {c['folds']} folds, {settings.get('samples', '?'):,} samples"


def _caption(problem: str, rows, labels=None, prob=None) -> tuple[str, list]:
    """The results table's caption and columns (an Err_resim column of the unrounded samples where the
    problem has integer parameters)."""
    n_obs = max(r["n_observations"] for r in rows)
    settings = _run_config(next(iter(labels.values())), "settings") if labels else {}
    which = "published (sbibm) observations" if settings.get("observation_set") == "fixed" else "test observations"
    kind = prob.reference_kind if prob is not None else "exact"
    caption = (f"{problem}: {n_obs} {which}, {kind} reference posteriors; Err_resim as mean distance; "
               f"clamped = errors capped at {CLAMP:g}. Paper: Kruse et al. 2019 (GTX 1080 Ti).")
    cols = MAIN_COLUMNS
    if any(r["err_resim_continuous_mean"] is not None for r in rows):
        cols = MAIN_COLUMNS[:7] + [("err_resim_continuous_mean", "Err_resim unrounded")] + MAIN_COLUMNS[7:]
        caption += (" Err_resim unrounded: of the model's samples before its integer parameters are rounded to"
                    " the prior's support (Err_post and the other columns use the rounded samples).")
    return caption, cols


def _write_tables(out: Path, stem: str, rows, cols, caption: str, formats=None) -> list[Path]:
    write_text(out / f"{stem}.md", markdown_table(rows, cols, formats), "out")
    write_text(out / f"{stem}.tex", latex_table(rows, cols, caption, formats), "out")
    write_csv(out / f"{stem}.csv", rows)
    return [out / f"{stem}.{ext}" for ext in ("md", "tex", "csv")]


def render_page(context: dict) -> str:
    """The HTML page from ``templates/report.html`` (Jinja2, every value escaped)."""
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("report.html").render(css=(_TEMPLATES / "report.css").read_text(), **context)


def build_report(db_path, out, grid: str | None = None) -> dict:
    """Write tables, figures, ``report.html`` and ``summary.json`` for ``grid`` into directory ``out``.

    The database is opened read-only. ``innbench report`` is this function.

    Args:
        db_path: the results database written by :func:`innbench.benchmark.run_grid`.
        out: the report's directory (created if missing).
        grid: the grid to report; None: the most recently finished one.

    Returns:
        The summary (what ``summary.json`` holds): per problem and label, the aggregated metrics.

    Example:
        Drawing the report's figures takes seconds to minutes, so this is not run here:

        ```python
        from innbench.benchmark import get_grid, run_grid
        from innbench.benchmark.report import build_report

        run_grid(get_grid("quick"), "results/quick.db")
        summary = build_report("results/quick.db", "results/report-quick")   # report.html, figures/, tables
        ```
    """
    final = check_output_dir(out, "out", owned=is_report_file)
    with ResultsDB(db_path, create=False) as db:
        data = collect(db, grid)  # a database without results fails here, before anything is created
        result = {}
        # the report is written into a fresh directory that replaces ``out`` as a whole only when complete:
        # a failure (a full disk) leaves the earlier report as it was, never a mix of two databases
        replace_dir(final, lambda tmp: result.update(_write_report(db, data, tmp)), "out", owned=is_report_file)
    for key in ("html", "summary"):
        result[key] = final / result[key].name
    result["tables"] = [final / p.name for p in result["tables"]]
    result["figures"] = [final / "figures" / p.name for p in result["figures"]]
    return result


def is_report_file(name: str) -> bool:
    """Whether a file of that name in a report directory is one :func:`build_report` writes (so it may replace
    the directory)."""
    return name in ("figures", "report.html", "summary.json") or bool(
        re.fullmatch(r"(table|calibration|budgets|metrics)_[\w.-]+\.(md|tex|csv)", name))


_FIGURE_NUMBER = re.compile(r"^\s*Figure\s+(\d+)\s*:\s*")


def _number_figures(sections: OrderedDict) -> None:
    """Number the page's figures 1, 2, ... in the order they appear (``figure["number"]``). A caption's own
    "Figure N:" (a problem's posterior figure names the paper's figure) is taken off; in the sections of the
    paper's problems it is kept as "the paper's Figure N"."""
    paper_problems = {p for p, _ in PAPER}
    number = 0
    for title, section in sections.items():
        for fig in section["figures"]:
            number += 1
            fig["number"] = number
            m = _FIGURE_NUMBER.match(fig["caption"])
            if m:
                text = fig["caption"][m.end():]
                text = text[:1].upper() + text[1:]
                if title.split(": ", 1)[-1] in paper_problems:
                    text = text.rstrip().rstrip(".") + f" (the paper's Figure {m.group(1)})."
                fig["caption"] = text


def _write_report(db, data: dict, out: Path) -> dict:
    """Tables, figures, the page and the summary of ``data`` into the (new, empty) directory ``out``."""
    problems = _problems(data["problems"])
    figs = _figures(data, db, out / "figures", problems)
    summary = {"grid": data["grid"], "generated": time.strftime("%Y-%m-%d %H:%M:%S"), "innbench_version": __version__,
               "clamp": CLAMP, "problems": {}}
    # one section per heading, tables first, their figures after them: problems, then per problem the
    # results, posteriors, amortization and calibration
    sections: OrderedDict = OrderedDict([("Problems", {"tables": [], "figures": []})])
    written = []
    for problem, labels in data["problems"].items():
        rows, cal = table_rows(labels), calibration_rows(labels)
        summary["problems"][problem] = {"table": rows, "calibration": cal}
        caption, cols = _caption(problem, rows, labels, problems.get(problem))
        written += _write_tables(out, f"table_{problem}", rows, cols, caption)
        written += _write_tables(out, f"calibration_{problem}", cal, CAL_COLUMNS, f"{problem}: calibration")
        budgets = budget_table(problem, labels)
        budget_tables = []
        if budgets is not None:
            brows, ns = budgets
            bcols = [("model", "Model")] + [(f"c2st_{n}", f"C2ST @ {n:,}") for n in ns]
            bcap = (f"{problem}: mean C2ST over {max(r['n_observations'] for r in rows)} observations per simulation "
                    f"budget ({_c2st_protocol(labels)}). {NPE_SOURCE}.")
            written += _write_tables(out, f"budgets_{problem}", brows, bcols, bcap)
            summary["problems"][problem]["budgets"] = brows
            budget_tables = [_html_table(brows, bcols, bcap)]
        mrows, mcols, mformats = metric_rows(labels)
        metric_tables = []
        if mcols:
            mcap = (f"{problem}: the other registered metrics (innbench.metrics), over "
                    f"{max(r['n_observations'] for r in rows)} observations per model")
            written += _write_tables(out, f"metrics_{problem}", mrows, mcols, mcap, mformats)
            summary["problems"][problem]["metrics"] = mrows
            metric_tables = [_html_table(mrows, mcols, mcap, formats=mformats)]
        for title, tables in ((f"Simulation budgets: {problem}", budget_tables),
                              (f"Results: {problem}", _html_results_tables(rows, cols, caption)),
                              (f"Posteriors: {problem}", []), (f"Amortization: {problem}", []),
                              (f"Calibration: {problem}", [_html_table(cal, CAL_COLUMNS, CALIBRATION_NOTE)]),
                              (f"More metrics: {problem}", metric_tables)):
            sections[title] = {"tables": tables, "figures": []}
    for section, caption, path in figs:
        sections.setdefault(section, {"tables": [], "figures": []})["figures"].append(
            {"name": path.stem, "caption": caption, "png_base64": base64.b64encode(path.read_bytes()).decode()})
    _number_figures(sections)
    hw = data["runs"][0]["hardware"] or {}
    page = render_page({
        "grid": data["grid"], "n_runs": len(data["runs"]), "version": __version__, "generated": summary["generated"],
        "hardware": {"processor": hw.get("processor", ""), "cpu_count": hw.get("cpu_count", "?"),
                     "torch_threads": hw.get("torch_threads", "?")},
        "sections": [{"title": t, **v} for t, v in sections.items() if v["tables"] or v["figures"]]})
    write_text(out / "report.html", page, "out")
    write_json(out / "summary.json", summary, "out")
    return {"html": out / "report.html", "tables": written, "figures": [p for _, _, p in figs],
            "summary": out / "summary.json", "grid": data["grid"],
            "unregistered": [p for p in data["problems"] if p not in problems]}
