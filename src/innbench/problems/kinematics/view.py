"""The explorer's view of the arm: the first 150 sampled arms (:meth:`~innbench.problems.kinematics.Kinematics.joints`),
the most likely arm (mean-shift mode, bandwidth 0.1, from fewer starts than the figure's) and the contour enclosing
97 % of the end points' KDE, on a canvas of the arm's whole reach."""

from __future__ import annotations

import numpy as np

from ...drawing import MODE_OPTIONS, mass_contour_lines, rounded
from ...figures import finite_rows, mean_shift_mode

__all__ = ["kinematics_canvas", "kinematics_drawing"]


def kinematics_canvas(problem) -> dict:
    """The canvas: the whole reach around the rail (the report's panels show only x > -0.35)."""
    reach = float(sum(problem.lengths))
    return {"xlim": [-reach - 0.4, reach + 0.4], "ylim": [-reach - 0.4, reach + 0.4], "reach": reach}


def kinematics_drawing(problem, x: np.ndarray, n_lines: int = 150) -> dict:
    """Arms ``(k, 4, 2)`` (base on the rail, three joints, end point) of the first ``n_lines`` samples, the
    mean-shift arm ``(4, 2)``, the 97 % end-point contour and the view's limits."""
    canvas = kinematics_canvas(problem)
    x = finite_rows(x, problem.x_dim)
    ends = np.asarray(problem.forward(x), dtype=float)
    ends = ends[np.isfinite(ends).all(axis=1)]
    mode = problem.joints(mean_shift_mode(x, 0.1, **MODE_OPTIONS)[None])[0] if len(x) else None
    return {"kind": "kinematics", **canvas, "arms": rounded(problem.joints(x[:n_lines])),
            "mode": None if mode is None else rounded(mode),
            "contour": mass_contour_lines(ends, canvas["xlim"], canvas["ylim"]),
            "n_finite": len(x)}
