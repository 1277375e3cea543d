"""What the explorer's page draws, computed in numpy: the generic pieces of a problem's view.

A problem tells the explorer how to draw its posteriors (:attr:`innbench.problems.Problem.view`,
:meth:`~innbench.problems.Problem.view_drawing`, :meth:`~innbench.problems.Problem.view_info`); the page only
maps the drawing to pixels. The default is :func:`pairs_drawing` (the plotted dimensions and their ranges; the
page scatters the samples it receives anyway); the arm and the throws have views of their own
(``innbench/problems/kinematics/view.py``, ``innbench/problems/ballistics/view.py``), the report's geometry
with faster settings where the figure's would not keep up with a dragged target.

Polylines are rounded to 1e-4 (far below a pixel) to keep the responses small (:func:`rounded`).
"""

from __future__ import annotations

import numpy as np

# the report's figure helpers: the explorer draws what the report draws
from .figures import CONTOUR_MASS, density_level, finite_rows, kde_grid_2d

__all__ = ["KDE_RES", "MAX_PAIR_DIMS", "MODE_OPTIONS", "mass_contour_lines", "pairs_drawing", "rounded"]

#: mean shift in the views (:func:`innbench.figures.mean_shift_mode`'s options): from 8 starts, at most 40 steps:
#: about 9 ms for 1000 samples where the figure's 32 starts to a tolerance of 1e-6 take 150 ms. On the reference
#: posteriors of ten test targets the mode moved by at most 0.0075 (a pixel is 0.013) on nine; on the tenth, with
#: two modes of almost equal height, 8 starts settled on the other one (so did 8 starts with 100 steps)
MODE_OPTIONS = {"n_starts": 8, "tol": 1e-2, "max_iter": 40}
#: the end-point KDE grid (the figure's: 160; 96 draws the same contour at a third of the cost)
KDE_RES = 96
#: dimensions a pair plot shows (as the report's)
MAX_PAIR_DIMS = 5


def rounded(a) -> list:
    """An array rounded to 1e-4, as (nested) lists."""
    return np.round(np.asarray(a, dtype=float), 4).tolist()


def mass_contour_lines(points: np.ndarray, xlim, ylim, mass: float = CONTOUR_MASS) -> list[list]:
    """Polylines of the contour enclosing ``mass`` of the KDE of 2-D ``points`` (the report's
    :func:`innbench.figures.mass_contour`: Scott bandwidths, the grid extended to hold the points); empty where
    there is none."""
    import contourpy  # matplotlib's contouring library (a dependency of matplotlib)

    if len(points) < 2:
        return []
    gx, gy, dens, cell = kde_grid_2d(points, xlim, ylim, res=KDE_RES)
    level = density_level(dens * cell, mass, total=1.0) / cell
    if not np.isfinite(level) or level <= 0 or level >= dens.max():
        return []
    return [rounded(line) for line in contourpy.contour_generator(gx, gy, dens).lines(level) if len(line) > 1]


def pairs_drawing(problem, x: np.ndarray) -> dict:
    """The dimensions a pair plot shows (at most :data:`MAX_PAIR_DIMS`), their names and robust ranges
    (0.5-99.5 % of the finite samples, widened where flat)."""
    x = finite_rows(x, problem.x_dim)
    k = min(problem.x_dim, MAX_PAIR_DIMS)
    if len(x):
        lo, hi = np.percentile(x[:, :k], 0.5, axis=0), np.percentile(x[:, :k], 99.5, axis=0)
    else:
        lo, hi = np.zeros(k), np.ones(k)
    pad = np.maximum(0.05 * (hi - lo), 1e-3)
    return {"kind": "pairs", "dims": list(range(k)), "names": list(problem.x_names[:k]), "lo": rounded(lo - pad),
            "hi": rounded(hi + pad), "n_finite": len(x)}
