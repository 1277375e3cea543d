"""The 8-mode Gaussian mixture's own figure: posterior samples per label."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ...figures import MAX_WIDTH, finite_rows, grid_shape, no_data

__all__ = ["gaussian_modes_figure"]


def gaussian_modes_figure(panels: Sequence[tuple[str, Mapping[int, np.ndarray]]], centres: np.ndarray,
                          max_points: int = 600) -> Figure:
    """The 8-mode Gaussian mixture: one panel per model, posterior samples ``(n, 2)`` for each label in
    that label's tab10 colour (at most ``max_points`` per label), the mode ``centres (8, 2)`` as black plus signs.
    """
    from matplotlib import colormaps

    cmap = colormaps["tab10"]
    panels = list(panels) or [("no panels", {})]
    ncols, nrows = grid_shape(len(panels), 4)
    w = min(MAX_WIDTH, 2.6 * ncols)
    fig = Figure(figsize=(w, (w / ncols) * nrows + 0.4), layout="constrained")
    gs = fig.add_gridspec(nrows, ncols)
    for k, (title, by_label) in enumerate(panels):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        drawn = 0
        for label, s in sorted(by_label.items()):
            x = finite_rows(s, 2)[:max_points]
            if len(x):
                ax.scatter(x[:, 0], x[:, 1], s=2, color=cmap(int(label) % 10), alpha=0.35, lw=0, rasterized=True)
                drawn += len(x)
        ax.scatter(centres[:, 0], centres[:, 1], marker="+", s=60, color="k", lw=1.2, zorder=3)
        if not drawn:
            no_data(ax)
        ax.set_xlim(-3.7, 3.7)
        ax.set_ylim(-3.7, 3.7)
        ax.set_aspect("equal")
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("8-mode Gaussian mixture: posterior samples per label (colour = label)", fontsize=10)
    return fig
