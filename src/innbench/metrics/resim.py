"""Err_resim: how far the observations of the samples land from the observation they were drawn for.

Registered as ``err_resim`` (mean distance, mean squared distance, the fraction of invalid samples) and
``err_resim_continuous`` (the same distance of the model's own samples before integer parameters are rounded:
only where rounding changed them). The distance is :func:`innbench.metrics.err_resim`'s.
"""

from __future__ import annotations

import numpy as np

from .distances import err_resim
from .registry import Inputs, Metric, Value, register_metric

__all__ = []


def _err_resim(inputs: Inputs) -> dict:
    rng = np.random.default_rng([inputs.seed, 31])
    dist, sq, invalid = err_resim(inputs.problem, inputs.samples, inputs.y, rng=rng)
    return {"err_resim": dist.tolist(), "err_resim_sq": sq.tolist(), "invalid_fraction": invalid.tolist()}


def _err_resim_continuous(inputs: Inputs) -> dict:
    if inputs.unrounded is None:
        return {}
    dist, _, _ = err_resim(inputs.problem, inputs.unrounded, inputs.y, rng=np.random.default_rng([inputs.seed, 37]))
    return {"err_resim_continuous": dist.tolist()}


register_metric(Metric(
    "err_resim", _err_resim,
    (Value("err_resim", "Err_resim", summary=(("err_resim_mean", "nanmean"), ("err_resim_median", "nanmedian")),
           description="mean distance between y* and the observation simulated from each sample"),
     Value("err_resim_sq", "Err_resim (squared)", summary=(("err_resim_sq_mean", "nanmean"),),
           description="the same, mean squared distance (the paper's definition)"),
     Value("invalid_fraction", "invalid", summary=(("invalid_fraction", "mean"),), fmt=".3f",
           description="fraction of samples whose simulation fails (outside the simulator's domain)")),
    needs={"simulator"}, cost="simulations",
    description="re-simulation error: one forward simulation per sample"))

register_metric(Metric(
    "err_resim_continuous", _err_resim_continuous,
    (Value("err_resim_continuous", "Err_resim (continuous)", summary=(("err_resim_continuous_mean", "nanmean"),),
           description="Err_resim of the model's samples before integer parameters are rounded"),),
    needs={"simulator"}, cost="simulations",
    description="the re-simulation error of the unrounded samples (problems with integer parameters)"))
