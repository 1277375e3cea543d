"""The fraction of samples outside the prior's support (:func:`innbench.metrics.support_violation`)."""

from __future__ import annotations

from .distances import support_violation
from .registry import Inputs, Metric, Value, register_metric

__all__ = []


def _outside(inputs: Inputs) -> dict:
    return {"outside_support_fraction": support_violation(inputs.problem, inputs.samples).tolist()}


register_metric(Metric(
    "outside_support", _outside,
    (Value("outside_support_fraction", "outside support", summary=(("outside_support_fraction", "mean"),),
           fmt=".3f", description="fraction of samples outside the prior's support"),),
    description="samples outside the prior's support"))
