"""C2ST: the accuracy of a classifier that tells the model's samples from the reference posterior's.

Registered as ``c2st``, on the first ``c2st_observations`` observations (a classifier per fold and observation:
seconds each), with its floor: the same test of an independent reference draw against the reference
(:func:`innbench.metrics.floors.c2st_floor`). The test is :func:`innbench.calibration.c2st`.
"""

from __future__ import annotations

import numpy as np

from ..calibration import c2st
from .floors import c2st_floor
from .registry import Inputs, Metric, Value, register_metric

__all__ = []


def _c2st(inputs: Inputs) -> dict:
    k = min(int(inputs.option("c2st_observations", 0)), len(inputs.y))
    if not k:
        return {"c2st": [], "c2st_reference": []}
    folds, backend = inputs.option("c2st_folds", 2), inputs.option("c2st_backend", "torch")
    samples, ref = inputs.samples, inputs.reference_samples()
    acc = [c2st(samples[i], ref[i], seed=0, folds=folds, backend=backend)
           if np.isfinite(samples[i]).any() else float("nan")
           for i in range(k)]  # a model whose samples are all invalid gets no score, not a crash
    floor = c2st_floor(inputs.problem, inputs.y[:k], inputs.n, inputs.option("reference_method", "exact"),
                       folds=folds, backend=backend, options=inputs.option("reference_options"))
    return {"c2st": acc, "c2st_reference": floor}


register_metric(Metric(
    "c2st", _c2st,
    (Value("c2st", "C2ST", better="half", fmt=".3f", summary=(("c2st_mean", "finite_mean"),),
           description="classifier accuracy, model samples against the reference (0.5: indistinguishable)"),
     Value("c2st_reference", "C2ST floor", better=None, fmt=".3f", summary=(("c2st_floor_mean", "mean"),),
           description="the same test of an independent reference draw against the reference")),
    needs={"reference"}, cost="classifier", count="c2st_observations",
    description="classifier two-sample test against the reference (Lopez-Paz & Oquab 2017; sbibm's protocol)"))
