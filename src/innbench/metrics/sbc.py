"""Simulation-based calibration: the rank of each true parameter among the samples, and what the ranks say.

Registered as ``sbc``: per observation the SBC ranks (:func:`innbench.calibration.sbc_ranks`), summarised by
the smallest per-parameter p-value of the rank histograms' uniformity and the expected coverage of the central
50 % and 90 % intervals (:func:`calibration_summary`). Needs the true parameters behind the observations.
"""

from __future__ import annotations

import numpy as np

from ..calibration import expected_coverage, rank_histogram_pvalue, sbc_ranks
from .registry import Inputs, Metric, Value, register_metric

__all__ = ["COVERAGE_LEVELS", "calibration_summary", "coverage_curve"]

#: credibility levels of the expected-coverage curves
COVERAGE_LEVELS = np.linspace(0.0, 1.0, 21)


def coverage_curve(ranks: np.ndarray, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """The expected coverage of central credible intervals at :data:`COVERAGE_LEVELS`: ``(levels, coverage)``
    as float arrays (:func:`innbench.calibration.expected_coverage`); what the evaluation's and the report's
    coverage figures draw and :func:`calibration_summary` reads at 50 % and 90 %.

    Example:
        >>> import numpy as np
        >>> from innbench.metrics.sbc import coverage_curve
        >>> levels, cov = coverage_curve(np.tile(np.arange(101)[:, None], (1, 2)), 100)
        >>> len(levels), round(float(np.interp(0.5, levels, cov)), 2)
        (21, 0.5)
    """
    levels, cov = expected_coverage(ranks, draws, COVERAGE_LEVELS)
    return np.asarray(levels, dtype=float), np.asarray(cov, dtype=float)


def calibration_summary(ranks: np.ndarray, draws: int) -> dict:
    """The smallest per-parameter p-value of the SBC rank histograms' uniformity test and the expected
    coverage of the central 50 % and 90 % intervals (1.0 / 0.5 / 0.9 for a calibrated posterior).

    Args:
        ranks: SBC ranks ``(m, x_dim)`` (:func:`innbench.calibration.sbc_ranks`).
        draws: number of posterior draws behind each rank (``L``).

    Returns:
        ``{"sbc_min_pvalue": ..., "coverage_50": ..., "coverage_90": ...}``.

    Example:
        >>> import numpy as np
        >>> from innbench.metrics.sbc import calibration_summary
        >>> ranks = np.tile(np.arange(101)[:, None], (1, 2))  # every rank of 100 draws once, two parameters
        >>> {k: round(v, 2) for k, v in calibration_summary(ranks, 100).items()}
        {'sbc_min_pvalue': 1.0, 'coverage_50': 0.5, 'coverage_90': 0.9}
    """
    levels, cov = coverage_curve(ranks, draws)
    return {"sbc_min_pvalue": float(np.min(rank_histogram_pvalue(ranks, draws))),
            "coverage_50": float(np.interp(0.5, levels, cov)), "coverage_90": float(np.interp(0.9, levels, cov))}


def _sbc(inputs: Inputs) -> dict:
    out = {"sbc_draws": inputs.n}
    if inputs.option("sbc", True) and inputs.x_true is not None:
        ranks = sbc_ranks(inputs.samples, np.asarray(inputs.x_true, dtype=float),
                          rng=np.random.default_rng([inputs.seed, 4711]))
        out["sbc_ranks"] = ranks.tolist()
    return out


def _summarize(values: dict, inputs: Inputs) -> dict:
    ranks = values.get("sbc_ranks")
    if ranks is None:
        return {"sbc_min_pvalue": None, "coverage_50": None, "coverage_90": None}
    return calibration_summary(np.asarray(ranks, dtype=float), int(values["sbc_draws"]))


register_metric(Metric(
    "sbc", _sbc,
    (Value("sbc_ranks", "SBC ranks", better=None, description="the rank of each true parameter among the samples"),
     Value("sbc_draws", "SBC draws", better=None, description="the samples behind each rank")),
    needs={"x_true"}, cost="free", count="sbc_observations", summarize=_summarize,
    summary_titles=(("sbc_min_pvalue", "SBC min p-value"), ("coverage_50", "coverage @50%"),
                    ("coverage_90", "coverage @90%")),
    description="simulation-based calibration (Talts et al. 2018) and expected coverage"))
