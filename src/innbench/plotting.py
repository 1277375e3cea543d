"""Posterior figures: arm configurations (kinematics), trajectories (ballistics), pairwise scatter otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["most_likely_index", "plot_posterior"]


def most_likely_index(samples: np.ndarray, bandwidth: float = 0.1, max_points: int = 2000) -> int:
    """Index of the sample with the highest Gaussian KDE density (bandwidth 0.1, the authors' choice)."""
    s = samples[:max_points]
    d2 = ((s[:, None, :] - s[None, :, :]) ** 2).sum(-1)
    return int(np.exp(-0.5 * d2 / bandwidth**2).sum(1).argmax())


def _arms(ax, problem, x, y_star, color, n_lines=150):
    pts = problem.joints(x[:n_lines])
    for p in pts:
        ax.plot(p[:, 0], p[:, 1], "-", color=color, alpha=0.08, lw=1)
    best = problem.joints(x[most_likely_index(x)][None])[0]
    ax.plot(best[:, 0], best[:, 1], "-o", color=color, lw=3, ms=4)
    ends = problem.forward(x)
    ax.scatter(ends[:, 0], ends[:, 1], s=1, color="k", alpha=0.15)
    ax.plot([0, 0], [-1.3, 1.3], "-", color="0.5", lw=4, alpha=0.4)
    ax.plot(*y_star, "x", color="0.3", ms=12, mew=3)
    ax.set_xlim(-0.35, 2.25)
    ax.set_ylim(-1.3, 1.3)
    ax.set_aspect("equal")


def _trajectories(ax, problem, x, y_star, color, n_lines=100):
    from .problems.ballistics import impact_time, trajectory

    for xi in x[:n_lines]:
        t_end = impact_time(xi[None])[0]
        if not np.isfinite(t_end):
            continue
        t = np.linspace(0, t_end, 60)
        t1, t2 = trajectory(xi, t)
        ax.plot(t1, t2, "-", color=color, alpha=0.1, lw=1)
    ax.axvline(y_star[0], color="0.3", lw=1.5)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylim(bottom=-0.5)
    impacts = problem.forward(x)[:, 0]
    impacts = impacts[np.isfinite(impacts)]
    # impact density on its own axis, so an exact (delta-like) posterior does not squash the trajectories
    dens = ax.twinx()
    dens.hist(impacts, bins=np.linspace(y_star[0] - 1.0, y_star[0] + 1.0, 81), density=True, color="tab:green",
              alpha=0.6, histtype="stepfilled")
    dens.set_yticks([])
    dens.set_ylim(bottom=0)


def plot_posterior(problem, samples: np.ndarray, y_star, path, reference: np.ndarray | None = None,
                   title: str = "model") -> Path:
    """Save a figure of posterior ``samples (n, x_dim)`` for one observation, beside the reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [(title, samples, "tab:blue")]
    if reference is not None:
        panels.insert(0, ("reference (exact)", reference, "tab:orange"))
    y_star = np.asarray(y_star, dtype=float).ravel()
    if problem.name in ("kinematics", "ballistics"):
        fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.6), squeeze=False)
        for ax, (name, s, col) in zip(axes[0], panels):
            (_arms if problem.name == "kinematics" else _trajectories)(ax, problem, s, y_star, col)
            ax.set_title(f"{name}: y* = {np.round(y_star, 3).tolist()}")
    else:
        d = problem.x_dim
        fig, axes = plt.subplots(d, d, figsize=(2.6 * d, 2.6 * d), squeeze=False)
        for i in range(d):
            for j in range(d):
                ax = axes[i, j]
                for name, s, col in panels:
                    if i == j:
                        ax.hist(s[:, i], bins=50, density=True, histtype="step", color=col, label=name)
                    else:
                        ax.scatter(s[:2000, j], s[:2000, i], s=1, alpha=0.3, color=col)
                if i == d - 1:
                    ax.set_xlabel(problem.x_names[j])
                if j == 0:
                    ax.set_ylabel(problem.x_names[i])
        axes[0, 0].legend(fontsize=7)
        fig.suptitle(f"{problem.name}: y* = {np.round(y_star, 3).tolist()}")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
