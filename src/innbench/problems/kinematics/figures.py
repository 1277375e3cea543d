"""The inverse kinematics' own figures: Figure 2 of the paper (posterior arms) and its column of Figure 1 (prior
arms). Panels span x in (-0.35, 2.25) and y in (-1.3, 1.3), as the authors' figures; the most likely arm is the
mean-shift mode of the samples (bandwidth 0.1); the contour encloses 97 % of the end points' density."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ...figures import (
    MAX_WIDTH,
    TARGET_COLOR,
    finite_rows,
    grid_shape,
    mass_contour,
    mean_shift_mode,
    no_data,
    panel_color,
)

__all__ = ["KIN_XLIM", "KIN_YLIM", "draw_arms", "draw_kinematics_prior", "kinematics_posterior_figure"]

#: the panels' limits (the authors' Figure 2)
KIN_XLIM = (-0.35, 2.25)
KIN_YLIM = (-1.3, 1.3)


def draw_arms(ax, problem, x: np.ndarray, color, y_star=None, n_lines: int = 150, alpha: float = 0.12,
               mode: bool = True, contour: bool = True, contour_label: str | None = None) -> None:
    """Faint arms of the first ``n_lines`` samples, the mean-shift arm in bold, the 97 % end-point contour."""
    ax.axvline(0.0, color="0.55", lw=5, alpha=0.35, zorder=0)  # the rail
    if len(x):
        segs = problem.joints(x[:n_lines])
        ax.add_collection(LineCollection(segs, colors=color, alpha=alpha, linewidths=1.0, zorder=1), autolim=False)
        if contour:
            ends = np.asarray(problem.forward(x), dtype=float)
            ends = ends[np.isfinite(ends).all(axis=1)]
            mass_contour(ax, ends, ax.get_xlim(), ax.get_ylim(), "0.25" if contour_label else color,
                         label=contour_label)
        if mode:
            best = problem.joints(mean_shift_mode(x, 0.1)[None])[0]
            ax.plot(best[:, 0], best[:, 1], "-o", color=color, lw=3, ms=4, mec="k", mew=0.5, zorder=4)
    else:
        no_data(ax, y=0.8)
    if y_star is not None:
        ax.plot(y_star[0], y_star[1], "x", color=TARGET_COLOR, ms=12, mew=3, zorder=5)


def kinematics_posterior_figure(panels: Sequence[tuple[str, np.ndarray]], y_star, problem,
                                n_lines: int = 150) -> Figure:
    """Figure 2: one panel per ``(title, samples (n, 4))`` of the inverse kinematics posterior.

    Faint lines are ``n_lines`` sampled arm configurations; the bold arm is the mean-shift mode
    (:func:`mean_shift_mode`, bandwidth 0.1 in x units); the grey cross is the target ``y_star``; the
    contour encloses 97 % of the KDE of the forward-simulated end points. The first panel is usually the
    reference posterior. ``problem`` is the :class:`~innbench.problems.kinematics.Kinematics` whose arm is drawn.
    """
    y_star = np.asarray(y_star, dtype=float).ravel()
    panels = list(panels) or [("no panels", np.empty((0, 4)))]
    ncols, nrows = grid_shape(len(panels), 4)
    w = min(MAX_WIDTH, 2.6 * ncols)
    fig = Figure(figsize=(w, (w / ncols) * 1.05 * nrows + 0.4), layout="constrained")
    gs = fig.add_gridspec(nrows, ncols)
    for k, (title, s) in enumerate(panels):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        ax.set_xlim(*KIN_XLIM)
        ax.set_ylim(*KIN_YLIM)
        draw_arms(ax, problem, finite_rows(s, 4), panel_color(title), y_star, n_lines=n_lines)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Inverse kinematics: posterior arms for y* = {np.round(y_star, 3).tolist()}", fontsize=10)
    return fig




def draw_kinematics_prior(fig, spec, problem, samples: np.ndarray, color) -> None:
    """Prior arm configurations on the rail, their end points and the contour holding 97 % of them."""
    x = finite_rows(samples, 4)
    ax = fig.add_subplot(spec)
    ax.set_xlim(-0.6, 2.35)
    ax.set_ylim(-2.25, 2.25)
    draw_arms(ax, problem, x, color, n_lines=200, alpha=0.08, mode=False, contour=False)
    if len(x):
        ends = problem.forward(x)
        ax.scatter(ends[:2000, 0], ends[:2000, 1], s=1.5, color="k", alpha=0.25, lw=0, zorder=2)
        mass_contour(ax, ends, ax.get_xlim(), ax.get_ylim(), "0.2", label="y", fill=False,
                     bandwidth=0.1, label_at=[(1.3, 0.3)])
    ax.set_aspect("equal")
    ax.set_title("Inverse kinematics: prior arms", fontsize=10)
    ax.set_xlabel("horizontal", fontsize=8)
    ax.set_ylabel("vertical", fontsize=8)
