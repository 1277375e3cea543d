"""The report from a results database: tables, figures, the HTML page in a real browser, and a Ray run."""

import csv
import json
import re
import shutil
import sys
from html import unescape
from pathlib import Path

import pytest

from innbench.benchmark import ResultsDB, load_grid, run_grid
from innbench.benchmark.report import CLAMP
from innbench.cli import main

PLUGIN = Path(__file__).parent.parent / "examples" / "leaderboard_plugin.py"  # registers the noisy_sum problem

GRID = """
name = "tiny"
imports = ["{plugin}"]
problems = ["kinematics", "ballistics"]
models = ["mdn", "cinn", {{model = "rejection_abc", label = "rejection_abc@1e4", options = {{simulations = 10000}}}}]
extra = [{{problem = "gaussian_modes", model = "mdn"}}, {{problem = "noisy_sum", model = "mdn"}}]
preset = "tiny"
observations = 5
samples = 300
timing_observations = 1
c2st_observations = 1
noise_floor_observations = 2
threads = 1
[budget]
n_train = 3000
n_batches = 40
"""


def _forget_plugins():
    for name in [m for m in sys.modules if m.startswith("innbench_plugin_")]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """A grid with a user's problem from a plugin file (``imports``), run and reported as a user would:
    ``bench --config`` and then, in what stands for a fresh process, ``report --imports``."""
    import innbench.models
    import innbench.problems

    d = tmp_path_factory.mktemp("report")
    (d / "grid.toml").write_text(GRID.format(plugin=PLUGIN))
    with pytest.MonkeyPatch.context() as mp:  # the plugin's registrations end with the bench run
        mp.setattr(innbench.models.registry, "_REGISTRY", dict(innbench.models.registry._REGISTRY))
        mp.setattr(innbench.problems, "_REGISTRY", dict(innbench.problems._REGISTRY))
        assert main(["bench", "--config", str(d / "grid.toml"), "--db", str(d / "r.db"), "--quiet"]) == 0
        _forget_plugins()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(innbench.models.registry, "_REGISTRY", dict(innbench.models.registry._REGISTRY))
        mp.setattr(innbench.problems, "_REGISTRY", dict(innbench.problems._REGISTRY))
        assert main(["report", "--db", str(d / "r.db"), "--out", str(d / "out"), "--imports", str(PLUGIN)]) == 0
        _forget_plugins()
    return d


def test_tables_in_three_formats(report):
    out = report / "out"
    md = (out / "table_kinematics.md").read_text()
    assert "mixture density network" in md and "conditional INN" in md and "| rejection ABC, 1e4 simulations |" in md
    assert "| 0.007 |" in md and "| 0.015 |" in md  # the paper's Err_post of the MDN and the cINN alongside
    # ballistics has an integer parameter: the Err_resim of the unrounded samples gets its own column
    bal = list(csv.DictReader((out / "table_ballistics.csv").open()))
    assert "Err_resim unrounded" in (out / "table_ballistics.md").read_text() and "unrounded" not in md
    assert all(0 < float(r["err_resim_continuous_mean"]) < 10 for r in bal if r["label"] != "rejection_abc@1e4")
    tex = (out / "table_ballistics.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\toprule" in tex and "mixture density network" in tex
    rows = list(csv.DictReader((out / "table_kinematics.csv").open()))
    assert [r["label"] for r in rows] == ["mdn", "cinn", "rejection_abc@1e4"]
    with ResultsDB(report / "r.db") as db:
        runs = {r["label"]: r for r in db.runs() if r["problem"] == "kinematics"}
        errs = [r["err_post"] for r in db.results([runs["mdn"]["run_id"]])]
    mdn = rows[0]
    assert float(mdn["err_post_mean"]) == pytest.approx(sum(errs) / len(errs))
    assert float(mdn["err_post_clamped"]) == pytest.approx(sum(min(e, CLAMP) for e in errs) / len(errs))
    assert mdn["ml_loss"] == "True" and mdn["y_supervised"] == "False"
    assert int(mdn["dim_z"]) == runs["mdn"]["dim_z"] == 4
    cal = list(csv.DictReader((out / "calibration_kinematics.csv").open()))
    assert 0.3 <= float(cal[0]["c2st_mean"]) <= 1.0 and 0 <= float(cal[0]["coverage_90"]) <= 1
    assert 0.35 <= float(cal[0]["c2st_floor"]) <= 0.7 and cal[0]["c2st_floor"] == cal[1]["c2st_floor"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grid"] == "tiny"
    assert set(summary["problems"]) == {"kinematics", "ballistics", "gaussian_modes", "noisy_sum"}
    # the plugin problem's rows: one model, five scored observations, calibration numbers
    (row,) = list(csv.DictReader((out / "table_noisy_sum.csv").open()))
    assert row["label"] == "mdn" and row["n_observations"] == "5" and 0 < float(row["err_post_mean"]) < 1
    (cal_row,) = list(csv.DictReader((out / "calibration_noisy_sum.csv").open()))
    assert 0 <= float(cal_row["coverage_90"]) <= 1 and 0 <= float(cal_row["sbc_min_pvalue"]) <= 1


def test_figures_written(report):
    figs = {p.name for p in (report / "out" / "figures").glob("*.png")}
    for name in ("priors", "posterior_kinematics", "posterior_ballistics", "posterior_gaussian_modes",
                 "box_err_post_kinematics", "box_err_resim_ballistics", "amortization_kinematics",
                 "sbc_kinematics", "coverage_ballistics", "posterior_noisy_sum", "sbc_noisy_sum",
                 "coverage_noisy_sum"):
        assert f"{name}.png" in figs
    assert all((report / "out" / "figures" / f).stat().st_size > 5000 for f in figs)


def test_report_without_the_plugin_says_what_it_leaves_out(report, tmp_path, capsys, monkeypatch):
    """Without --imports the plugin problem keeps its tables (they come from the database) but has no
    prior or posterior figure, and the command says so. The figures' model colours are given once, in the
    order of the tables' rows over every problem (one colour per model on the whole page)."""
    from innbench import figures as F

    orders, set_order = [], F.set_model_order
    monkeypatch.setattr(F, "set_model_order", lambda labels: orders.append(list(labels)) or set_order(labels))
    assert main(["report", "--db", str(report / "r.db"), "--out", str(tmp_path / "o")]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert orders == [[r["model"] for p in summary["problems"].values() for r in p["table"]]]
    titles = list(dict.fromkeys(orders[0]))
    assert len({F.model_color(t) for t in titles}) == len(titles) == 3  # MDN, cINN, ABC 1e4 (the MDN: 4 problems)
    assert "problems ['noisy_sum'] are not registered" in capsys.readouterr().err
    assert (tmp_path / "o" / "table_noisy_sum.md").exists()
    assert (tmp_path / "o" / "figures" / "sbc_noisy_sum.png").exists()
    assert not (tmp_path / "o" / "figures" / "posterior_noisy_sum.png").exists()


def test_report_errors_are_named(report, tmp_path, capsys):
    assert main(["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "o")]) == 2
    assert "no results database" in capsys.readouterr().err
    assert main(["report", "--db", str(report / "r.db"), "--out", str(tmp_path / "o"), "--grid", "nope"]) == 2
    assert "grid 'nope'" in capsys.readouterr().err


def test_html_page_renders_in_chromium(report):
    from playwright import sync_api as playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:  # scripts/setup.sh installs it; where apt failed it warned, and this test says why it skips
        pytest.skip("no Chromium: scripts/setup.sh installs Debian's chromium (see its warning if apt failed)")
    page_path = report / "out" / "report.html"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(page_path.as_uri())
        page.wait_for_load_state("load")
        assert page.title() == "innbench report: tiny"
        n_img = page.locator("img").count()
        assert n_img >= 12
        loaded = page.evaluate("Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)")
        assert all(loaded) and len(loaded) == n_img
        assert page.locator("table").count() == 16  # results, facts, calibration, other metrics (TARP) per problem
        assert page.locator("table").first.locator("tbody tr").count() == 3
        text = page.inner_text("body")
        assert "mixture density network" in text and "Figure 2" in text and "What amortization buys" in text
        # one figure numbering over the page: 1..N in the page's order, every figure numbered once
        captions = page.locator("figure figcaption").all_inner_texts()
        assert len(captions) == page.locator("figure").count() == n_img
        assert [int(re.match(r"Figure (\d+): ", c).group(1)) for c in captions] == list(range(1, n_img + 1))
        assert page.evaluate("Array.from(document.querySelectorAll('figure')).map(f => f.id)") == [
            f"figure-{k}" for k in range(1, n_img + 1)]
        assert not any(re.search(r"\bFigure \d+:", c[c.index(":") + 1:]) for c in captions)
        assert any("(the paper's Figure 2)" in c for c in captions)  # kinematics' posterior names the paper's
        headings = page.locator("h2").all_inner_texts()
        assert len(headings) == len(set(headings))  # one section per heading
        assert headings.index("Results: kinematics") < headings.index("Calibration: kinematics")
        sbc = page.locator("h2:has-text('Calibration: kinematics') ~ figure img[alt='sbc_kinematics']")
        assert sbc.count() == 1
        # the user's problem from the plugin file: its table row, its pair plot and its calibration plots
        assert headings.index("Results: noisy_sum") < headings.index("Posteriors: noisy_sum") < headings.index(
            "Calibration: noisy_sum")
        rows = page.locator("h2:has-text('Results: noisy_sum') + p + table tbody tr")
        assert rows.count() == 1 and "mixture density network" in rows.first.inner_text()
        for alt in ("posterior_noisy_sum", "sbc_noisy_sum", "coverage_noisy_sum"):
            img = page.locator(f"img[alt='{alt}']")
            assert img.count() == 1 and img.evaluate("i => i.naturalWidth > 300")
        # wide tables scroll rather than overflow the page, and at 1,400 px none needs to
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        widths = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => [t.scrollWidth, "
                               "t.clientWidth])")
        assert all(sw <= cw + 1 for sw, cw in widths), widths
        browser.close()
    assert not errors


def test_figure_numbers_run_in_page_order(report):
    """Every figure of the page carries one number, 1..N in the order the page shows them, whatever number
    a problem's caption gave it (the paper's Figure 2 of the kinematics posterior stays named as such)."""
    html = (report / "out" / "report.html").read_text()
    shown = [int(n) for n in re.findall(r"<figcaption><b>Figure (\d+):</b>", html)]
    assert shown == list(range(1, html.count("<figure") + 1)) and len(shown) >= 12
    assert [int(n) for n in re.findall(r'<figure id="figure-(\d+)"', html)] == shown
    alts = re.findall(r'<figure id="figure-\d+"><img src="data:image/png;base64,[^"]*" alt="([^"]+)"', html)
    assert alts[0] == "priors" and alts.index("box_err_post_kinematics") < alts.index("posterior_kinematics") < \
        alts.index("sbc_kinematics") < alts.index("box_err_post_ballistics")
    assert "the paper's Figure 2)" in unescape(html) and "the paper's Figure 3)" in unescape(html)


QUICK_TITLES = ["INN (max likelihood)", "INN (L2 + MMD)", "conditional INN", "IAF + decoder", "MAF + decoder",
                "invertible ResNet", "invertible autoencoder", "autoencoder", "conditional VAE",
                "mixture density network", "rejection ABC, 1e4 simulations", "rejection ABC, 1e5 simulations",
                "MCMC on the likelihood (baseline)"]


def _wide_rows():
    """Results rows of the quick grid's twelve models and the longest model title, every number at its
    widest format, with the column of unrounded samples (ballistics)."""
    from innbench.benchmark.report import MAIN_COLUMNS

    row = {k: 9.87654 for k, _ in MAIN_COLUMNS}
    row.update(err_resim_continuous_mean=9.87654, inference_ms=763.4, dim_z=12, ml_loss=True, y_supervised=False,
               n_parameters=3_000_000, train_seconds=12345.6, n_observations=1000, seeds=1, paper_err_post=4.359,
               paper_err_resim=3.668, paper_inference_ms=763)
    return [{**row, "label": t, "model": t} for t in QUICK_TITLES]


def test_page_results_table_keeps_every_column_and_number():
    """The page splits the results table in two (the main one within 12 columns, the models' facts below);
    together they show every column of the .md table, once, with the .md's cells."""
    from innbench.benchmark.report import _caption, _html_results_tables, markdown_table

    rows = _wide_rows()
    caption, cols = _caption("ballistics", rows)
    assert len(cols) == 17  # the .md/.tex/.csv keep every column in one table
    main_t, facts = _html_results_tables(rows, cols, caption)
    assert len(main_t["headings"]) <= 12 and len(facts["headings"]) <= 7
    assert sum(span for _, span in main_t["groups"]) == len(main_t["headings"])
    assert [g for g, _ in main_t["groups"] if g] == ["Err_post", "Err_resim", "paper (Kruse et al. 2019)"]
    md = markdown_table(rows, cols).splitlines()
    md_heads = [h.strip() for h in md[0].strip("|").split("|")]
    md_cells = [[c.strip() for c in line.strip("|").split("|")] for line in md[2:]]
    by_heading = dict(zip(md_heads, zip(*md_cells, strict=True), strict=False))
    for t in (main_t, facts):
        assert [r[0] for r in t["rows"]] == QUICK_TITLES
    shown = main_t["rows"][0][1:] + facts["rows"][0][1:]
    assert len(shown) == len(cols) - 1  # nothing dropped, nothing twice
    assert sorted(shown) == sorted(md_cells[0][1:])
    assert main_t["rows"][0][main_t["headings"].index("mean unrounded")] == by_heading["Err_resim unrounded"][0]


def test_page_results_table_fits_1400_px_in_chromium(tmp_path):
    """The results table of 13 models (the quick grid's and the longest title) with every column at its
    widest number fits a 1,400 px window: no horizontal scrollbar on any table."""
    from playwright import sync_api as playwright

    from innbench.benchmark.report import _caption, _html_results_tables, render_page

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not chromium:  # scripts/setup.sh installs it; where apt failed it warned, and this test says why it skips
        pytest.skip("no Chromium: scripts/setup.sh installs Debian's chromium (see its warning if apt failed)")
    rows = _wide_rows()
    caption, cols = _caption("ballistics", rows)
    page_path = tmp_path / "page.html"
    page_path.write_text(render_page({
        "grid": "wide", "n_runs": 13, "version": "x", "generated": "now",
        "hardware": {"processor": "cpu", "cpu_count": 2, "torch_threads": 1},
        "sections": [{"title": "Results: ballistics", "tables": _html_results_tables(rows, cols, caption),
                      "figures": []}]}))
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_path.as_uri())
        widths = page.evaluate("Array.from(document.querySelectorAll('table')).map(t => [t.scrollWidth, "
                               "t.clientWidth, t.querySelector('tbody').getBoundingClientRect().width])")
        assert len(widths) == 2
        assert all(sw <= cw + 1 and inner <= 1400 - 2 * 16 for sw, cw, inner in widths), widths
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        # no number is cut: each fits its cell
        assert page.evaluate("Array.from(document.querySelectorAll('tbody td')).every(td => td.cellIndex === 0 || "
                             "td.scrollWidth <= td.clientWidth)")
        browser.close()


def test_ray_executor_runs_a_grid(tmp_path):
    import ray

    grid = load_grid(_write(tmp_path))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        counts = run_grid(grid, tmp_path / "r.db", executor="ray", progress=False, log=lambda *a: None)
    finally:
        ray.shutdown()
    assert counts["done"] == 2 and counts["failed"] == 0
    with ResultsDB(tmp_path / "r.db") as db:
        runs = db.runs()
        assert sorted(r["label"] for r in runs) == ["cvae", "mdn"]
        assert len(db.results([r["run_id"] for r in runs])) == 2 * 3
        # the cells ran in Ray worker processes, not in this one
        assert all(r["hardware"]["pid"] != __import__("os").getpid() for r in runs)


def _write(tmp_path):
    p = tmp_path / "g.toml"
    p.write_text('name = "ray"\nproblems = ["kinematics"]\nmodels = ["mdn", "cvae"]\npreset = "tiny"\n'
                 "observations = 3\nsamples = 200\ntiming_observations = 1\nc2st_observations = 0\n"
                 "noise_floor_observations = 1\nthreads = 1\n[budget]\nn_train = 2000\nn_batches = 20\n")
    return p
