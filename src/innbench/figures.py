"""The plotting kit of the report: colours, densities and contours, pair plots, the paper's Figures 1, 4 and 5,
amortization and calibration plots. It knows no problem: a problem's own figures (the arm of Figure 2, the throws
of Figure 3) live in its folder (``innbench/problems/<name>/figures.py``) and are drawn through its hooks
(:meth:`innbench.problems.Problem.posterior_figure`, :meth:`~innbench.problems.Problem.draw_prior`).

Every builder takes plain numpy arrays / dicts and problem objects (never a database or a model) and returns a
:class:`matplotlib.figure.Figure` made without pyplot (no global state, no display needed); the caller
saves it with ``fig.savefig(path)``. Empty or all-NaN inputs give a panel that says "no data".

Conventions follow docs/protocol.md and the authors' figures: the most likely configuration is the mean-shift mode
of the samples with the highest Gaussian KDE density; contours enclose 97 % of a KDE's mass
(:data:`CONTOUR_MASS`).
"""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "amortization_figure",
    "budget_curve_figure",
    "coverage_figure",
    "density_level",
    "draw_prior_scatter",
    "error_boxplots",
    "finite_rows",
    "grid_shape",
    "kde_grid_2d",
    "mass_contour",
    "no_data",
    "pair_plot_figure",
    "predictive_figure",
    "is_reference",
    "mean_shift_mode",
    "model_color",
    "model_linestyle",
    "panel_color",
    "priors_figure",
    "sbc_figure",
]

MAX_WIDTH = 10.0
CONTOUR_MASS = 0.97
TARGET_COLOR = "0.45"
DENSITY_COLOR = "tab:green"
_PALETTE = ("tab:blue", "tab:orange", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
            "tab:cyan", "tab:green", "tab:gray")  # one colour per problem (priors); models: model_color

#: The reference posterior's colours in every figure (no model colour is a grey): drawn on its own
#: (arms, throws, predictive bands) and as the backdrop under a model's samples (pair plots).
REFERENCE_COLOR = "0.15"
REFERENCE_BACKDROP = "0.6"

#: The models' qualitative palette: tab10 without its grey, then colours of CIELAB lightness <= 66 (legible on
#: white and on the SBC band's grey) picked greedily for the largest smallest CIELAB distance to those before
#: and to the greys (the first 16 at least 27 apart, all 20 at least 24). Beyond 20 models the colours repeat
#: with another line style (:func:`model_linestyle`). explore/static/explore.js holds a copy.
MODEL_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
                 "#17becf", "#ff00ff", "#000080", "#a6761d", "#637939", "#1b9e77", "#e7298a", "#393b79",
                 "#800000", "#008080", "#7b4173", "#808000")
_LINESTYLES = ("-", "--", ":", "-.")
_MODEL_SLOTS: dict[str, int] = {}
_SLOTS_LOCK = threading.Lock()


def set_model_order(labels: Sequence[str]) -> None:
    """Give the models ``labels`` the palette's colours in this order, forgetting earlier assignments
    (the report calls it with every row of every problem, so a model has one colour on the whole page)."""
    with _SLOTS_LOCK:
        _MODEL_SLOTS.clear()
        for label in labels:
            _MODEL_SLOTS.setdefault(str(label), len(_MODEL_SLOTS))


def _slot(label) -> int:
    with _SLOTS_LOCK:
        return _MODEL_SLOTS.setdefault(str(label), len(_MODEL_SLOTS))


def model_color(label) -> str:
    """The colour of model ``label`` (a row's title) in every figure: the palette's colours in the order of
    :func:`set_model_order`, a label not named there the next free one on first use; the same label always
    gets the same colour; never a grey (the reference's, :data:`REFERENCE_COLOR`)."""
    return MODEL_PALETTE[_slot(label) % len(MODEL_PALETTE)]


def model_linestyle(label) -> str:
    """The line style of model ``label``: solid for the first 20 models, then dashed, dotted, ... (their
    colours repeat)."""
    return _LINESTYLES[(_slot(label) // len(MODEL_PALETTE)) % len(_LINESTYLES)]


def is_reference(title) -> bool:
    """Whether a panel's title names the reference posterior (``reference (exact)``, ...)."""
    return str(title).strip().lower().startswith("reference")


def panel_color(title) -> str:
    """The colour of a posterior panel: the reference's, or the model's."""
    return REFERENCE_COLOR if is_reference(title) else model_color(title)


# -- numerical helpers ------------------------------------------------------------------------------

def density_level(density_grid: np.ndarray, mass: float, total: float | None = None) -> float:
    """Density value whose super-level set ``{density >= level}`` holds ``mass`` of the grid's mass.

    The grid values are sorted in decreasing order and accumulated until the fraction ``mass`` of
    ``total`` (default: the grid's own sum, i.e. a grid covering all the mass) is reached. NaN and
    negative cells count as zero. Returns NaN for a grid without mass; if the grid holds less than
    ``mass * total``, the smallest positive value (the contour then encloses the whole grid's mass).
    """
    if not 0.0 < mass <= 1.0:
        raise ValueError(f"mass: expected a fraction in (0, 1], got {mass}")
    d = np.asarray(density_grid, dtype=float).ravel()
    d = np.where(np.isfinite(d) & (d > 0), d, 0.0)
    tot = d.sum() if total is None else float(total)
    if not np.isfinite(tot) or tot <= 0 or not d.any():
        return float("nan")
    s = np.sort(d)[::-1]
    s = s[s > 0]
    cum = np.cumsum(s) / tot
    i = int(np.searchsorted(cum, mass * (1 - 1e-12)))
    return float(s[min(i, len(s) - 1)])


def finite_rows(samples, dim: int) -> np.ndarray:
    """Rows of ``samples`` without NaN/inf as a float array ``(n, dim)`` (empty if none or malformed)."""
    a = np.asarray([] if samples is None else samples, dtype=float)
    if a.ndim == 1 and a.size:
        a = a[:, None] if dim == 1 else a[None, :]
    if a.ndim != 2 or a.shape[1] != dim or a.size == 0:
        return np.empty((0, dim))
    return a[np.isfinite(a).all(axis=1)]


def _log_kde(points: np.ndarray, data: np.ndarray, bandwidth: float) -> np.ndarray:
    """Log of the (unnormalised) Gaussian KDE of ``data`` at ``points``, via log-sum-exp."""
    d2 = ((points[:, None, :] - data[None, :, :]) ** 2).sum(-1)
    e = -0.5 * d2 / bandwidth**2
    m = e.max(axis=1, keepdims=True)
    return (m + np.log(np.exp(e - m).sum(axis=1, keepdims=True)))[:, 0]


def mean_shift_mode(samples: np.ndarray, bandwidth: float = 0.1, n_starts: int = 32, max_iter: int = 300,
                    tol: float = 1e-6, max_points: int = 2000, scale: np.ndarray | None = None,
                    seed: int = 0) -> np.ndarray:
    """The highest-density mode of ``samples (n, d)`` found by Gaussian mean shift.

    Mean shift (Gaussian kernel of std ``bandwidth``) runs from ``n_starts`` samples drawn without
    replacement (fixed ``seed``) on at most ``max_points`` samples; of the converged points the one with
    the highest KDE density wins. ``scale`` (per coordinate) divides the coordinates first, so the
    bandwidth is in scaled units; the mode is returned in the original units. NaN rows are ignored;
    no finite rows give a NaN vector.
    """
    a = np.asarray(samples, dtype=float)
    d = a.shape[1] if a.ndim == 2 else 1
    x = finite_rows(a, d)
    if len(x) == 0:
        return np.full(d, np.nan)
    sc = np.ones(d) if scale is None else np.broadcast_to(np.asarray(scale, dtype=float), (d,))
    sc = np.where(np.isfinite(sc) & (sc > 0), sc, 1.0)
    rng = np.random.default_rng(seed)
    if len(x) > max_points:
        x = x[rng.choice(len(x), max_points, replace=False)]
    x = x / sc
    m = x[rng.choice(len(x), min(n_starts, len(x)), replace=False)].copy()
    for _ in range(max_iter):
        d2 = ((m[:, None, :] - x[None, :, :]) ** 2).sum(-1)
        e = -0.5 * d2 / bandwidth**2
        w = np.exp(e - e.max(axis=1, keepdims=True))
        new = (w @ x) / w.sum(axis=1, keepdims=True)
        shift = np.abs(new - m).max()
        m = new
        if shift < tol * bandwidth:
            break
    best = int(np.argmax(_log_kde(m, x, bandwidth)))
    return m[best] * sc


def _scott_bandwidths(points: np.ndarray, floor: float) -> np.ndarray:
    """Per-coordinate Scott bandwidths ``n^(-1/(d+4)) * std``, at least ``floor``."""
    n, d = points.shape
    std = points.std(axis=0) if n > 1 else np.zeros(d)
    return np.maximum(std * max(n, 1) ** (-1.0 / (d + 4)), floor)


def kde_grid_2d(points: np.ndarray, xlim, ylim, res: int = 160, floor: float = 0.03, max_points: int = 4000,
                 bandwidth: float | None = None):
    """Gaussian KDE (product kernel, Scott bandwidths) of 2-D ``points`` on a grid.

    The grid spans ``xlim``/``ylim`` extended to the points' 0.5-99.5 % range (plus three bandwidths),
    so the level computed by :func:`density_level` refers to (nearly) all the mass. A given ``bandwidth``
    replaces the Scott bandwidths. Returns
    ``(gx, gy, density (res, res), cell_area)``; the density integrates to one over the plane.
    """
    p = points[:max_points]
    h = _scott_bandwidths(p, floor) if bandwidth is None else np.full(2, float(bandwidth))
    lo = np.minimum([xlim[0], ylim[0]], np.percentile(p, 0.5, axis=0) - 3 * h)
    hi = np.maximum([xlim[1], ylim[1]], np.percentile(p, 99.5, axis=0) + 3 * h)
    gx = np.linspace(lo[0], hi[0], res)
    gy = np.linspace(lo[1], hi[1], res)
    kx = np.exp(-0.5 * ((gx[None, :] - p[:, :1]) / h[0]) ** 2) / (np.sqrt(2 * np.pi) * h[0])
    ky = np.exp(-0.5 * ((gy[None, :] - p[:, 1:2]) / h[1]) ** 2) / (np.sqrt(2 * np.pi) * h[1])
    dens = ky.T @ kx / len(p)
    return gx, gy, dens, (gx[1] - gx[0]) * (gy[1] - gy[0])


def mass_contour(ax, points: np.ndarray, xlim, ylim, color, mass: float = CONTOUR_MASS, label: str | None = None,
                  fill: bool = True, bandwidth: float | None = None, label_at=None):
    """Draw the contour of the KDE of ``points`` that encloses ``mass`` of it (filled lightly if ``fill``)."""
    if len(points) < 2:
        return None
    gx, gy, dens, cell = kde_grid_2d(points, xlim, ylim, bandwidth=bandwidth)
    level = density_level(dens * cell, mass, total=1.0) / cell
    if not np.isfinite(level) or level <= 0 or level >= dens.max():
        return None
    if fill:
        ax.contourf(gx, gy, dens, levels=[level, dens.max() * 1.01], colors=[color], alpha=0.18, zorder=2)
    cs = ax.contour(gx, gy, dens, levels=[level], colors=[color], linewidths=1.5, zorder=3)
    if label:
        for text in ax.clabel(cs, fmt={level: label}, fontsize=12, inline=True, manual=label_at):
            text.set_rotation(0)
    return cs


def no_data(ax, text: str = "no data", y: float = 0.5) -> None:
    """Write ``text`` (grey) across axes ``ax`` at height ``y`` (axes units): the panel of a model without data."""
    ax.text(0.5, y, text, transform=ax.transAxes, ha="center", va="center", color="0.4", fontsize=11)


def grid_shape(n: int, max_cols: int) -> tuple[int, int]:
    """``(columns, rows)`` of a grid of ``n`` panels at most ``max_cols`` wide."""
    ncols = max(1, min(n, max_cols))
    return ncols, max(1, -(-n // ncols))


# -- any problem: pair plots --------------------------------------------------------------------------

def _y_title(y_star) -> str:
    y = np.atleast_1d(np.asarray(y_star, dtype=float)).ravel()
    if len(y) <= 8:
        return f"y* = {np.array2string(y, precision=3, separator=', ')}"
    return f"one observation ({np.isfinite(y).sum()} values)"


def pair_plot_figure(panels: Sequence[tuple[str, np.ndarray]], y_star, names: Sequence[str] | None = None,
                     max_dims: int = 5, max_points: int = 1500, truth=None) -> Figure:
    """The posterior for one observation for any problem: one corner plot per panel after the first, the
    first panel (the reference) in grey under each model's samples in colour; histograms of the marginals
    on the diagonal, scatter plots of the pairs below it (at most ``max_dims`` parameters, ``max_points``
    points per scatter). ``panels`` is ``[(title, samples (n, x_dim)), ...]`` with the reference first;
    ``truth (x_dim,)``, where known, the parameters behind ``y_star`` (black lines and crosses).
    """
    panels = list(panels) or [("no data", np.empty((0, 1)))]
    ref_title, ref = panels[0]
    models = panels[1:] or [panels[0]]
    d = int(np.shape(ref)[-1]) if np.ndim(ref) == 2 and np.shape(ref)[-1] else 1
    k = min(d, max_dims)
    names = list(names) if names is not None else [f"x{i + 1}" for i in range(d)]
    ref = finite_rows(ref, d)
    ncols, nrows = grid_shape(len(models), 3)
    side = min(MAX_WIDTH / ncols, 1.3 * k + 0.6)
    fig = Figure(figsize=(side * ncols, side * nrows + 0.4), layout="constrained")
    subs = np.atleast_1d(fig.subfigures(nrows, ncols, squeeze=False).ravel())
    for j, sub in enumerate(subs):
        if j >= len(models):
            continue
        title, s = models[j]
        s = finite_rows(s, d)
        color = model_color(title)
        axes = sub.subplots(k, k, squeeze=False)
        for r in range(k):
            for c in range(k):
                ax = axes[r, c]
                ax.tick_params(labelsize=6)
                if c > r:
                    ax.set_axis_off()
                    continue
                if r == c:
                    both = np.concatenate([ref[:, c], s[:, c]]) if len(s) else ref[:, c]
                    if len(both) == 0:
                        no_data(ax)
                        continue
                    bins = np.histogram_bin_edges(both, bins=40)
                    ax.hist(ref[:, c], bins=bins, density=True, color=REFERENCE_BACKDROP, alpha=0.6)
                    if len(s):
                        ax.hist(s[:, c], bins=bins, density=True, histtype="step", color=color, lw=1.2)
                    ax.set_yticks([])
                    if truth is not None:
                        ax.axvline(truth[c], color="k", lw=0.8)
                else:
                    ax.scatter(ref[:max_points, c], ref[:max_points, r], s=1.5, color=REFERENCE_BACKDROP, alpha=0.35,
                               lw=0)
                    if len(s):
                        ax.scatter(s[:max_points, c], s[:max_points, r], s=1.5, color=color, alpha=0.35, lw=0)
                    if truth is not None:
                        ax.plot(truth[c], truth[r], "k+", ms=7, mew=1.2)
                if r == k - 1:
                    ax.set_xlabel(names[c], fontsize=7)
                if c == 0 and r > 0:
                    ax.set_ylabel(names[r], fontsize=7)
        sub.suptitle(f"{title} (colour) vs {ref_title} (grey)" if len(panels) > 1 else title, fontsize=8)
    fig.suptitle(f"Posteriors for {_y_title(y_star)}" + (" (black: the true parameters)" if truth is not None
                                                          else ""), fontsize=10)
    return fig


def predictive_figure(panels: Sequence[tuple[str, np.ndarray]], y_star, problem, draws: int = 500,
                      seed: int = 0) -> Figure:
    """Posterior predictive bands over an observed series (the talk's "predictive posteriors"): for each
    panel's posterior samples (the reference first), ``draws`` of them re-simulated at the observation's
    length; per channel the median (line), the central 50 % and 90 % bands of the re-simulated series, and
    the observed series (black dots). ``panels`` is ``[(title, samples (n, x_dim)), ...]``.
    """
    length, channels = problem.observation_shape
    y = np.asarray(y_star, dtype=float).reshape(1, -1)
    steps = y.reshape(length, channels)
    present = np.isfinite(steps).all(1)
    t = np.arange(1, length + 1)[present]
    names = _channel_names(problem)
    panels = list(panels) or [("no data", np.empty((0, problem.x_dim)))]
    fig = Figure(figsize=(min(MAX_WIDTH, 1.2 + 3.3 * channels), 0.6 + 1.7 * len(panels)), layout="constrained")
    axes = fig.subplots(len(panels), channels, squeeze=False, sharex=True)
    rng = np.random.default_rng(seed)
    for i, (title, samples) in enumerate(panels):
        x = finite_rows(samples, problem.x_dim)
        x = x[rng.permutation(len(x))[:draws]]
        sims = (problem.resimulate(x, np.repeat(y, len(x), 0), rng).reshape(len(x), length, channels)[:, present]
                if len(x) else np.empty((0, present.sum(), channels)))
        color = REFERENCE_COLOR if i == 0 else model_color(title)
        for c in range(channels):
            ax = axes[i, c]
            ax.tick_params(labelsize=7)
            if len(sims):
                q = np.nanquantile(sims[..., c], [0.05, 0.25, 0.5, 0.75, 0.95], axis=0)
                ax.fill_between(t, q[0], q[4], color=color, alpha=0.18, lw=0, label="90 %")
                ax.fill_between(t, q[1], q[3], color=color, alpha=0.35, lw=0, label="50 %")
                ax.plot(t, q[2], color=color, lw=1.2, label="median")
            else:
                no_data(ax)
            ax.plot(t, steps[present, c], "k.", ms=2.5, label="observed")
            if i == 0:
                ax.set_title(names[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(textwrap.fill(title, 24), fontsize=7)  # long model titles: two lines
            if i == len(panels) - 1:
                ax.set_xlabel(getattr(problem, "step_label", "step"), fontsize=8)
    axes[0, -1].legend(fontsize=6, loc="upper right")
    fig.suptitle("Posterior predictive: the observed series (dots) and re-simulations from each posterior", fontsize=10)
    return fig


def _channel_names(problem) -> list[str]:
    """A series' channel names from its ``y_names`` (``cases_day1`` -> ``cases``), else ``channel k``."""
    channels = problem.observation_shape[1]
    first = [str(n).split("_")[0] for n in problem.y_names[:channels]]
    return first if len(set(first)) == channels else [f"channel {k + 1}" for k in range(channels)]


# -- Figure 1 -----------------------------------------------------------------------------------------

def priors_figure(samples: Mapping[str, np.ndarray], problems: Mapping | None = None) -> Figure:
    """Figure 1: one column of prior samples per problem, each drawn by its problem's
    :meth:`innbench.problems.Problem.draw_prior` hook (kinematics: arms on the rail with the end points'
    97 % contour; ballistics: throws and the impact density; any other problem: a scatter of the first
    two coordinates, a histogram if 1-D). ``problems`` maps names to problem objects
    (:func:`innbench.get_problem`); a name it does not hold gets the generic scatter.
    """
    items = list(samples.items()) or [("no data", np.empty((0, 2)))]
    fig = Figure(figsize=(min(MAX_WIDTH, 4.8 * len(items)), 4.4), layout="constrained")
    gs = fig.add_gridspec(1, len(items))
    for j, (name, s) in enumerate(items):
        color = _PALETTE[j % len(_PALETTE)]
        problem = (problems or {}).get(name)
        if problem is None:
            draw_prior_scatter(fig, gs[0, j], s, color, name)
        else:
            problem.draw_prior(fig, gs[0, j], s, color)
    return fig


def draw_prior_scatter(fig, spec, samples: np.ndarray, color, name: str) -> None:
    """The generic prior panel: a scatter of the first two coordinates (a histogram if 1-D)."""
    a = np.asarray(samples, dtype=float)
    ax = fig.add_subplot(spec)
    x = finite_rows(a, a.shape[1] if a.ndim == 2 and a.shape[1] else 1)
    if len(x) == 0:
        no_data(ax)
    elif x.shape[1] == 1:
        ax.hist(x[:, 0], bins=60, color=color, alpha=0.7)
        ax.set_xlabel("x1", fontsize=8)
    else:
        ax.scatter(x[:3000, 0], x[:3000, 1], s=2, color=color, alpha=0.3, lw=0)
        ax.set_xlabel("x1", fontsize=8)
        ax.set_ylabel("x2", fontsize=8)
    ax.set_title(f"{name}: prior", fontsize=10)


# -- Figures 4 and 5 ----------------------------------------------------------------------------------

def error_boxplots(errors: Mapping[str, np.ndarray], ylabel: str, title: str = "",
                   paper: Mapping[str, float] | None = None, color: str | None = None) -> Figure:
    """Figures 4/5: one box per model (keys in order) of per-observation errors, log-scale y.

    Boxes (in the model's colour, :func:`model_color`, or all in ``color``) span the quartiles with a black
    median line, whiskers reach the 5 and 95 % quantiles, values beyond them are small dots; a black
    triangle marks our mean and an open diamond the paper's mean (``paper[model]``, when given). NaN values
    are ignored; values <= 0 (impossible on a log axis) are shown at the smallest positive value of the
    plot; a model without data is labelled "no data".
    """
    names = list(errors)
    vals = [np.asarray(errors[n], dtype=float).ravel() for n in names]
    vals = [v[np.isfinite(v)] for v in vals]
    pos_all = np.concatenate([v[v > 0] for v in vals] + [np.empty(0)])
    floor = pos_all.min() if len(pos_all) else 1e-6
    vals = [np.maximum(v, floor) for v in vals]
    n = max(len(names), 1)
    fig = Figure(figsize=(min(MAX_WIDTH, 2.0 + 0.62 * n), 4.6), layout="constrained")
    ax = fig.add_subplot()
    ax.set_yscale("log")
    have = [i for i, v in enumerate(vals) if len(v)]
    if have:
        parts = ax.boxplot([vals[i] for i in have], positions=[i + 1 for i in have], whis=(5, 95), widths=0.6,
                           patch_artist=True, showfliers=True, medianprops={"color": "k", "lw": 1.5},
                           whiskerprops={"ls": ":", "lw": 1.3},
                           flierprops={"marker": ".", "ms": 2, "alpha": 0.35, "mec": "none"})
        for j, i in enumerate(have):
            c = color or model_color(names[i])
            parts["boxes"][j].set(facecolor=c, edgecolor=c, alpha=0.85)
            for part in ("whiskers", "caps"):
                for line in parts[part][2 * j:2 * j + 2]:
                    line.set_color(c)
            parts["fliers"][j].set_markerfacecolor(c)
        ax.plot([i + 1 for i in have], [vals[i].mean() for i in have], "^", color="k", ms=5, ls="none",
                label="mean (ours)", zorder=4)
    if paper:
        pts = [(i + 1, paper[nm]) for i, nm in enumerate(names) if nm in paper and np.isfinite(paper[nm])
               and paper[nm] > 0]
        if pts:
            px, py = zip(*pts, strict=True)
            ax.plot(px, py, "D", mfc="white", mec="k", mew=1.3, ms=6, ls="none", label="mean (paper)", zorder=5)
    for i, v in enumerate(vals):
        if not len(v):
            ax.text(i + 1, 0.5, "no data", transform=ax.get_xaxis_transform(), rotation=90, ha="center",
                    va="center", color="0.4", fontsize=8)
    if not names:
        no_data(ax)
    ax.set_xticks(range(1, len(names) + 1))
    ax.set_xticklabels(names, rotation=35, ha="right", rotation_mode="anchor", fontsize=8)
    ax.set_xlim(0.4, len(names) + 0.6)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", which="major", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="best")
    return fig


# -- amortization -------------------------------------------------------------------------------------

def amortization_figure(points: Sequence[Mapping]) -> Figure:
    """What amortization buys. Left: Err_post (mean; median as an open circle joined to it) against the
    inference time per observation, both log scale; ABC budgets (squares) form a line, MCMC on the likelihood
    is a star, trained models are circles; each model in its colour (:func:`model_color` of the point's
    ``name``, else its ``label``), named in the legend below the axes (no labels on the points: they
    overlapped). Right: each model's training time, paid once, as horizontal bars in the same colours.
    """
    from matplotlib.lines import Line2D

    def ok(p, key):
        v = p.get(key)
        return v is not None and np.isfinite(float(v)) and float(v) > 0

    def color(p):
        return model_color(p.get("name") or p.get("label", ""))

    usable = [p for p in points if ok(p, "query_ms") and ok(p, "err_post")]
    abc = sorted((p for p in usable if p.get("kind") == "abc"), key=lambda p: float(p["query_ms"]))
    mcmc = [p for p in usable if p.get("kind") == "mcmc"]
    amort = [p for p in usable if p.get("kind") not in ("abc", "mcmc")]
    trained = [p for p in points if p.get("kind") not in ("abc", "mcmc") and ok(p, "train_seconds")]
    ncol = 3 if len(usable) > 8 else 2
    rows = -(-len(usable) // ncol)
    fig = Figure(figsize=(MAX_WIDTH, 4.4 + 0.2 * rows), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[1.6, 1.0])
    ax, bx = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    if usable:
        ax.set_xscale("log")
        ax.set_yscale("log")
    models = []  # (handle, label) per point, in the order of ``points``
    if abc:
        ax.plot([p["query_ms"] for p in abc], [p["err_post"] for p in abc], "-", color="0.55", lw=1.2, zorder=2)
    for p in abc:
        models.append((ax.plot(p["query_ms"], p["err_post"], "s", color=color(p), ms=7, mec="k", mew=0.5,
                               zorder=3)[0], p))
    for p in mcmc:
        models.append((ax.plot(p["query_ms"], p["err_post"], "*", color=color(p), ms=13, mec="k", mew=0.5,
                               zorder=3)[0], p))
    for p in amort:
        c = color(p)
        if ok(p, "err_post_median"):
            ax.plot([p["query_ms"]] * 2, [p["err_post"], p["err_post_median"]], "-", color=c, lw=1, alpha=0.7)
            ax.plot(p["query_ms"], p["err_post_median"], "o", mfc="white", mec=c, mew=1.3, ms=6, zorder=3)
        models.append((ax.plot(p["query_ms"], p["err_post"], "o", color=c, ms=7, mec="k", mew=0.5, zorder=4)[0], p))
    if usable:
        kinds = [Line2D([], [], color="0.3", marker="o", mec="k", mew=0.5, ls="none", label="trained model (mean)")]
        if any(ok(p, "err_post_median") for p in amort):
            kinds.append(Line2D([], [], color="0.3", marker="o", mfc="white", ls="none", label="its median"))
        if abc:
            kinds.append(Line2D([], [], color="0.55", marker="s", mfc="0.3", mec="k", mew=0.5,
                                label="ABC (per-observation budget)"))
        if mcmc:
            kinds.append(Line2D([], [], color="0.3", marker="*", ms=10, mec="k", mew=0.5, ls="none",
                                label="MCMC on the likelihood"))
        ax.legend(handles=kinds, fontsize=7, loc="best", framealpha=0.8)
        order = sorted(models, key=lambda hp: points.index(hp[1]))
        fig.legend([h for h, _ in order], [str(p.get("label", "")) for _, p in order], loc="outside lower left",
                   ncol=ncol, fontsize=7.5, frameon=False, handletextpad=0.3, columnspacing=1.2)
    else:
        no_data(ax)
    ax.set_xlabel("inference time per observation [ms]")
    ax.set_ylabel("Err_post")
    ax.set_title("Accuracy vs. cost per query", fontsize=10)
    ax.grid(which="major", alpha=0.3)

    if trained:
        secs = np.array([float(p["train_seconds"]) for p in trained])
        ypos = np.arange(len(trained))
        bx.barh(ypos, secs, color=[color(p) for p in trained], alpha=0.85)
        bx.set_yticks(ypos)
        bx.set_yticklabels([textwrap.fill(str(p.get("label", "")), 22) for p in trained], fontsize=7)
        bx.invert_yaxis()
        if secs.max() / secs.min() > 30:
            bx.set_xscale("log")
    else:
        no_data(bx)
    bx.set_xlabel("training time [s]")
    bx.set_title("Training: paid once", fontsize=10)
    bx.grid(axis="x", alpha=0.3)
    return fig


# -- calibration --------------------------------------------------------------------------------------

def sbc_figure(ranks: Mapping[str, np.ndarray], L: int, dim_names: Sequence[str]) -> Figure:
    """Simulation-based calibration: rank histograms, one row per model and one column per dimension.

    ``ranks[model]`` is ``(N, D)`` with ranks in ``0..L`` (L posterior draws per test). About N/20 bins
    (5-20, at most L+1); the dashed line is the expected count of a calibrated model and the grey band
    its 99 % binomial interval, computed per bin from the exact number of rank values it holds.
    """
    from scipy.stats import binom

    from .calibration import rank_bins

    names = list(ranks) or ["no data"]
    dims = list(dim_names) or ["x"]
    nr, nc = len(names), len(dims)
    fig = Figure(figsize=(min(MAX_WIDTH, 0.8 + 2.3 * nc), 0.6 + 1.45 * nr), layout="constrained")
    axes = fig.subplots(nr, nc, squeeze=False, sharex=True)
    for i, name in enumerate(names):
        r = np.asarray(ranks.get(name, np.empty((0, nc))), dtype=float)
        if r.ndim == 1:
            r = r[:, None]
        for j in range(nc):
            ax = axes[i, j]
            col = r[:, j] if r.ndim == 2 and j < r.shape[1] else np.empty(0)
            col = col[np.isfinite(col)]
            if len(col) == 0:
                no_data(ax)
            else:
                nb = int(np.clip(len(col) // 20, 5, 20))
                nb = min(nb, L + 1)
                bin_of = rank_bins(L, nb)  # the binning of calibration.rank_histogram_pvalue
                per_bin = np.bincount(bin_of, minlength=nb)  # number of rank values in each bin
                edges = np.concatenate([[-0.5], np.cumsum(per_bin) - 0.5])
                r_int = np.clip(np.round(col).astype(np.int64), 0, L)
                counts = np.bincount(bin_of[r_int], minlength=nb)
                p = per_bin / (L + 1)
                lo, hi = binom.ppf(0.005, len(col), p), binom.ppf(0.995, len(col), p)
                ax.stairs(hi, edges, baseline=lo, fill=True, color="0.8", lw=0, label="99 % band")
                ax.stairs(len(col) * p, edges, color="0.3", ls="--", lw=1, label="uniform")
                ax.stairs(counts, edges, color=model_color(name), lw=1.5)
                ax.set_ylim(0, max(counts.max(), hi.max()) * 1.1)
            ax.set_xlim(-0.5, L + 0.5)
            ax.tick_params(labelsize=7)
            if i == 0:
                ax.set_title(str(dims[j]), fontsize=9)
            if j == 0:  # horizontal and wrapped: a long name stays beside its own row
                ax.set_ylabel(textwrap.fill(str(name), 16), fontsize=8, rotation=0, ha="right", va="center")
            if i == nr - 1:
                ax.set_xlabel(f"rank (0..{L})", fontsize=8)
    fig.suptitle("SBC rank histograms (grey: 99 % band of a calibrated model)", fontsize=10)
    return fig


def coverage_figure(curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
                    title: str = "Coverage of the posterior's credible regions",
                    sides: tuple[str, str] | None = ("conservative", "overconfident")) -> Figure:
    """Expected coverage against credibility level, one line per model; the dashed diagonal is perfect
    calibration (above it: conservative, below it: overconfident; ``sides`` labels the two halves, None: no
    labels, as for TARP's curve, whose sides do not read that way)."""
    fig = Figure(figsize=(7.0, 4.6), layout="constrained")
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], "--", color="0.4", lw=1)
    drawn = 0
    for name, (lev, cov) in curves.items():
        lev, cov = np.asarray(lev, dtype=float).ravel(), np.asarray(cov, dtype=float).ravel()
        m = min(len(lev), len(cov))
        lev, cov = lev[:m], cov[:m]
        keep = np.isfinite(lev) & np.isfinite(cov)
        if keep.any():
            order = np.argsort(lev[keep])
            ax.plot(lev[keep][order], cov[keep][order], model_linestyle(name), color=model_color(name), lw=1.6,
                    label=name)
            drawn += 1
    if drawn:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.03, 0.5))
    else:
        no_data(ax)
    if sides:
        ax.text(0.03, 0.97, sides[0], ha="left", va="top", fontsize=8, color="0.5", transform=ax.transAxes)
        ax.text(0.97, 0.03, sides[1], ha="right", va="bottom", fontsize=8, color="0.5", transform=ax.transAxes)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("credibility level")
    ax.set_ylabel("expected coverage")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def budget_curve_figure(curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], title: str,
                        published: Mapping[str, tuple[Sequence[int], Sequence[float]]] | None = None,
                        flat: Mapping[str, float] | None = None) -> Figure:
    """C2ST against the simulation budget (log scale), one line per model; ``published`` values dashed in
    black, ``flat`` (baselines that use no simulations, e.g. MCMC on the likelihood) as dotted horizontals."""
    fig = Figure(figsize=(7.0, 4.4), layout="constrained")
    ax = fig.add_subplot()
    drawn = 0
    for name, (n, c) in curves.items():
        n, c = np.asarray(n, dtype=float), np.asarray(c, dtype=float)
        keep = np.isfinite(c)
        if keep.any():
            ax.plot(n[keep], c[keep], marker="o", ls=model_linestyle(name), color=model_color(name), lw=1.6, ms=4,
                    label=name)
            drawn += 1
    for name, (n, c) in (published or {}).items():
        ax.plot(n, c, "s--", color="black", lw=1.2, ms=4, label=name)
        drawn += 1
    for name, v in (flat or {}).items():
        if v is not None and np.isfinite(v):
            ax.axhline(v, ls=":", lw=1.6, color=model_color(name), label=name)
            drawn += 1
    if drawn:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.03, 0.5))
    else:
        no_data(ax)
    ax.axhline(0.5, color="0.8", lw=1)
    ax.set_xscale("log")
    ax.set_ylim(0.45, 1.02)
    ax.set_xlabel("simulations")
    ax.set_ylabel("C2ST accuracy (0.5 = indistinguishable)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    return fig
