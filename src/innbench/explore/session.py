"""The explorer's state: the saved models, their posteriors for one observation at a time, the references.

:class:`Explorer` answers one question, :meth:`Explorer.posterior`: a model's samples for an observation
``y``, the reference posterior for the same ``y`` and the numbers the evaluation computes from them
(:func:`innbench.evaluation.score` for a single observation: the same reference draw, the same Err_post,
the same Err_resim). Everything the HTTP server (:mod:`innbench.explore.server`) serves comes from here,
so a script can use it without the server.

Two small in-memory LRU caches make dragging cheap: one of model samples per ``(model, y, n, seed)`` and
one of references per ``(problem, y, n)``. A value asked for by several threads at once (three models'
requests waiting for the same reference) is computed once.
"""

from __future__ import annotations

import re
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..evaluation import score_samples
from ..metrics import affordable
from ..models import Model, ModelLoadError, load_model
from ..models.estimator import MODEL_FILES
from ..problems import ObservationError
from ..reference import reference_posterior, resolve_reference_method
from ..runtime import TimeLimitError

__all__ = ["MAX_SAMPLES", "ExploreError", "ExploredModel", "Explorer", "find_model_dirs", "load_models"]

#: the most samples one request may ask for (model and reference each; Err_post costs O(n^2))
MAX_SAMPLES = 20_000


class ExploreError(ValueError):
    """A request the explorer refuses: ``status`` is its HTTP status, ``parameter`` the parameter at fault."""

    def __init__(self, message: str, status: int = 400, parameter: str | None = None):
        super().__init__(message)
        self.status = status
        self.parameter = parameter


@dataclass
class ExploredModel:
    """A saved model as the explorer shows it.

    Attributes:
        name: what requests call it: its directory's base name.
        model: the loaded model.
        path: its directory.
        label: its benchmark label where the directory is a cell saved by ``innbench bench --save-models``
            (named ``{problem}-{label}-seed{seed}``), else None.
        stored: the facts and grid metrics of its run in the results database (``--db``), or None.
    """

    name: str
    model: Model
    path: Path | None = None
    label: str | None = None
    stored: dict | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    warm: bool = field(default=False, repr=False)

    @property
    def seed(self) -> int:
        return int(self.model.config.get("seed") or 0)

    def describe(self) -> dict:
        """The model's facts for ``/api/models``: names, problem, size, training facts, stored metrics."""
        m, p = self.model, self.model.problem
        return {
            "name": self.name, "label": self.label, "model": m.name, "title": m.title, "problem": p.name,
            "view": p.view_kind, "path": None if self.path is None else str(self.path),
            "x_dim": p.x_dim, "y_dim": p.y_dim, "x_names": list(p.x_names), "y_names": list(p.y_names),
            "n_parameters": m.n_parameters(), "dim_z": m.dim_z(), "seed": self.seed, "amortized": m.amortized,
            "has_density": m.has_density, "facts": asdict(m.facts), "train_info": _brief(m.train_info),
            "stored": self.stored,
        }


def _brief(info: dict) -> dict:
    """Training facts without the per-step curves (loss history, validation curve)."""
    return {k: v for k, v in info.items() if not isinstance(v, (list, tuple))}


def is_model_dir(path: Path) -> bool:
    """Whether ``path`` is a directory written by :meth:`Model.save` (``config.json`` and ``weights.pt``)."""
    return path.is_dir() and all((path / f).is_file() for f in MODEL_FILES)


def find_model_dirs(paths: Iterable) -> list[Path]:
    """The saved model directories among ``paths``: each path is one, or a directory whose children are
    (``innbench bench --save-models DIR`` writes one child per cell); children that are not models are
    skipped. A path that is neither is refused."""
    found = []
    for p in map(Path, paths):
        if is_model_dir(p):
            found.append(p)
            continue
        children = sorted(c for c in p.iterdir() if is_model_dir(c)) if p.is_dir() else []
        if not children:
            what = "does not exist" if not p.exists() else "holds no saved model"
            raise ValueError(f"--models: {str(p)!r} {what} (expected a model directory with "
                             f"{' and '.join(sorted(MODEL_FILES))}, or a directory of them as written by "
                             "'innbench bench --save-models')")
        found.extend(children)
    return found


def _cell_label(name: str, model: Model) -> str | None:
    """The benchmark label in a directory named ``{problem}-{label}-seed{seed}``, else None."""
    m = re.fullmatch(rf"{re.escape(model.problem.name)}-(.+)-seed{int(model.config.get('seed') or 0)}", name)
    return m.group(1) if m else None


def load_models(paths: Iterable, db=None, device: str = "cpu") -> list[ExploredModel]:
    """Load the models in ``paths`` (:func:`find_model_dirs`) with their stored results from ``db`` (a
    results database path, optional). A model directory named on its own must load; one found inside
    a parent directory that does not (corrupt, an unregistered model) is skipped with a warning."""
    paths = [Path(p) for p in paths]
    named = {p.resolve() for p in paths if is_model_dir(p)}
    out: list[ExploredModel] = []
    for d in find_model_dirs(paths):
        try:
            model = load_model(d, device)
        except (ModelLoadError, KeyError, ValueError) as exc:
            if d.resolve() in named:
                raise
            warnings.warn(f"--models: skipping {str(d)!r}: {exc.args[0] if exc.args else exc}", stacklevel=2)
            continue
        out.append(ExploredModel(d.name, model, d, _cell_label(d.name, model)))
    names = [e.name for e in out]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        where = [str(e.path) for e in out if e.name == clash[0]]
        raise ValueError(f"--models: several models are named {clash[0]!r} ({', '.join(where)}); models are named "
                         "by their directory, so give directories with distinct names")
    if db is not None:
        attach_stored_results(out, db)
    return out


def attach_stored_results(models: Sequence[ExploredModel], db) -> None:
    """Fill each benchmark cell's ``stored`` facts from the results database at ``db`` (read-only): its
    grid, training time and parameters, and the means of its per-observation metrics (the latest finished
    run of the same problem, label and seed)."""
    from ..benchmark.db import ResultsDB

    with ResultsDB(db, create=False) as rdb:
        runs = {(r["problem"], r["label"], r["seed"]): r for r in rdb.runs()}  # in run order: the latest wins
        for e in models:
            run = runs.get((e.model.problem.name, e.label, e.seed)) if e.label else None
            if run is None or not same_training(run, e.model):  # a name alone is no match
                continue
            rows = rdb.results([run["run_id"]])

            def over_rows(key, reduce, rows=rows):  # NULL (not computed) and NaN rows left out
                v = np.array([r[key] for r in rows if r[key] is not None], dtype=float)
                return float(reduce(v)) if np.isfinite(v).any() else None

            e.stored = {
                "grid": run["grid"], "run_id": run["run_id"], "n_parameters": run["n_parameters"],
                "train_seconds": run["train_seconds"], "inference_ms": run["inference_ms"],
                "noise_floor": run["noise_floor"], "n_observations": len(rows),
                "err_post_mean": over_rows("err_post", np.nanmean),
                "err_post_median": over_rows("err_post", np.nanmedian),
                "err_resim_mean": over_rows("err_resim", np.nanmean), "c2st_mean": over_rows("c2st", np.nanmean),
            }


def same_training(run: dict, model: Model) -> bool:
    """Whether the grid run ``run`` (a ``runs`` row) trained ``model``: the same model, parameter count, options
    and training budget, not just a directory named like the cell (``{problem}-{label}-seed{seed}``).

    Example:
        >>> from innbench.models import build_model
        >>> model = build_model("cinn", "kinematics", hidden=32)
        >>> run = {"model": "cinn", "n_parameters": model.n_parameters(), "config": "{}"}
        >>> same_training(run, model), same_training({**run, "n_parameters": 30_680}, model)
        (True, False)
    """
    import json

    if run.get("model") != model.name or run.get("n_parameters") != model.n_parameters():
        return False
    config = run.get("config") or {}
    if isinstance(config, str):  # a raw row; ResultsDB.runs() gives it parsed
        try:
            config = json.loads(config)
        except ValueError:
            return False
    options = (config.get("cell") or {}).get("options") or {}
    if any(k in model.config and model.config[k] != v for k, v in options.items()):
        return False
    ran, trained = (config.get("settings") or {}).get("budget") or {}, model.train_info.get("budget") or {}
    return all(ran[k] == trained[k] for k in ("n_batches", "batch_size", "n_train", "simulations")
               if k in ran and k in trained)


class SharedLRU:
    """A thread-safe LRU cache of at most ``maxsize`` values, each computed once even when several threads
    ask for it at once (the others wait for the first). A computation that raises is not cached."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Future] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> tuple[Any, bool]:
        """``(value, hit)``: the value for ``key`` and whether it was there (or being computed) already."""
        with self._lock:
            fut = self._data.get(key)
            owner = fut is None
            if owner:
                fut = self._data[key] = Future()
                if len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
            else:
                self._data.move_to_end(key)
        if owner:
            try:
                fut.set_result(compute())
            except BaseException as exc:
                fut.set_exception(exc)
                with self._lock:
                    if self._data.get(key) is fut:
                        del self._data[key]
        try:
            return fut.result(), not owner
        except TimeLimitError as exc:
            if owner or not exc.called_off:
                raise
            return self.get(key, compute)  # the request computing it went away: compute it for this one

    def __len__(self) -> int:
        return len(self._data)


def _finite_list(a: np.ndarray):
    """``a.tolist()`` with NaN and infinities as None (JSON has no NaN)."""
    a = np.asarray(a, dtype=float)
    if np.isfinite(a).all():
        return a.tolist()
    obj = a.astype(object)
    obj[~np.isfinite(a)] = None
    return obj.tolist()


def _number(v):
    return float(v) if v is not None and np.isfinite(v) else None


def metric_info() -> list[dict]:
    """What the page needs to show the metrics :meth:`Explorer.posterior` gives, from the registry
    (:mod:`innbench.metrics`): ``[{"name", "title", "fmt", "better", "needs_reference"}]`` per value, in order
    (a metric registered by the user is listed, and shown, with no change to the page)."""
    from ..metrics import get_metric

    local, with_reference = _explored_metrics()
    return [{"name": v.name, "title": v.title, "fmt": v.fmt, "better": v.better, "needs_reference": name not in local}
            for name in local + with_reference for v in get_metric(name).values]


def _explored_metrics() -> tuple[list[str], list[str]]:
    """The registered metrics the explorer computes: those costing at most one simulation per sample, and those
    that compare with the reference (drawn only when the page asks for it)."""
    local = affordable("simulations", {"simulator"})
    return local, [m for m in affordable("reference", {"simulator", "reference"}) if m not in local]


def _first_values(per: dict) -> dict:
    """The one observation's number of each metric value that :func:`innbench.evaluation.score_samples` gave
    (NaN and infinities as None)."""
    return {k: _number(v[0]) for k, v in per.items() if v is not None and len(v) == 1 and np.ndim(v[0]) == 0}


class Explorer:
    """Posteriors of saved models for one observation at a time, beside the reference (see module doc).

    ``models``: :class:`ExploredModel` entries (:func:`load_models`), or a mapping of names to models.
    """

    def __init__(self, models, reference_cache: int = 16, posterior_cache: int = 64):
        if isinstance(models, dict):
            models = [ExploredModel(name, m) for name, m in models.items()]
        self.models: dict[str, ExploredModel] = {e.name: e for e in models}
        if not self.models:
            raise ValueError("models: the explorer needs at least one model")
        self._references = SharedLRU(reference_cache)
        self._posteriors = SharedLRU(posterior_cache)
        self._default_y: dict[str, np.ndarray] = {}

    @classmethod
    def from_paths(cls, paths, db=None, device: str = "cpu", **kwargs) -> Explorer:
        """An explorer of the models saved in ``paths`` (:func:`load_models`)."""
        return cls(load_models(paths, db=db, device=device), **kwargs)

    # -- naming and checking ---------------------------------------------------------------------------
    def resolve(self, name: str) -> ExploredModel:
        """The model called ``name``: a directory's base name, or a benchmark label that names one model."""
        if name in self.models:
            return self.models[name]
        by_label = [e for e in self.models.values() if e.label == name]
        if len(by_label) == 1:
            return by_label[0]
        known = sorted(self.models)
        shown = ", ".join(known[:12]) + (f", ... ({len(known)} in all)" if len(known) > 12 else "")
        if by_label:
            raise ExploreError(f"model: label {name!r} names several models ({', '.join(e.name for e in by_label)}); "
                               "use the directory name", 404, "model")
        raise ExploreError(f"model: no model named {name!r}; known: {shown}", 404, "model")

    def default_observation(self, entry: ExploredModel) -> np.ndarray:
        """The observation the page opens with: the problem's first showcase observation (the paper's figure
        targets; the first test observation for other problems)."""
        p = entry.model.problem
        if p.name not in self._default_y:
            self._default_y[p.name] = np.asarray(p.showcase_observations(), dtype=float)[:1]
        return self._default_y[p.name]

    @staticmethod
    def check_observation(entry: ExploredModel, y) -> np.ndarray:
        """``y`` as one validated observation ``(1, y_dim)`` of the model's problem, or an
        :class:`ExploreError` naming ``y`` with the problem's reason (e.g. a target out of the arm's reach)."""
        p = entry.model.problem
        try:
            y = p.validate_observations(y, "y")
        except ObservationError as exc:
            raise ExploreError(_as_y_message(str(exc)), 400, "y") from None
        if len(y) != 1:
            raise ExploreError(f"y: expected one observation of problem {p.name!r}, got {len(y)}", 400, "y")
        return y

    # -- the posterior --------------------------------------------------------------------------------
    def posterior(self, name: str, y=None, n: int = 1000, seed: int = 0, reference: bool = True,
                  draw: bool = False, with_samples: bool = True) -> dict:
        """Samples of model ``name`` for observation ``y`` (default: :meth:`default_observation`) beside the
        reference posterior, and the numbers for this observation.

        Returns ``{"model", "problem", "y", "n", "seed", "samples" (n, x_dim), "reference" (n, x_dim) or None,
        "reference_info", "metrics", "cached"}`` and with ``draw`` also ``"drawing"`` (``{"model": ...,
        "reference": ...}``: arm or trajectory polylines, contours and densities,
        :meth:`innbench.problems.Problem.view_drawing`).
        ``metrics``: every registered metric (:mod:`innbench.metrics`) that costs at most one simulation per
        sample (``err_resim`` (mean distance), ``err_resim_sq``, ``invalid_fraction``,
        ``outside_support_fraction``, and metrics registered by the user) and, with ``reference``, those that
        compare with the reference (``err_post``), each as :func:`innbench.evaluation.score` computes it for
        this one observation with ``n_samples=n`` and ``seed`` (through
        :func:`innbench.evaluation.score_samples`: the same reference draw and model samples, so the same
        numbers); ``sample_ms``: the
        ``sample(y, n)`` call, ``reference_ms``: drawing the reference (both as first computed; ``cached``
        and ``reference_info["cached"]`` say whether this request found them in the cache). Without
        ``reference`` the reference is neither drawn nor returned (the page's fast path while dragging);
        without ``with_samples`` the samples and the reference's samples are None (the page's drawings of
        arms and throws need only the geometry: a third of the bytes).
        """
        from ..params import count, nonnegative_count

        entry = self.resolve(name)
        try:
            n = count(n, "n", maximum=MAX_SAMPLES)
            seed = nonnegative_count(seed, "seed")
        except ValueError as exc:
            raise ExploreError(str(exc), 400, str(exc).split(":")[0]) from None
        y = self.default_observation(entry) if y is None else self.check_observation(entry, y)
        part, part_hit = self._model_part(entry, y, n, seed)
        metrics = dict(part["metrics"])
        out = {"model": entry.name, "problem": entry.model.problem.name, "y": y[0].tolist(), "n": n, "seed": seed,
               "samples": _finite_list(part["samples"]) if with_samples else None, "reference": None,
               "metrics": metrics}
        metrics["sample_ms"] = part["sample_ms"]
        ref = None
        if reference:
            ref, ref_hit = self._reference_part(entry.model.problem, y, n)
            if "with_reference" not in part:  # the evaluation's metrics that compare with the reference
                per, _ = score_samples(entry.model.problem, y, part["samples"][None], seed=seed,
                                       reference=ref["samples"][None], metrics=_explored_metrics()[1])
                part["with_reference"] = _first_values(per)
            metrics.update(part["with_reference"])
            metrics["reference_ms"] = ref["ms"]
            out["reference"] = _finite_list(ref["samples"]) if with_samples else None
            out["reference_info"] = {"method": ref["method"], "min_ess": ref["ess"], "cached": ref_hit}
        out["cached"] = part_hit
        if draw:
            out["drawing"] = {"model": self._drawing(part, entry.model.problem, y),
                              "reference": None if ref is None else self._drawing(ref, entry.model.problem, y)}
        return out

    def _model_part(self, entry: ExploredModel, y: np.ndarray, n: int, seed: int) -> tuple[dict, bool]:
        """The cached samples and metrics of a model for ``(y, n, seed)`` (and whether they were cached);
        the dict also keeps the Err_post and the drawing once computed."""
        problem = entry.model.problem

        def compute():
            with entry.lock:  # one sampling call per model at a time: the cores are better spent elsewhere
                try:
                    if not entry.warm and entry.model.amortized:
                        # the first call pays one-off costs: time the ones after it, as the evaluation does
                        entry.model.sample(y, 2, seed=seed)
                    entry.warm = True
                    t = time.perf_counter()
                    samples = entry.model.sample(y, n, seed=seed)
                except ObservationError as exc:  # e.g. far outside the observations it was trained on
                    raise ExploreError(_as_y_message(str(exc)), 400, "y") from None
                ms = 1000 * (time.perf_counter() - t)
            # the evaluation's metrics and generators for this seed, so stochastic problems agree with it too
            per, _ = score_samples(problem, y, samples, seed=seed, metrics=_explored_metrics()[0])
            return {"samples": samples[0], "sample_ms": ms, "metrics": _first_values(per)}

        return self._posteriors.get((entry.name, y.tobytes(), n, seed), compute)

    def _reference_part(self, problem, y: np.ndarray, n: int) -> tuple[dict, bool]:
        """The cached reference posterior for ``(problem, y, n)`` (and whether it was cached)."""
        method = resolve_reference_method(problem, "exact")

        def compute():
            t = time.perf_counter()
            try:
                # an exact reference takes a fraction of a second and every click has its own y: on disk it
                # would leave a file per click; MCMC and ABC references take far longer and are kept there
                samples, prov = reference_posterior(problem, y, n, method=method, cache=method != "exact")
            except ObservationError as exc:  # e.g. a degenerate exact reference far out in the prior's tails
                raise ExploreError(_as_y_message(str(exc)), 400, "y") from None
            ess = prov.get("ess")
            return {"samples": samples[0], "ms": 1000 * (time.perf_counter() - t), "method": prov["method"],
                    "ess": None if ess is None else float(np.min(ess))}

        return self._references.get((problem.name, problem.version, y.tobytes(), n, method), compute)

    @staticmethod
    def _drawing(part: dict, problem, y: np.ndarray) -> dict:
        """The drawing of a cached part, made once (the cached dict keeps it)."""
        if "drawing" not in part:
            part["drawing"] = problem.view_drawing(part["samples"], y[0])
        return part["drawing"]


def _as_y_message(message: str) -> str:
    """A problem's observation error as an error of the request's ``y`` (the problems name their argument
    ``observations``)."""
    for prefix in ("observations: ", "y: "):
        if message.startswith(prefix):
            return "y: " + message[len(prefix):]
    return "y: " + message
