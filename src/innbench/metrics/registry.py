"""The metric registry: every metric innbench reports is declared here once, with what it needs and costs.

A :class:`Metric` is a function from :class:`Inputs` (the problem, the observations, the model's samples and
what can be computed from them on demand: the reference posterior, the true parameters, the model) to
per-observation values, plus the declaration of each value it produces (:class:`Value`: display name, which
direction is better, format, how it is summarised over observations). :func:`innbench.evaluation.score` runs
the registered metrics in order; the API, the CLI, the benchmark runner and the explorer all score through it,
so a metric registered once appears in all of them.

Example:
    A metric of one's own: the mean distance of the samples' first parameter from 0, per observation.

    >>> import numpy as np
    >>> from innbench.metrics import Metric, Value, register_metric, unregister_metric, get_metric
    >>> def far_from_zero(inputs):
    ...     return {"far_from_zero": np.abs(inputs.samples[..., 0]).mean(axis=1)}
    >>> metric = register_metric(Metric("far_from_zero", far_from_zero, (Value(
    ...     "far_from_zero", "mean |x_0|", summary=(("far_from_zero_mean", "nanmean"),)),)))
    >>> get_metric("far_from_zero").values[0].title
    'mean |x_0|'
    >>> unregister_metric("far_from_zero")
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

__all__ = ["COSTS", "NEEDS", "REDUCERS", "Inputs", "Metric", "Value", "affordable", "default_metric_names",
           "get_metric", "metric_names", "metrics", "register_metric", "resolve_options", "unregister_metric"]

#: what a metric may need beyond the model's samples
NEEDS = ("reference", "x_true", "model", "simulator")

#: cost classes, cheapest first: ``free`` (arithmetic on the samples), ``simulations`` (one forward simulation
#: per sample), ``reference`` (reference posterior draws; cached on disk), ``classifier`` (a classifier trained
#: per observation: seconds each), ``timing`` (extra sampling calls)
COSTS = ("free", "simulations", "reference", "classifier", "timing")


def _mean(a: np.ndarray):
    return float(np.mean(a)) if len(a) else None


def _nanmean(a: np.ndarray):
    return float(np.nanmean(a)) if len(a) else None


def _nanmedian(a: np.ndarray):
    return float(np.nanmedian(a)) if len(a) else None


def _finite_mean(a: np.ndarray):
    return float(np.nanmean(a)) if len(a) and np.isfinite(a).any() else None


#: how per-observation values are summarised: each takes the values (an array, empty where the metric scored no
#: observation) and gives a float or None
REDUCERS: dict[str, Callable[[np.ndarray], float | None]] = {
    "mean": _mean,  # every value counts (a NaN makes the mean NaN)
    "nanmean": _nanmean,  # NaN values (observations the metric could not score) left out
    "nanmedian": _nanmedian,
    "finite_mean": _finite_mean,  # as nanmean, and None where no value is finite
}


#: how each reducer reads in a summary's title
_REDUCER_WORDS = {"nanmean": "mean", "nanmedian": "median", "finite_mean": "mean"}


@dataclass(frozen=True)
class Value:
    """One number a metric gives per observation.

    Arguments:
        name: its key in the per-observation results (and the results database).
        title: its display name in tables (``Err_post``).
        better: ``lower``, ``higher``, ``half`` (closer to 0.5 is better: C2ST) or None (no direction).
        fmt: its format in tables (a format spec, ``.4f``).
        summary: ``(key, reducer)`` pairs: the summary keys it gives and how (:data:`REDUCERS`).
        description: one line on what it is.

    Example:
        >>> from innbench.metrics import Value
        >>> Value("err_post", "Err_post", summary=(("err_post_mean", "nanmean"),)).better
        'lower'
    """

    name: str
    title: str
    better: Literal["lower", "higher", "half"] | None = "lower"
    fmt: str = ".4f"
    summary: tuple[tuple[str, str], ...] = ()
    description: str = ""

    def summary_title(self, reducer: str) -> str:
        """The display name of this value summarised by ``reducer`` (``Err_post (mean)``): the reducers that
        leave out missing values read as the plain statistic."""
        return f"{self.title} ({_REDUCER_WORDS.get(reducer, reducer)})"

    def __post_init__(self):
        if self.better not in ("lower", "higher", "half", None):
            raise ValueError(f"better: expected 'lower', 'higher', 'half' or None, got {self.better!r}")
        for key, reducer in self.summary:
            if reducer not in REDUCERS:
                raise ValueError(f"summary: unknown reducer {reducer!r} for {key!r}; known: {', '.join(REDUCERS)}")


@dataclass
class Inputs:
    """What a metric reads. Made by :func:`innbench.evaluation.score` (or by hand, for samples of any origin).

    Arguments:
        problem: the :class:`innbench.problems.Problem`.
        y: the validated observations ``(m, y_dim)``.
        samples: the model's samples ``(m, n, x_dim)`` (rounded where the problem has integer parameters and
            rounding was asked for).
        seed: seeds every metric's own randomness (each metric derives its generator from it).
        x_true: the parameters behind ``y``, ``(m, x_dim)``, or None.
        model: the trained estimator, for metrics that call it again (timing), or None.
        unrounded: the model's samples before rounding (only where rounding changed them), or None.
        options: the scoring options (``timing_observations``, ``noise_floor_observations``,
            ``c2st_observations``, ``c2st_folds``, ``c2st_backend``, ``sbc``, ``progress``, ...).
        reference: a callable giving ``(reference samples (m, n, x_dim), provenance)``, called at most once
            (:meth:`reference_samples`), or None where no reference is available.
    """

    problem: Any
    y: np.ndarray
    samples: np.ndarray
    seed: int = 0
    x_true: np.ndarray | None = None
    model: Any = None
    unrounded: np.ndarray | None = None
    options: dict = field(default_factory=dict)
    reference: Callable[[], tuple[np.ndarray, dict]] | None = None
    _reference_result: tuple | None = field(default=None, init=False, repr=False)

    @property
    def n(self) -> int:
        """Samples per observation."""
        return int(self.samples.shape[1])

    def option(self, name: str, default=None):
        return self.options.get(name, default)

    def reference_samples(self) -> np.ndarray:
        """The reference posterior's samples ``(m, n, x_dim)`` (computed on first use)."""
        return self._reference_pair()[0]

    def reference_provenance(self) -> dict:
        return self._reference_pair()[1]

    def _reference_pair(self) -> tuple:
        if self._reference_result is None:
            if self.reference is None:
                raise ValueError("reference: this scoring has no reference posterior; a metric that needs one "
                                 "cannot run")
            self._reference_result = self.reference()
        return self._reference_result

    @property
    def reference_drawn(self) -> bool:
        """Whether the reference posterior has been drawn (or read from its cache) for these inputs."""
        return self._reference_result is not None

    def has(self, need: str) -> bool:
        """Whether what ``need`` names (:data:`NEEDS`) is available."""
        if need == "reference":
            return self.reference is not None
        if need == "x_true":
            return self.x_true is not None
        if need == "model":
            return self.model is not None
        return True  # the simulator: every problem has one


@dataclass(frozen=True)
class Metric:
    """A metric: a function of :class:`Inputs` to per-observation values, and what it produces.

    Arguments:
        name: its registry name (what ``metrics=[...]`` of :func:`innbench.evaluation.score` names).
        compute: ``compute(inputs) -> {value name: per-observation values}``; a value may cover only the first
            observations (C2ST's ``c2st_observations``), and the result may be empty where the options switch
            the metric off for this call (``timing_observations=0``). Arrays, lists or None (not computed).
        values: the :class:`Value` declarations of what ``compute`` returns, in order.
        needs: what it needs beyond the samples (:data:`NEEDS`).
        cost: its cost class (:data:`COSTS`).
        count: a summary key that gives the number of observations it scored (``c2st_observations``), or None.
        summarize: ``summarize(values, inputs) -> {key: number}`` for summaries that are not a reducer of one
            value (SBC's p-value and coverage); None: the values' own reducers only. It is also called with
            every value None (and ``inputs`` None) where the metric is not computed, and then gives its keys
            with None; with ``inputs`` None it must need only the values (the report calls it on stored ones).
        summary_titles: ``(key, display name)`` of the keys ``summarize`` gives, for tables.
        description: one line on what it measures.
        default: computed wherever its needs are met and no list of metrics is given; False: an opt-in metric,
            computed only where named (``metrics=[..., name]``, a grid's ``metrics``), as the costly L-C2ST.
        options: the options it reads from :attr:`Inputs.options` with their defaults (``{"lc2st_null": 20}``);
            callers set them by name (``metric_options`` of :func:`innbench.evaluation.score`, of
            :func:`innbench.api.evaluate` and of a grid), and an option no chosen metric declares is refused.

    Example:
        >>> from innbench.metrics import get_metric
        >>> m = get_metric("c2st")
        >>> m.needs, m.cost, [v.name for v in m.values]
        (frozenset({'reference'}), 'classifier', ['c2st', 'c2st_reference'])
    """

    name: str
    compute: Callable[[Inputs], dict]
    values: tuple[Value, ...]
    needs: frozenset = frozenset()
    cost: str = "free"
    count: str | None = None
    summarize: Callable[[dict, Inputs], dict] | None = None
    summary_titles: tuple[tuple[str, str], ...] = ()
    description: str = ""
    default: bool = True
    options: dict = field(default_factory=dict, hash=False)

    def __post_init__(self):
        object.__setattr__(self, "needs", frozenset(self.needs))
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise ValueError(f"options: expected a dict of option names and defaults, got {self.options!r}")
        unknown = sorted(set(self.needs) - set(NEEDS))
        if unknown:
            raise ValueError(f"needs: unknown {unknown}; known: {', '.join(NEEDS)}")
        if self.cost not in COSTS:
            raise ValueError(f"cost: expected one of {', '.join(COSTS)}, got {self.cost!r}")
        if not self.values:
            raise ValueError(f"values: metric {self.name!r} declares no values")

    def summary_keys(self) -> list[str]:
        """The summary keys it gives (each value's, then its count), in order."""
        keys = [key for v in self.values for key, _ in v.summary]
        return keys + ([self.count] if self.count else [])

    def empty(self) -> tuple[dict, dict]:
        """What :meth:`run` gives where the metric is not computed (its needs are not met): every value None,
        every summary key None, its count 0."""
        per = {v.name: None for v in self.values}
        return per, self.summary_of(per, None)  # summarize, called with every value None, gives its keys None

    def run(self, inputs: Inputs) -> tuple[dict, dict]:
        """``(per-observation values, summary)`` of this metric on ``inputs``: every declared value and summary
        key present (None where it was not computed)."""
        got = self.compute(inputs) or {}
        undeclared = sorted(set(got) - {v.name for v in self.values})
        if undeclared:
            raise ValueError(f"metric {self.name!r} returned undeclared values {undeclared}")
        # plain lists (an array from the metric becomes one): JSON, the database and the report take them as they are
        per = {v.name: (got[v.name].tolist() if isinstance(got.get(v.name), np.ndarray) else got.get(v.name))
               for v in self.values}
        return per, self.summary_of(per, inputs)

    def summary_of(self, per: dict, inputs: Inputs | None) -> dict:
        """The summary of per-observation values ``per`` (by value name; None: not computed): each value's
        reducers, the metric's own ``summarize`` and its count. Also what the report computes from stored values
        (``inputs`` None)."""
        summary: dict = {}
        for v in self.values:
            values = per[v.name]
            arr = (np.asarray([np.nan if e is None else e for e in values], dtype=float)
                   if values is not None and np.ndim(values) > 0 and not _nested(values) else None)
            for key, reducer in v.summary:
                summary[key] = None if arr is None else REDUCERS[reducer](arr)
        if self.summarize is not None:
            summary.update(self.summarize(per, inputs))
        if self.count:
            first = per[self.values[0].name]
            summary[self.count] = 0 if first is None else len(first)
        return summary


def _nested(values) -> bool:
    """Whether per-observation entries are themselves vectors (SBC ranks), which no reducer summarises."""
    return len(values) > 0 and np.ndim(values[0]) > 0


_REGISTRY: dict[str, Metric] = {}


def register_metric(metric: Metric, replace: bool = False) -> Metric:
    """Add ``metric`` to the registry (after the ones there): :func:`innbench.evaluation.score` runs it from now
    on. A name taken, or a value name another metric gives, is refused unless ``replace``.

    Arguments:
        metric: the :class:`Metric`.
        replace: replace a metric registered under the same name.

    Example:
        See the module's example.
    """
    if not isinstance(metric, Metric):
        raise TypeError(f"metric: expected an innbench.metrics.Metric, got {type(metric).__name__}")
    if metric.name in _REGISTRY and not replace:
        raise ValueError(f"metric: {metric.name!r} is registered already (replace=True replaces it)")
    taken = {v.name: m.name for m in _REGISTRY.values() if m.name != metric.name for v in m.values}
    clash = sorted(v.name for v in metric.values if v.name in taken)
    if clash:
        raise ValueError(f"metric: {metric.name!r} gives {clash}, which metric {taken[clash[0]]!r} gives already")
    declared = {o: m.name for m in _REGISTRY.values() if m.name != metric.name for o in m.options}
    clash = sorted(o for o in metric.options if o in declared)
    if clash:
        raise ValueError(f"metric: {metric.name!r} declares options {clash}, which metric {declared[clash[0]]!r} "
                         "declares already")
    _REGISTRY[metric.name] = metric
    return metric


def unregister_metric(name: str) -> None:
    """Remove the metric ``name`` from the registry."""
    get_metric(name)
    del _REGISTRY[name]


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; an unknown name raises a ``ValueError`` that lists the known ones.

    Example:
        >>> from innbench.metrics import get_metric
        >>> get_metric("err_post").values[0].title
        'Err_post'
    """
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"metrics: unknown metric {name!r}; known: {', '.join(_REGISTRY)}") from None


def metric_names() -> list[str]:
    """The registered metrics' names, in the order :func:`innbench.evaluation.score` runs them.

    Example:
        >>> from innbench.metrics import metric_names
        >>> metric_names()[:4]
        ['err_post', 'err_post_floor', 'c2st', 'err_resim']
    """
    return list(_REGISTRY)


def metrics(names: Sequence[str] | None = None) -> list[Metric]:
    """The metrics ``names`` (None: all), in registry order; unknown names are refused naming ``metrics``."""
    if names is None:
        return list(_REGISTRY.values())
    if isinstance(names, str) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"metrics: expected a list of metric names, got {names!r}")
    for n in names:
        get_metric(n)
    return [m for m in _REGISTRY.values() if m.name in set(names)]


def default_metric_names() -> list[str]:
    """The metrics computed where no list is given (:attr:`Metric.default`), in registry order; the others are
    opt-in.

    Example:
        >>> from innbench.metrics import default_metric_names
        >>> default_metric_names()[:3]
        ['err_post', 'err_post_floor', 'c2st']
    """
    return [m.name for m in _REGISTRY.values() if m.default]


def resolve_options(chosen: Sequence[Metric], given: dict | None) -> dict:
    """The options of the metrics ``chosen``: their declared defaults, with the ``given`` ones (by name) in their
    place; a name no chosen metric declares is refused, naming ``metric_options`` and the known names."""
    given = {} if given is None else given
    if not isinstance(given, dict) or not all(isinstance(k, str) for k in given):
        raise ValueError(f"metric_options: expected a dict of option names and values, got {given!r}")
    out = {k: v for m in chosen for k, v in m.options.items()}
    unknown = sorted(set(given) - set(out))
    if unknown:
        known = ", ".join(sorted(out)) or "none (no chosen metric takes options)"
        raise ValueError(f"metric_options: unknown {unknown[0]!r} for the metrics chosen; known: {known}")
    return {**out, **given}


def affordable(max_cost: str = "timing", available=NEEDS) -> list[str]:
    """The registered metrics that cost at most ``max_cost`` (:data:`COSTS`) and need only what ``available``
    names (:data:`NEEDS`), in registry order: what a caller with that budget and those inputs can compute.

    Example:
        >>> from innbench.metrics import affordable
        >>> affordable("simulations", {"simulator"})
        ['err_resim', 'err_resim_continuous', 'ppc', 'outside_support']
    """
    if max_cost not in COSTS:
        raise ValueError(f"max_cost: expected one of {', '.join(COSTS)}, got {max_cost!r}")
    unknown = sorted(set(available) - set(NEEDS))
    if unknown:
        raise ValueError(f"available: unknown {unknown}; known: {', '.join(NEEDS)}")
    ceiling = COSTS.index(max_cost)
    return [m.name for m in _REGISTRY.values() if COSTS.index(m.cost) <= ceiling and m.needs <= set(available)]

