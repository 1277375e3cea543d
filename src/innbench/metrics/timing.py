"""Inference time: milliseconds of one ``sample(y_i, n)`` call per observation, after a warm-up call."""

from __future__ import annotations

import time

from .registry import Inputs, Metric, Value, register_metric

__all__ = []


def _inference_ms(inputs: Inputs) -> dict:
    k = min(int(inputs.option("timing_observations", 0)), len(inputs.y))
    if not k:
        return {"inference_ms": []}
    model, y, n, seed = inputs.model, inputs.y, inputs.n, inputs.seed
    model.sample(y[:1], n, seed=seed)
    times = []
    for i in range(k):
        t = time.perf_counter()
        model.sample(y[i : i + 1], n, seed=seed + i)
        times.append(1000 * (time.perf_counter() - t))
    return {"inference_ms": times}


register_metric(Metric(
    "inference_time", _inference_ms,
    (Value("inference_ms", "inference [ms]", summary=(("inference_ms", "mean"),), fmt=".1f",
           description="milliseconds of one sampling call of n samples for one observation"),),
    needs={"model"}, cost="timing",
    description="inference time on the first timing_observations observations"))
