"""The explorer's view of the throws: the first 100 trajectories, the most likely throw and the density of the
impacts, in the limits the report's figure would use."""

from __future__ import annotations

import numpy as np

from ...drawing import MODE_OPTIONS, rounded
from ...figures import finite_rows, mean_shift_mode
from .figures import ballistics_limits, throws

__all__ = ["ballistics_drawing"]


def ballistics_drawing(problem, x: np.ndarray, y_star: float, n_lines: int = 100, bins: int = 120) -> dict:
    """Trajectories ``(k, 60, 2)`` of the first ``n_lines`` samples that land, the most likely throw, the
    impact density (``edges``, ``density``) and the axis limits the figure would use for these samples."""
    x = finite_rows(x, problem.x_dim)
    lines, _ = throws(x[:n_lines])
    mode = None
    if len(x):  # the figure's mode: coordinates standardised, Scott bandwidth n^(-1/8)
        std = x.std(axis=0) if len(x) > 1 else np.ones(x.shape[1])
        best = mean_shift_mode(x, bandwidth=min(len(x), 2000) ** (-1.0 / 8), scale=np.where(std > 1e-3, std, 1e-3),
                               **MODE_OPTIONS)
        best_line, _ = throws(best[None])
        mode = rounded(best_line[0]) if len(best_line) else None
    xlim, ylim = ballistics_limits([x], float(y_star), n_lines)
    impacts = np.asarray(problem.forward(x), dtype=float)[:, 0] if len(x) else np.empty(0)
    landed = impacts[np.isfinite(impacts)]
    edges = np.linspace(xlim[0], xlim[1], bins + 1)
    hist, _ = np.histogram(landed, bins=edges)
    density = hist / (max(len(landed), 1) * (edges[1] - edges[0]))
    return {"kind": "ballistics", "throws": rounded(lines), "mode": mode, "xlim": rounded(xlim),
            "ylim": rounded(ylim), "impacts": {"edges": rounded(edges), "density": rounded(density)},
            "never_land": int(len(impacts) - len(landed)), "n_finite": len(x)}
