"""The inverse ballistics' own figures: Figure 3 of the paper (posterior trajectories and the impact density) and its
column of Figure 1 (prior throws)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure

from ...figures import (
    DENSITY_COLOR,
    MAX_WIDTH,
    TARGET_COLOR,
    finite_rows,
    grid_shape,
    mean_shift_mode,
    no_data,
    panel_color,
)
from .physics import impact_time, trajectory

__all__ = ["ballistics_limits", "ballistics_mode", "ballistics_posterior_figure", "draw_ballistics_prior",
           "draw_throws", "throws"]


def throws(x: np.ndarray, n_points: int = 60):
    """Trajectory polylines ``(m, n_points, 2)`` of the throws that land, and the count that never land."""
    if len(x) == 0:
        return np.empty((0, n_points, 2)), 0
    t_end = impact_time(x)
    ok = np.isfinite(t_end)
    t = t_end[ok, None] * np.linspace(0.0, 1.0, n_points)[None, :]
    t1, t2 = trajectory(x[ok, None, :], t)
    return np.stack([t1, t2], -1), int((~ok).sum())


def ballistics_mode(x: np.ndarray) -> np.ndarray:
    """Mean-shift mode of ballistics samples: coordinates standardised, Scott bandwidth n^(-1/8)."""
    std = x.std(axis=0) if len(x) > 1 else np.ones(x.shape[1])
    std = np.where(std > 1e-3, std, 1e-3)
    return mean_shift_mode(x, bandwidth=min(len(x), 2000) ** (-1.0 / 8), scale=std)


def draw_throws(ax, strip, x: np.ndarray, color, y_star=None, n_lines: int = 100, alpha: float = 0.15,
                 mode: bool = True, xlim=None, impacts: np.ndarray | None = None) -> None:
    """Faint trajectories, the mode in bold, the ground, the target line and the impact density strip."""
    ax.axhline(0.0, color="k", lw=0.8, zorder=0)
    if len(x):
        lines, _ = throws(x[:n_lines])
        ax.add_collection(LineCollection(lines, colors=color, alpha=alpha, linewidths=1.0, zorder=1), autolim=False)
        if mode:
            best, _ = throws(ballistics_mode(x)[None])
            if len(best):
                ax.plot(best[0, :, 0], best[0, :, 1], "-", color=color, lw=3, zorder=4)
                ax.plot(best[0, 0, 0], best[0, 0, 1], "o", color=color, mec="k", mew=0.5, ms=5, zorder=4)
    else:
        no_data(ax)
    if y_star is not None:
        for a in (ax, strip):
            a.axvline(y_star, color=TARGET_COLOR, lw=1.5, zorder=5)
    imp = np.empty(0) if impacts is None else impacts[np.isfinite(impacts)]
    if len(imp) and xlim is not None:
        bins = np.linspace(xlim[0], xlim[1], 121)
        h, _ = np.histogram(imp, bins=bins)
        h = h / (len(imp) * (bins[1] - bins[0]))
        strip.fill_between(bins[:-1], h, step="post", color=DENSITY_COLOR, alpha=0.5, lw=0)
        strip.stairs(h, bins, color=DENSITY_COLOR, lw=1.2)
        strip.set_ylim(0, max(h.max(), 1e-12) * 1.1)
    strip.set_yticks([])
    strip.set_ylabel("impacts", fontsize=7, color=DENSITY_COLOR)


def ballistics_limits(xs: list[np.ndarray], y_star=None, n_lines: int = 100):
    """Common axis limits of several panels: 1-99 % of starts and impacts, 99 % of the apex heights."""
    lefts, rights, tops = [0.0], [], []
    if y_star is not None:
        lefts.append(y_star)
        rights.append(y_star)
    for x in xs:
        if len(x) == 0:
            continue
        lefts.append(np.percentile(x[:, 0], 1))
        lines, _ = throws(x[:n_lines])
        if len(lines):
            tops.append(np.percentile(lines[:, :, 1].max(axis=1), 99))
        t = impact_time(x)
        fin = np.isfinite(t)
        if fin.any():
            rights.append(np.percentile(trajectory(x[fin], t[fin])[0], 99))
    lo, hi = min(lefts), max(rights) if rights else 10.0
    pad = 0.05 * max(hi - lo, 1.0)
    top = max(tops) if tops else 3.0
    return (lo - pad, hi + pad), (-0.05 * top - 0.05, 1.08 * top + 0.1)


def ballistics_posterior_figure(panels: Sequence[tuple[str, np.ndarray]], y_star, problem,
                                n_lines: int = 100) -> Figure:
    """Figure 3: one panel per ``(title, samples (n, 4))`` of the inverse ballistics posterior.

    Faint lines are the trajectories of ``n_lines`` samples (throws that never land are counted in the
    title), bold is the mean-shift mode (coordinates standardised, Scott bandwidth), the vertical grey
    line is the target impact ``y_star``, and the green strip under each panel is the density of the
    actual impacts ``problem.forward(samples)[:, 0]`` (finite values) of all samples; ``problem`` is the
    :class:`~innbench.problems.ballistics.Ballistics` that simulates them.
    """
    ys = float(np.asarray(y_star, dtype=float).ravel()[0])
    panels = list(panels) or [("no panels", np.empty((0, 4)))]
    xs = [finite_rows(s, 4) for _, s in panels]
    xlim, ylim = ballistics_limits(xs, ys, n_lines)
    ncols, nrows = grid_shape(len(panels), 3)
    w = min(MAX_WIDTH, 3.4 * ncols)
    fig = Figure(figsize=(w, 2.9 * nrows + 0.4), layout="constrained")
    gs = fig.add_gridspec(2 * nrows, ncols, height_ratios=[3.2, 1.0] * nrows)
    for k, ((title, _), x) in enumerate(zip(panels, xs, strict=True)):
        r, c = divmod(k, ncols)
        ax = fig.add_subplot(gs[2 * r, c])
        strip = fig.add_subplot(gs[2 * r + 1, c], sharex=ax)
        impacts = np.asarray(problem.forward(x), dtype=float)[:, 0] if len(x) else np.empty(0)
        draw_throws(ax, strip, x, panel_color(title), ys, n_lines=n_lines, xlim=xlim, impacts=impacts)
        ax.set_xlim(*xlim)
        ax.set_ylim(*ylim)
        ax.tick_params(labelbottom=False, labelsize=7)
        strip.tick_params(labelsize=7)
        bad = int((~np.isfinite(impacts)).sum())
        ax.set_title(title + (f"  ({bad}/{len(x)} never land)" if bad else ""), fontsize=9)
        if c == 0:
            ax.set_ylabel("height", fontsize=8)
        strip.set_xlabel("horizontal position", fontsize=8)
    fig.suptitle(f"Inverse ballistics: posterior trajectories for y* = {ys:.3g}", fontsize=10)
    return fig




def draw_ballistics_prior(fig, spec, problem, samples: np.ndarray, color) -> None:
    """Prior throws and, in a strip below, the density of their impact positions."""
    x = finite_rows(samples, 4)
    inner = spec.subgridspec(2, 1, height_ratios=[3.2, 1.0])
    ax = fig.add_subplot(inner[0])
    strip = fig.add_subplot(inner[1], sharex=ax)
    xlim, ylim = ballistics_limits([x], None, 150)
    impacts = problem.forward(x)[:, 0] if len(x) else np.empty(0)
    draw_throws(ax, strip, x, color, None, n_lines=150, alpha=0.12, mode=False, xlim=xlim, impacts=impacts)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.tick_params(labelbottom=False)
    ax.set_title("Inverse ballistics: prior throws", fontsize=10)
    ax.set_ylabel("height", fontsize=8)
    strip.set_xlabel("horizontal position (impact y)", fontsize=8)
