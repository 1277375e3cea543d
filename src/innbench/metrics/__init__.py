"""Benchmark metrics, each declared once in a registry and computed by :func:`innbench.evaluation.score`.

A metric is a :class:`Metric`: a function from :class:`Inputs` (problem, observations, the model's samples, and
on demand the reference posterior, the true parameters, the model) to per-observation values, with what it
needs, what it costs, and each value's display name, direction and summary (:class:`Value`). The API, the CLI,
the benchmark runner and the explorer score through the one registry, so a metric registered here appears in
all of them. :func:`register_metric` adds one of your own.

Modules:

- :mod:`~innbench.metrics.registry`: :class:`Metric`, :class:`Value`, :class:`Inputs` and the registry;
- :mod:`~innbench.metrics.distances`: kernel MMD, Err_post, Err_resim and support violations as functions
  (definitions follow docs/protocol.md, i.e. the authors' evaluation code where it disagrees with the paper);
- :mod:`~innbench.metrics.floors`: the noise floors of Err_post and C2ST, cached on disk;
- one module per registered metric, in the order they run: :mod:`~innbench.metrics.posterior` (``err_post``,
  ``err_post_floor``), :mod:`~innbench.metrics.c2st` (``c2st``), :mod:`~innbench.metrics.resim`
  (``err_resim``, ``err_resim_continuous``), :mod:`~innbench.metrics.ppc` (``ppc``),
  :mod:`~innbench.metrics.support` (``outside_support``),
  :mod:`~innbench.metrics.sbc` (``sbc``), :mod:`~innbench.metrics.tarp` (``tarp``),
  :mod:`~innbench.metrics.timing` (``inference_time``), and the opt-in :mod:`~innbench.metrics.lc2st`
  (``lc2st``, computed only where named).
"""

from .distances import KERNELS, err_post, err_resim, mmd, support_violation
from .registry import (
    COSTS,
    NEEDS,
    REDUCERS,
    Inputs,
    Metric,
    Value,
    affordable,
    default_metric_names,
    get_metric,
    metric_names,
    metrics,
    register_metric,
    resolve_options,
    unregister_metric,
)

# the built-in metrics register themselves on import, in this order (the order score runs them)
from . import posterior, c2st, resim, ppc, support, sbc, tarp, timing, lc2st  # noqa: E402, F401, I001  isort: skip

__all__ = ["COSTS", "KERNELS", "NEEDS", "REDUCERS", "Inputs", "Metric", "Value", "affordable", "default_metric_names",
           "err_post", "err_resim", "get_metric", "metric_names", "metrics", "mmd", "register_metric",
           "resolve_options", "support_violation", "unregister_metric"]
