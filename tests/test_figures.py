import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure
from matplotlib.patches import StepPatch

from innbench import figures as F
from innbench.problems import get_problem
from innbench.problems.ballistics.figures import ballistics_posterior_figure
from innbench.problems.kinematics.figures import kinematics_posterior_figure
from innbench.problems.toys import MODE_CENTRES
from innbench.problems.toys.figures import gaussian_modes_figure

N = 500


def _saved(fig, tmp_path, name="x.png", min_bytes=8000):
    assert isinstance(fig, Figure)
    path = tmp_path / name
    fig.savefig(path, dpi=60)
    assert path.stat().st_size > min_bytes
    return path


def _has_contour(ax):
    return any(isinstance(c, ContourSet) for c in ax.collections)


@pytest.fixture(scope="module")
def kin_post():
    """Approximate posterior for y* = (1.5, 0): prior draws whose end point lies near the target."""
    rng = np.random.default_rng(0)
    kin = get_problem("kinematics")
    x = kin.sample_prior(200_000, rng)
    near = np.linalg.norm(kin.forward(x) - [1.5, 0.0], axis=1) < 0.1
    return x[near][:N]


@pytest.fixture(scope="module")
def bal_post():
    rng = np.random.default_rng(1)
    bal = get_problem("ballistics")
    x = bal.sample_prior(50_000, rng)
    near = np.abs(bal.forward(x)[:, 0] - 5.0) < 0.2
    return x[near][:N]


# -- numerical helpers ----------------------------------------------------------------------------------

def test_density_level_encloses_requested_mass_of_a_gaussian():
    g = np.linspace(-6, 6, 301)
    xx, yy = np.meshgrid(g, g)
    dens = np.exp(-0.5 * (xx**2 + yy**2)) / (2 * np.pi)
    cell = (g[1] - g[0]) ** 2
    for mass in (0.5, 0.9, 0.97):
        level = F.density_level(dens, mass)
        inside = dens[dens >= level].sum() * cell
        assert abs(inside - mass) < 0.01
        # for a standard 2-D Gaussian the HPD region of mass m is the disc of radius sqrt(-2 log(1 - m))
        assert level == pytest.approx((1 - mass) / (2 * np.pi), rel=0.03)


def test_density_level_relative_to_total_and_degenerate_grids():
    d = np.array([4.0, 3.0, 2.0, 1.0, np.nan, -1.0])
    assert F.density_level(d, 0.4) == 4.0
    assert F.density_level(d, 0.7) == 3.0
    assert F.density_level(d, 1.0) == 1.0
    # a grid holding only part of the mass: relative to the given total
    assert F.density_level(d, 0.5, total=20.0) == 1.0
    assert F.density_level(d, 0.2, total=20.0) == 4.0
    assert np.isnan(F.density_level(np.zeros((3, 3)), 0.9))
    assert np.isnan(F.density_level(np.full(4, np.nan), 0.9))
    with pytest.raises(ValueError):
        F.density_level(d, 1.5)


def test_mean_shift_finds_the_heavier_mode():
    rng = np.random.default_rng(3)
    heavy = rng.normal([1.0, 1.0], 0.15, (700, 2))
    light = rng.normal([-1.0, -1.0], 0.15, (300, 2))
    x = np.concatenate([light, heavy])
    mode = F.mean_shift_mode(x, bandwidth=0.1)
    assert np.linalg.norm(mode - [1.0, 1.0]) < 0.08
    # the light mode wins when it is the heavier one
    mode = F.mean_shift_mode(np.concatenate([rng.normal([-1.0, -1.0], 0.15, (800, 2)), light[:200] + 2]), 0.1)
    assert np.linalg.norm(mode - [-1.0, -1.0]) < 0.08


def test_mean_shift_handles_nan_scale_and_empty():
    rng = np.random.default_rng(4)
    x = rng.normal([0.0, 10.0], [0.1, 2.0], (400, 2))
    x[::10] = np.nan
    mode = F.mean_shift_mode(x, bandwidth=0.3, scale=[0.1, 2.0])
    assert np.all(np.isfinite(mode)) and abs(mode[0]) < 0.1 and abs(mode[1] - 10) < 1.5
    assert np.isnan(F.mean_shift_mode(np.full((5, 3), np.nan))).all()
    assert F.mean_shift_mode(np.empty((0, 4))).shape == (4,)


# -- figures ------------------------------------------------------------------------------------------

def test_priors_figure(tmp_path):
    rng = np.random.default_rng(5)
    samples = {
        "kinematics": get_problem("kinematics").sample_prior(N, rng),
        "ballistics": get_problem("ballistics").sample_prior(N, rng),
        "gaussian_modes": get_problem("gaussian_modes").sample_prior(N, rng),
    }
    problems = {name: get_problem(name) for name in samples}
    fig = F.priors_figure(samples, problems)
    assert len(fig.axes) == 4  # kinematics, ballistics + impact strip, scatter
    assert _has_contour(fig.axes[0])
    _saved(fig, tmp_path, min_bytes=20000)
    fig = F.priors_figure({"kinematics": np.full((3, 4), np.nan), "ballistics": np.empty((0, 4))}, problems)
    assert len(fig.axes) == 3
    _saved(fig, tmp_path, "empty.png", min_bytes=2000)
    # a problem's own draw_prior hook draws its column; a name nobody knows gets the generic scatter

    class Mine:
        def draw_prior(self, fig, spec, s, color):
            fig.add_subplot(spec).set_title(f"mine: {len(s)} draws")

    fig = F.priors_figure({"mine": np.zeros((7, 3)), "unknown": rng.normal(size=(50, 2))}, problems={"mine": Mine()})
    assert [ax.get_title() for ax in fig.axes] == ["mine: 7 draws", "unknown: prior"]
    assert len(fig.axes[1].collections[0].get_offsets()) == 50


def test_kinematics_posterior_figure(tmp_path, kin_post):
    rng = np.random.default_rng(6)
    broad = kin_post + rng.normal(0, 0.08, kin_post.shape)
    nan = kin_post.copy()
    nan[::3] = np.nan
    panels = [("ground truth", kin_post), ("broad", broad), ("partly NaN", nan), ("all NaN", np.full((10, 4), np.nan)),
              ("empty", np.empty((0, 4)))]
    fig = kinematics_posterior_figure(panels, [1.5, 0.0], get_problem("kinematics"))
    assert len(fig.axes) == 5
    assert all(_has_contour(ax) for ax in fig.axes[:3])
    assert not _has_contour(fig.axes[3])
    assert [ax.get_title() for ax in fig.axes] == [t for t, _ in panels]
    # faint arms + the bold mean-shift arm
    assert fig.axes[0].collections and len(fig.axes[0].lines) >= 2
    _saved(fig, tmp_path, min_bytes=20000)


def test_kinematics_contour_encloses_the_end_points(kin_post):
    fig = kinematics_posterior_figure([("gt", kin_post)], [1.5, 0.0], get_problem("kinematics"))
    ax = fig.axes[0]
    cs = next(c for c in ax.collections if isinstance(c, ContourSet) and c.get_linewidths()[0] > 0 and
              not c.filled)
    ends = get_problem("kinematics").forward(kin_post)
    inside = np.zeros(len(ends), dtype=bool)
    for path in cs.get_paths():
        for poly in path.to_polygons():
            from matplotlib.path import Path

            inside ^= Path(poly).contains_points(ends)
    assert 0.9 < inside.mean() <= 1.0


def test_ballistics_posterior_figure(tmp_path, bal_post):
    never = bal_post[:50].copy()
    never[:, 1], never[:, 2], never[:, 3] = -3.0, 0.2, 1.0  # starts below ground, never lands
    panels = [("ground truth", bal_post), ("never lands", np.concatenate([never, bal_post])),
              ("NaN", np.full((5, 4), np.nan)), ("empty", np.empty((0, 4)))]
    fig = ballistics_posterior_figure(panels, [5.0], get_problem("ballistics"))
    assert len(fig.axes) == 8  # trajectories + impact strip per panel
    assert "never land" in fig.axes[2].get_title()
    _saved(fig, tmp_path, min_bytes=20000)


def test_gaussian_modes_figure(tmp_path):
    rng = np.random.default_rng(7)
    good = {i: MODE_CENTRES[i] + 0.2 * rng.standard_normal((200, 2)) for i in range(8)}
    partial = {0: np.full((10, 2), np.nan), 3: MODE_CENTRES[3] + 0.2 * rng.standard_normal((100, 2))}
    fig = gaussian_modes_figure([("ground truth", good), ("partial", partial), ("empty", {})], MODE_CENTRES)
    assert len(fig.axes) == 3
    assert len(fig.axes[0].collections) == 9  # eight labels and the mode centres
    _saved(fig, tmp_path, min_bytes=8000)


def test_error_boxplots(tmp_path):
    rng = np.random.default_rng(8)
    names = [f"a rather long model title number {i}" for i in range(12)] + ["all NaN"]
    errors = {n: np.exp(rng.normal(-4 + 0.2 * i, 1.0, 300)) for i, n in enumerate(names[:-1])}
    errors[names[0]][:10] = np.nan
    errors[names[1]][:3] = 0.0
    errors["all NaN"] = np.full(5, np.nan)
    fig = F.error_boxplots(errors, "Err_post", "kinematics", paper={names[0]: 0.02, "unknown": 1.0})
    assert len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_legend() is not None
    _saved(fig, tmp_path, min_bytes=15000)
    fig = F.error_boxplots({}, "Err_resim")
    assert fig.axes[0].get_yscale() == "log"
    _saved(fig, tmp_path, "empty.png", min_bytes=2000)


def test_amortization_figure(tmp_path):
    pts = [{"label": f"ABC {b:g}", "query_ms": q, "err_post": e, "kind": "abc"}
           for b, q, e in [(1e4, 5.0, 0.2), (1e5, 50.0, 0.05), (1e6, 500.0, 0.01)]]
    pts += [{"label": "cINN", "query_ms": 11.0, "err_post": 0.015, "err_post_median": 0.008, "train_seconds": 900.0,
                 "kind": "amortized"},
            {"label": "MDN", "query_ms": 600.0, "err_post": 0.007, "train_seconds": 30.0},
            {"label": "broken", "query_ms": float("nan"), "err_post": 0.1, "train_seconds": float("nan")}]
    fig = F.amortization_figure(pts)
    assert len(fig.axes) == 2
    left, right = fig.axes
    assert left.get_xscale() == "log" and left.get_yscale() == "log"
    assert len(right.patches) == 2  # training bars of cINN and MDN
    _saved(fig, tmp_path, min_bytes=15000)
    _saved(F.amortization_figure([]), tmp_path, "empty.png", min_bytes=2000)


def test_sbc_figure(tmp_path):
    rng = np.random.default_rng(9)
    L = 99
    ranks = {"calibrated": rng.integers(0, L + 1, (N, 3)), "1-D": rng.integers(0, L + 1, N).astype(float),
             "empty": np.empty((0, 3))}
    ranks["1-D"][:5] = np.nan
    fig = F.sbc_figure(ranks, L, ["x1", "x2", "x3"])
    assert len(fig.axes) == 9
    assert [ax.get_title() for ax in fig.axes[:3]] == ["x1", "x2", "x3"]
    band, expected, counts = (p.get_data() for p in fig.axes[0].patches if isinstance(p, StepPatch))
    assert counts.values.sum() == N and expected.values.sum() == pytest.approx(N)
    assert np.all(band.baseline <= expected.values) and np.all(expected.values <= band.values)
    assert fig.axes[3].patches and fig.axes[3].patches[-1].get_data().values.sum() == N - 5  # NaN ranks dropped
    _saved(fig, tmp_path, min_bytes=15000)


def test_coverage_figure(tmp_path):
    lev = np.linspace(0, 1, 11)
    fig = F.coverage_figure({"good": (lev, lev), "over": (lev, lev**2), "nan": (lev, lev * np.nan)})
    assert len(fig.axes) == 1
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    _saved(fig, tmp_path, min_bytes=10000)
    _saved(F.coverage_figure({}), tmp_path, "empty.png", min_bytes=2000)


def test_any_problem_gets_a_posterior_pair_plot():
    """A problem without a picture of its own (here the linear toy) draws corner plots: one per model,
    d x d axes each (lower triangle and diagonal drawn), the reference under every model."""
    from innbench.problems import get_problem

    p = get_problem("linear")
    rng = np.random.default_rng(0)
    y = p.showcase_observations()
    panels = [("reference (exact)", {"y0": (y[0], rng.normal(size=(500, 2)))}),
              ("model A", {"y0": (y[0], rng.normal(size=(500, 2)))}),
              ("model B", {"y0": (y[0], rng.normal(size=(500, 2)) + 1)})]
    fig, caption = p.posterior_figure(panels)
    visible = [ax for ax in fig.axes if ax.axison]
    assert len(visible) == 2 * 3  # two corners, each 2 marginals + 1 pair panel
    assert "reference" in caption and str(y[0].tolist()) in caption
    assert p.posterior_figure([("reference (exact)", {})]) is None


# -- one colour per model ---------------------------------------------------------------------------------

def _lab(color):
    """CIELAB (D65) of a matplotlib colour."""
    from matplotlib.colors import to_rgb

    rgb = np.array(to_rgb(color))
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    f = np.cbrt(np.maximum(xyz / [0.95047, 1.0, 1.08883], (6 / 29) ** 3))
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _rgb(color):
    from matplotlib.colors import to_hex

    return to_hex(color)


MODELS = ["INN (max likelihood)", "INN (L2 + MMD)", "conditional INN", "IAF + decoder", "MAF + decoder",
          "invertible ResNet", "invertible autoencoder", "autoencoder", "conditional VAE", "mixture density network",
          "rejection ABC, 1e4 simulations", "rejection ABC, 1e5 simulations", "MCMC on the likelihood (baseline)",
          "conditional flow matching", "neural spline flow", "neural likelihood + MCMC"]


def test_model_colors_are_distinct_stable_and_never_the_reference():
    F.set_model_order(MODELS[:12])
    colors = [F.model_color(m) for m in MODELS]  # the last four: not named in the order, given on first use
    assert len(set(colors)) == len(MODELS) == 16
    assert colors[:12] == list(F.MODEL_PALETTE[:12])  # the order of set_model_order
    assert [F.model_color(m) for m in reversed(MODELS)] == colors[::-1]  # the same label, the same colour
    greys = [F.REFERENCE_COLOR, F.REFERENCE_BACKDROP, F.TARGET_COLOR, "0.3", "0.5", "0.8", "black", "white"]
    # every palette colour is far from the greys (chroma) and from every other one (CIELAB distance)
    labs = [_lab(c) for c in F.MODEL_PALETTE]
    assert len(F.MODEL_PALETTE) >= 20 and min(np.hypot(*lab[1:]) for lab in labs) > 25
    assert min(np.linalg.norm(a - b) for i, a in enumerate(labs) for b in labs[i + 1:]) > 20
    assert min(np.linalg.norm(a - _lab(g)) for a in labs for g in greys) > 20
    assert all(_rgb(c) != _rgb(g) for c in F.MODEL_PALETTE for g in greys)
    assert F.panel_color("reference (exact)") == F.panel_color("Reference (MCMC)") == F.REFERENCE_COLOR
    assert F.panel_color("conditional INN") == F.model_color("conditional INN")
    # beyond the palette the colours repeat with another line style: still one (colour, style) per model
    many = [f"model {i}" for i in range(45)]
    F.set_model_order(many)
    styles = {(F.model_color(m), F.model_linestyle(m)) for m in many}
    assert len(styles) == 45 and {F.model_linestyle(m) for m in many[:20]} == {"-"}
    F.set_model_order(MODELS)  # a new order forgets the old one
    assert F.model_color(MODELS[0]) == F.MODEL_PALETTE[0] and F.model_linestyle(MODELS[0]) == "-"


def test_explorer_uses_the_report_palette():
    """The explorer's page colours its models with the report's palette and its reference with none of it."""
    import re
    from pathlib import Path

    import innbench.explore

    js = (Path(innbench.explore.__file__).parent / "static" / "explore.js").read_text()
    palette = re.search(r"const PALETTE = \[([^\]]*)\]", js).group(1)
    assert re.findall(r'"(#[0-9a-f]{6})"', palette) == list(F.MODEL_PALETTE)
    reference = re.search(r'const REFERENCE_COLOR = "(#[0-9a-f]{6})"', js).group(1)
    assert reference == _rgb(F.REFERENCE_COLOR) and reference not in F.MODEL_PALETTE


def _line_colors(ax):
    return {line.get_label(): _rgb(line.get_color()) for line in ax.get_lines() if not line.get_label().startswith("_")}


def test_a_model_has_one_colour_in_every_figure(kin_post, bal_post):
    """The same model label is drawn in the same colour in the posterior grids, the box plots, the
    amortization plot, the SBC histograms and the coverage plot; the reference in its own grey."""
    from matplotlib.patches import PathPatch

    F.set_model_order(MODELS)
    lev = np.linspace(0, 1, 11)
    want = {m: F.model_color(m) for m in MODELS}
    cov = F.coverage_figure({m: (lev, lev ** (1 + i / 10)) for i, m in enumerate(MODELS)})
    assert _line_colors(cov.axes[0]) == want  # 16 lines, 16 colours
    rng = np.random.default_rng(0)
    sbc = F.sbc_figure({m: rng.integers(0, 100, (40, 2)) for m in MODELS[:12]}, 99, ["a", "b"])
    rows = [[_rgb(p.get_edgecolor()) for p in ax.patches if isinstance(p, StepPatch)][-1] for ax in sbc.axes[::2]]
    assert rows == [want[m] for m in MODELS[:12]]
    box = F.error_boxplots({m: rng.uniform(0.1, 1, 20) for m in reversed(MODELS)}, "Err_post")
    faces = [_rgb(p.get_facecolor()) for p in box.axes[0].patches if isinstance(p, PathPatch)]
    assert faces == [want[m] for m in reversed(MODELS)]
    kin = kinematics_posterior_figure([("reference (exact)", kin_post), (MODELS[9], kin_post)], [1.5, 0.0],
                                      get_problem("kinematics"))
    bold = [[_rgb(line.get_color()) for line in ax.get_lines() if line.get_linewidth() == 3] for ax in kin.axes]
    assert bold == [[_rgb(F.REFERENCE_COLOR)], [want[MODELS[9]]]]
    bal = ballistics_posterior_figure([("reference (exact)", bal_post), (MODELS[9], bal_post)], [5.0],
                                      get_problem("ballistics"))
    bold = [[_rgb(line.get_color()) for line in ax.get_lines() if line.get_linewidth() == 3] for ax in bal.axes[::2]]
    assert bold == [[_rgb(F.REFERENCE_COLOR)], [want[MODELS[9]]]]
    pts = [{"label": m[:12], "name": m, "query_ms": 1.0 + i, "err_post": 0.1 * (i + 1), "train_seconds": 5.0,
            "kind": "abc" if "ABC" in m else "amortized"} for i, m in enumerate(MODELS[:12])]
    amort = F.amortization_figure(pts)
    bars = [_rgb(p.get_facecolor()) for p in amort.axes[1].patches]
    assert bars == [want[m] for m in MODELS[:12] if "ABC" not in m]
    legend = amort.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [m[:12] for m in MODELS[:12]]
    assert [_rgb(h.get_color()) for h in legend.legend_handles] == [want[m] for m in MODELS[:12]]


def _extents(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    return fig.canvas.get_renderer()


def _overlap(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_amortization_labels_neither_overlap_nor_leave_the_figure():
    """Twelve models close together: the left axes carry no point labels (the legend below names them), and
    every legend entry and tick label lies inside the figure, apart from the others."""
    pts = [{"label": m, "name": m, "query_ms": 1.0 + 0.01 * i, "err_post": 0.5 + 0.001 * i, "err_post_median": 0.4,
            "train_seconds": 3.0 + i, "kind": "amortized"} for i, m in enumerate(MODELS[:12])]
    fig = F.amortization_figure(pts)
    r = _extents(fig)
    left = fig.axes[0]
    assert not left.texts  # no annotations on the crowded points
    boxes = [t.get_window_extent(r) for t in fig.legends[0].get_texts()]
    boxes += [t.get_window_extent(r) for t in fig.axes[1].get_yticklabels()]
    assert len(boxes) == 24
    fb = fig.bbox
    assert all(fb.x0 <= b.x0 and b.x1 <= fb.x1 and fb.y0 <= b.y0 and b.y1 <= fb.y1 for b in boxes)
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])


def test_sbc_row_labels_stay_beside_their_rows():
    """Long model names label the rows horizontally, wrapped: each label inside its own row's height,
    none running into the next."""
    rng = np.random.default_rng(3)
    names = MODELS[:13]
    fig = F.sbc_figure({m: rng.integers(0, 100, (40, 4)) for m in names}, 99, ["x1", "x2", "x3", "x4"])
    r = _extents(fig)
    first = fig.axes[::4]
    labels = [ax.yaxis.label.get_window_extent(r) for ax in first]
    assert not any(_overlap(a, b) for i, a in enumerate(labels) for b in labels[i + 1:])
    for ax, lb in zip(first, labels, strict=True):
        row = ax.get_window_extent(r)
        assert row.y0 - 2 <= lb.y0 and lb.y1 <= row.y1 + 2  # within its row
        assert lb.x0 >= fig.bbox.x0
