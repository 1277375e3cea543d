"""Err_post: the kernel MMD between the model's samples and the reference posterior, and its noise floor.

Registered as ``err_post`` (per observation, :func:`innbench.metrics.err_post`) and ``err_post_floor`` (Err_post
between two independent reference draws on the first ``noise_floor_observations`` observations:
:func:`innbench.metrics.floors.noise_floor`).
"""

from __future__ import annotations

from .distances import err_post
from .floors import noise_floor
from .registry import Inputs, Metric, Value, register_metric

__all__ = []


def _err_post(inputs: Inputs) -> dict:
    ep = err_post(inputs.samples, inputs.reference_samples(), progress=bool(inputs.option("progress", False)))
    return {"err_post": ep.tolist()}


def _floor(inputs: Inputs) -> dict:
    k = min(int(inputs.option("noise_floor_observations", 0)), len(inputs.y))
    if not k:
        return {"noise_floor": []}
    nf = noise_floor(inputs.problem, inputs.y[:k], inputs.n, inputs.option("reference_method", "exact"),
                     inputs.option("reference_options"))
    return {"noise_floor": nf.tolist()}


register_metric(Metric(
    "err_post", _err_post,
    (Value("err_post", "Err_post", summary=(("err_post_mean", "nanmean"), ("err_post_median", "nanmedian")),
           description="kernel MMD between the model's samples and the reference posterior"),),
    needs={"reference"}, cost="reference",
    description="posterior mismatch against the reference posterior (docs/protocol.md)"))

register_metric(Metric(
    "err_post_floor", _floor,
    (Value("noise_floor", "Err_post floor", summary=(("noise_floor_mean", "mean"),), better=None,
           description="Err_post between two independent reference draws: what a perfect sampler scores"),),
    needs={"reference"}, cost="reference", count="noise_floor_observations",
    description="the noise floor of Err_post on the first noise_floor_observations observations"))
