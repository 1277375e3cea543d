"""What the explorer's page draws, computed in numpy: polylines, contours and densities in the problem's units.

The page only maps these to pixels. The geometry is the report's (:mod:`innbench.figures`, the paper's
Figures 2 and 3) with faster settings where the figure's would not keep up with a dragged target:

- kinematics (:func:`kinematics_drawing`): the first 150 sampled arms (the problem's own
  :meth:`innbench.problems.kinematics.Kinematics.joints`), the most likely arm (mean-shift mode, bandwidth
  0.1, from fewer starts than the figure's) and the contour enclosing 97 % of the end points' KDE;
- ballistics (:func:`ballistics_drawing`): the first 100 trajectories, the most likely throw and the
  density of the impacts;
- any other problem (:func:`pairs_drawing`): the plotted dimensions and their ranges; the page scatters
  the samples it receives anyway.

Polylines are rounded to 1e-4 (far below a pixel) to keep the responses small.
"""

from __future__ import annotations

import numpy as np

# the report's figure helpers: the explorer draws what the report draws
from ..figures import (
    CONTOUR_MASS,
    _ballistics_limits,
    _finite_rows,
    _kde_grid_2d,
    _throws,
    density_level,
    mean_shift_mode,
)
from ..problems.ballistics import Ballistics
from ..problems.kinematics import REACH, Kinematics

__all__ = ["KINEMATICS_VIEW", "ballistics_drawing", "draw", "kinematics_drawing", "pairs_drawing", "view_kind"]

#: the kinematics canvas: the whole reach around the rail (the report's panels show only x > -0.35)
KINEMATICS_VIEW = {"xlim": [-REACH - 0.4, REACH + 0.4], "ylim": [-REACH - 0.4, REACH + 0.4], "reach": REACH}
#: mean shift from 8 starts, at most 40 steps: about 9 ms for 1000 samples where the figure's 32 starts to a
#: tolerance of 1e-6 take 150 ms. On the reference posteriors of ten test targets the mode moved by at most
#: 0.0075 (a pixel is 0.013) on nine; on the tenth, with two modes of almost equal height, 8 starts settled on
#: the other one (so did 8 starts with 100 steps)
_MODE_OPTIONS = {"n_starts": 8, "tol": 1e-2, "max_iter": 40}
#: the end-point KDE grid (the figure's: 160; 96 draws the same contour at a third of the cost)
_KDE_RES = 96
#: dimensions a pair plot shows (as the report's)
MAX_PAIR_DIMS = 5


def view_kind(problem) -> str:
    """``kinematics``, ``ballistics`` or ``pairs``: how the page draws the problem's posteriors."""
    if isinstance(problem, Kinematics):
        return "kinematics"
    if isinstance(problem, Ballistics):
        return "ballistics"
    return "pairs"


def _r(a) -> list:
    """An array rounded to 1e-4, as (nested) lists."""
    return np.round(np.asarray(a, dtype=float), 4).tolist()


def mass_contour_lines(points: np.ndarray, xlim, ylim, mass: float = CONTOUR_MASS) -> list[list]:
    """Polylines of the contour enclosing ``mass`` of the KDE of 2-D ``points`` (the report's
    ``_mass_contour``: Scott bandwidths, the grid extended to hold the points); empty where there is none."""
    import contourpy  # matplotlib's contouring library (a dependency of matplotlib)

    if len(points) < 2:
        return []
    gx, gy, dens, cell = _kde_grid_2d(points, xlim, ylim, res=_KDE_RES)
    level = density_level(dens * cell, mass, total=1.0) / cell
    if not np.isfinite(level) or level <= 0 or level >= dens.max():
        return []
    return [_r(line) for line in contourpy.contour_generator(gx, gy, dens).lines(level) if len(line) > 1]


def kinematics_drawing(problem, x: np.ndarray, n_lines: int = 150) -> dict:
    """Arms ``(k, 4, 2)`` (base on the rail, three joints, end point) of the first ``n_lines`` samples, the
    mean-shift arm ``(4, 2)``, the 97 % end-point contour and the view's limits."""
    x = _finite_rows(x, problem.x_dim)
    ends = np.asarray(problem.forward(x), dtype=float)
    ends = ends[np.isfinite(ends).all(axis=1)]
    mode = problem.joints(mean_shift_mode(x, 0.1, **_MODE_OPTIONS)[None])[0] if len(x) else None
    return {"kind": "kinematics", **KINEMATICS_VIEW, "arms": _r(problem.joints(x[:n_lines])),
            "mode": None if mode is None else _r(mode),
            "contour": mass_contour_lines(ends, KINEMATICS_VIEW["xlim"], KINEMATICS_VIEW["ylim"]),
            "n_finite": len(x)}


def ballistics_drawing(problem, x: np.ndarray, y_star: float, n_lines: int = 100, bins: int = 120) -> dict:
    """Trajectories ``(k, 60, 2)`` of the first ``n_lines`` samples that land, the most likely throw, the
    impact density (``edges``, ``density``) and the axis limits the figure would use for these samples."""
    x = _finite_rows(x, problem.x_dim)
    lines, _ = _throws(x[:n_lines])
    mode = None
    if len(x):  # the figure's mode: coordinates standardised, Scott bandwidth n^(-1/8)
        std = x.std(axis=0) if len(x) > 1 else np.ones(x.shape[1])
        best = mean_shift_mode(x, bandwidth=min(len(x), 2000) ** (-1.0 / 8), scale=np.where(std > 1e-3, std, 1e-3),
                               **_MODE_OPTIONS)
        best_line, _ = _throws(best[None])
        mode = _r(best_line[0]) if len(best_line) else None
    xlim, ylim = _ballistics_limits([x], float(y_star), n_lines)
    impacts = np.asarray(problem.forward(x), dtype=float)[:, 0] if len(x) else np.empty(0)
    landed = impacts[np.isfinite(impacts)]
    edges = np.linspace(xlim[0], xlim[1], bins + 1)
    hist, _ = np.histogram(landed, bins=edges)
    density = hist / (max(len(landed), 1) * (edges[1] - edges[0]))
    return {"kind": "ballistics", "throws": _r(lines), "mode": mode, "xlim": _r(xlim), "ylim": _r(ylim),
            "impacts": {"edges": _r(edges), "density": _r(density)}, "never_land": int(len(impacts) - len(landed)),
            "n_finite": len(x)}


def pairs_drawing(problem, x: np.ndarray) -> dict:
    """The dimensions a pair plot shows (at most :data:`MAX_PAIR_DIMS`), their names and robust ranges
    (0.5-99.5 % of the finite samples, widened where flat)."""
    x = _finite_rows(x, problem.x_dim)
    k = min(problem.x_dim, MAX_PAIR_DIMS)
    if len(x):
        lo, hi = np.percentile(x[:, :k], 0.5, axis=0), np.percentile(x[:, :k], 99.5, axis=0)
    else:
        lo, hi = np.zeros(k), np.ones(k)
    pad = np.maximum(0.05 * (hi - lo), 1e-3)
    return {"kind": "pairs", "dims": list(range(k)), "names": list(problem.x_names[:k]), "lo": _r(lo - pad),
            "hi": _r(hi + pad), "n_finite": len(x)}


def draw(problem, x: np.ndarray, y_star: np.ndarray) -> dict:
    """The drawing of samples ``x (n, x_dim)`` for observation ``y_star (y_dim,)`` in the problem's view."""
    kind = view_kind(problem)
    if kind == "kinematics":
        return kinematics_drawing(problem, x)
    if kind == "ballistics":
        return ballistics_drawing(problem, x, float(np.ravel(y_star)[0]))
    return pairs_drawing(problem, x)
