"""The benchmark runner and its results database: grids, resume, concurrent writers, failures."""

import dataclasses
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from innbench.benchmark import ResultsDB, get_grid, load_grid, run_grid

TINY = """
name = "tiny"
problems = ["kinematics"]
models = ["mdn", "cvae"]
preset = "tiny"
observations = 4
samples = 300
timing_observations = 1
c2st_observations = 1
noise_floor_observations = 2
threads = 1
[budget]
n_train = 3000
n_batches = {batches}
"""


def tiny_config(tmp_path, batches=30, models=None, name="tiny.toml"):
    text = TINY.format(batches=batches)
    if models is not None:
        items = [m if m.startswith("{") else json.dumps(m) for m in models]  # names or TOML inline tables
        text = text.replace('models = ["mdn", "cvae"]', f"models = [{', '.join(items)}]")
    path = tmp_path / name
    path.write_text(text)
    return path


def quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="module")
def tiny_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench")
    grid = load_grid(tiny_config(d))
    counts = run_grid(grid, d / "r.db", progress=False, log=quiet)
    return d / "r.db", grid, counts


def test_grid_stores_runs_and_tidy_rows(tiny_db):
    path, _, counts = tiny_db
    assert counts == {"cells": 2, "done_before": 0, "busy": 0, "done": 2, "failed": 0}
    with ResultsDB(path) as db:
        runs = db.runs("tiny")
        assert sorted(r["label"] for r in runs) == ["cvae", "mdn"]
        for r in runs:
            assert r["status"] == "done" and r["innbench_version"] and r["torch_version"]
            assert r["n_parameters"] > 1000 and r["dim_z"] >= 1 and r["train_seconds"] > 0 and r["inference_ms"] > 0
            assert r["config"]["settings"]["budget"]["n_batches"] == 30 and r["config"]["name"] == "tiny"
            assert r["hardware"]["cpu_count"] >= 1 and r["facts"]["equation"]
        rows = db.results([r["run_id"] for r in runs])
        assert len(rows) == 2 * 4
        for row in rows:
            assert row["problem"] == "kinematics" and 0 <= row["obs_index"] < 4
            assert np.isfinite(row["err_post"]) and row["err_post"] > 0 and row["err_resim"] > 0
            ranks = json.loads(row["sbc_ranks"])
            assert len(ranks) == 4 and all(0 <= k <= row["sbc_draws"] == 300 for k in ranks)
            assert (row["c2st"] is not None) == (row["obs_index"] == 0) == (row["c2st_reference"] is not None)
        c2 = [row["c2st"] for row in rows if row["c2st"] is not None]
        assert all(0.3 <= c <= 1.0 for c in c2)
        # the C2ST floor (an independent reference draw) is the same for both models and near chance
        floors = {row["c2st_reference"] for row in rows if row["c2st_reference"] is not None}
        assert len(floors) == 1 and 0.35 <= floors.pop() <= 0.7
        # kinematics has no integer parameters: no separate unrounded Err_resim
        assert all(row["err_resim_continuous"] is None for row in rows)
        # showcase posteriors (the report's figures) are stored with the run, references per problem
        s = db.samples(runs[0]["run_id"])
        assert s["y0"][0] == [1.5, 0.0] and s["y0"][1].shape == (300, 4)
        assert db.references("kinematics")["y0"][1].shape == (300, 4)


def test_rerun_recomputes_nothing(tiny_db):
    path, grid, _ = tiny_db
    with ResultsDB(path) as db:
        before = {r["cell_key"]: (r["run_id"], r["finished_at"]) for r in db.runs()}
    counts = run_grid(grid, path, progress=False, log=quiet)
    assert counts["done"] == 0 and counts["done_before"] == 2
    with ResultsDB(path) as db:
        assert {r["cell_key"]: (r["run_id"], r["finished_at"]) for r in db.runs()} == before


def test_cell_keys_separate_budgets():
    a = get_grid("quick")
    b = get_grid("quick", observations=a.observations + 1)
    assert {c.key for c in a.cells()}.isdisjoint({c.key for c in b.cells()})
    assert len({c.key for c in a.cells()}) == len(a.cells())


def test_failing_cell_is_recorded_and_the_grid_goes_on(tmp_path):
    grid = load_grid(tiny_config(tmp_path, models=[
        "mdn", '{model = "rejection_abc", label = "abc-bad", options = {simulations = 0}}']))
    counts = run_grid(grid, tmp_path / "r.db", progress=False, log=quiet)
    assert counts["done"] == 1 and counts["failed"] == 1
    with ResultsDB(tmp_path / "r.db") as db:
        failed = db.runs(status="failed")
        assert len(failed) == 1 and "simulations" in failed[0]["error"]
        assert [r["label"] for r in db.runs()] == ["mdn"]


@pytest.mark.parametrize("text, match", [
    ("problems = ['kinematics']\nmodles = ['mdn']\n", "unknown keys"),
    ("problems = ['kinematics'\n", "not valid TOML"),
    ("problems = ['kinematics']\nmodels = ['nope']\n", "unknown name 'nope'"),
    ("problems = ['nowhere']\nmodels = ['mdn']\n", "nowhere"),
    ("models = [{model = 'mdn', options = {hiden = 3}}]\n", "unknown options"),
    ("observations = 0\n", "observations"),
    ("base = 'huge'\n", "base 'huge'"),
])
def test_bad_configs_are_named(tmp_path, text, match):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        grid = load_grid(path)
        run_grid(grid, tmp_path / "r.db", progress=False, log=quiet)
    assert not (tmp_path / "r.db").exists() or not ResultsDB(tmp_path / "r.db").runs(status="done")


def test_database_from_before_the_c2st_floor_is_upgraded(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                      "INSERT INTO meta VALUES ('schema_version', '1');"
                      "CREATE TABLE results (run_id INTEGER NOT NULL, problem TEXT NOT NULL, model TEXT NOT NULL,"
                      " label TEXT NOT NULL, seed INTEGER NOT NULL, obs_index INTEGER NOT NULL, y TEXT NOT NULL,"
                      " err_post REAL, err_resim REAL, err_resim_sq REAL, invalid_fraction REAL,"
                      " outside_support_fraction REAL, sbc_ranks TEXT, sbc_draws INTEGER, c2st REAL,"
                      " PRIMARY KEY (run_id, obs_index));"
                      "INSERT INTO results VALUES (1, 'kinematics', 'mdn', 'mdn', 0, 0, '[1, 0]', 0.1, 0.1, 0.01,"
                      " 0, 0, '[1, 2, 3, 4]', 10, 0.6);")
    con.close()
    with ResultsDB(path) as db:
        rows = db.results([1])
    assert rows[0]["err_post"] == 0.1 and rows[0]["c2st_reference"] is None
    assert rows[0]["err_resim_continuous"] is None  # a column added later, also upgraded in place


def test_corrupt_database_is_a_clear_error(tmp_path):
    path = tmp_path / "r.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="not a readable innbench results database"):
        ResultsDB(path)
    with pytest.raises(ValueError, match="no results database"):
        ResultsDB(tmp_path / "missing.db", create=False)


def _bench(config, db, *extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    # a shell starts background jobs with SIGINT ignored and children inherit that (Python then keeps
    # ignoring Ctrl-C); give the child the default disposition so the test behaves the same either way
    return subprocess.Popen([sys.executable, "-m", "innbench", "bench", "--config", str(config), "--db", str(db),
                             "--quiet", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _done(db):
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM runs WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        con.close()


def _wait_for(pred, proc, timeout=120):
    t0 = time.time()
    while not pred():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.2)


@pytest.mark.parametrize("sig, jobs", [(signal.SIGKILL, 1), (signal.SIGINT, 1), (signal.SIGINT, 2)])
def test_interrupted_run_resumes(tmp_path, sig, jobs):
    models = ["mdn", "cvae", "cinn"] + (["inn"] if jobs > 1 else [])
    config = tiny_config(tmp_path, batches=400, models=models)
    db = tmp_path / "r.db"
    proc = _bench(config, db, "--jobs", str(jobs))
    _wait_for(lambda: _done(db) >= 1, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    first = con.execute("SELECT cell_key, finished_at FROM runs WHERE status = 'done'").fetchall()
    n_rows = con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert n_rows == 4 * len(first)  # no half-written cell
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "run the same command again to resume" in err
        assert con.execute("SELECT COUNT(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    con.close()
    assert 1 <= len(first) < len(models)
    counts = run_grid(load_grid(config), db, progress=False, log=quiet)
    assert counts["done_before"] == len(first) and counts["done"] == len(models) - len(first)
    con = sqlite3.connect(db)
    finished = dict(con.execute("SELECT cell_key, finished_at FROM runs WHERE status = 'done'").fetchall())
    assert len(finished) == len(models) and all(finished[k] == t for k, t in first)  # not recomputed
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 4 * len(models)
    con.close()


def _proc(pid, name):
    with open(f"/proc/{pid}/{name}") as f:
        return f.read()


def _children(pid):
    """``{pid: command line}`` of the processes whose parent is ``pid`` (Linux /proc)."""
    found = {}
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and int(_proc(entry, "stat").rsplit(")", 1)[1].split()[1]) == pid:
                found[int(entry)] = _proc(entry, "cmdline").replace("\0", " ")
        except (OSError, IndexError, ValueError):
            pass  # gone meanwhile
    return found


def _running(pid):
    try:
        return _proc(pid, "stat").rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_end_with_a_killed_driver(tmp_path):
    # kill -9 the driver while its workers' bootstrap still imports torch, before their initializer runs: they
    # used to ask for a death signal only then, after the driver was gone, and went on to compute a whole cell
    config = tiny_config(tmp_path, batches=5000, models=["mdn", "cvae"])
    proc = _bench(config, tmp_path / "r.db", "--jobs", "2")
    workers = {}
    try:
        def loading_torch():
            workers.update({p: c for p, c in _children(proc.pid).items() if "spawn_main" in c})
            try:
                return len(workers) == 2 and all("libtorch" in _proc(p, "maps") for p in workers)
            except OSError:
                return False

        _wait_for(loading_torch, proc, timeout=60)
        others = _children(proc.pid)  # the resource tracker
        proc.kill()
        proc.wait()
        t0 = time.time()
        while any(_running(p) for p in {**workers, **others}) and time.time() - t0 < 10:
            time.sleep(0.05)
        assert not [p for p in {**workers, **others} if _running(p)], "processes outlived the killed driver"
    finally:
        proc.kill()
        for p in workers:
            if _running(p):
                os.kill(p, signal.SIGKILL)
        proc.communicate()  # after the workers: they hold the driver's output pipes


def test_two_processes_share_a_grid_and_lose_no_rows(tmp_path):
    models = ["mdn", "cvae", "cinn", "inn"]
    config = tiny_config(tmp_path, batches=150, models=models)
    db = tmp_path / "r.db"
    procs = [_bench(config, db), _bench(config, db)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    rows = con.execute("SELECT label, pid FROM runs WHERE status = 'done'").fetchall()
    assert sorted(r[0] for r in rows) == sorted(models)  # each cell exactly once
    assert con.execute("SELECT COUNT(*) FROM results").fetchone()[0] == 4 * len(models)
    assert len({r[1] for r in rows}) == 2  # both processes did work
    con.close()


def test_users_model_and_problem_get_leaderboard_rows(tmp_path, scratch_registries):
    from pathlib import Path

    from innbench.benchmark.report import build_report

    example = Path(__file__).parent.parent / "examples" / "leaderboard.toml"
    grid = load_grid(example)  # the documented example resolves its plugin file and names
    grid.check_names()
    assert {c.describe() for c in grid.cells()} >= {"kinematics/gaussian_regression/seed0", "noisy_sum/mdn/seed0"}
    config = tiny_config(tmp_path, models=["gaussian_regression", "mdn"])
    plugin = example.parent / "leaderboard_plugin.py"
    text = config.read_text().replace('name = "tiny"', f'name = "lb"\nimports = ["{plugin}"]')
    text = text.replace("[budget]", 'extra = [{problem = "noisy_sum", model = "gaussian_regression"}]\n[budget]')
    config.write_text(text)
    counts = run_grid(load_grid(config), tmp_path / "r.db", progress=False, log=quiet)
    assert counts["done"] == 3 and counts["failed"] == 0
    res = build_report(tmp_path / "r.db", tmp_path / "out")
    md = (tmp_path / "out" / "table_kinematics.md").read_text()
    assert "Gaussian regression (plugin)" in md and "mixture density network" in md
    assert "Gaussian regression (plugin)" in (tmp_path / "out" / "table_noisy_sum.md").read_text()
    assert res["html"].exists()
    # the user's problem gets a posterior figure (the generic corner plot) and calibration figures too
    html = res["html"].read_text()
    for fig in ("posterior_noisy_sum", "sbc_noisy_sum", "coverage_noisy_sum"):
        assert (tmp_path / "out" / "figures" / f"{fig}.png").exists() and f'alt="{fig}"' in html


def test_cli_lists_cells_and_names_bad_arguments(tmp_path, capsys):
    from innbench.cli import main

    assert main(["bench", "--preset", "quick", "--list", "--db", str(tmp_path / "r.db")]) == 0
    cells = capsys.readouterr().out.split()
    # both paper problems x (the paper's ten + ABC at two budgets); the mixture left the quick grid (issue 11)
    assert len(cells) == 2 * 12 and "kinematics/cinn/seed0" in cells and not any("gaussian" in c for c in cells)
    assert "ballistics/rejection_abc@1e5/seed0" in cells
    assert main(["bench", "--preset", "quick", "--models", "cinn", "mdn", "--problems", "ballistics",
                 "--seeds", "0", "1", "--list"]) == 0
    assert capsys.readouterr().out.split() == ["ballistics/cinn/seed0", "ballistics/mdn/seed0",
                                               "ballistics/cinn/seed1", "ballistics/mdn/seed1"]
    assert main(["bench", "--preset", "huge", "--list"]) == 2
    assert "unknown grid 'huge'" in capsys.readouterr().err
    assert main(["bench", "--preset", "quick", "--models", "nope", "--list"]) == 2
    assert "['nope'] are not in grid 'quick'" in capsys.readouterr().err
    assert main(["bench", "--preset", "quick", "--config", str(tmp_path / "x.toml")]) == 2
    assert "give one of them" in capsys.readouterr().err
    assert main(["bench", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_default_grid_is_the_papers_protocol_at_benchmark_scale():
    """The README's benchmark: the paper's ten models on both paper problems, 500 test observations x 4000
    samples against exact references, one training budget and parameter target for every model."""
    from innbench.benchmark.config import PAPER_MODELS

    grid = get_grid("default")
    cells = grid.cells()
    for problem in ("kinematics", "ballistics"):
        labels = {c.spec.label for c in cells if c.problem == problem}
        assert set(PAPER_MODELS) | {"flow_matching", "latent_mixture_inn", "rejection_abc@1e5"} == labels
    # the 8-mode mixture (all and some labels) for the latent-mixture INN, next to the cINN
    mixture = {(c.problem, c.spec.label) for c in cells if c.problem.startswith("gaussian_modes")}
    assert mixture == {(p, m) for p in ("gaussian_modes", "gaussian_modes_some")
                       for m in ("cinn", "latent_mixture_inn")}
    budgets = {json.dumps(c.settings["budget"], sort_keys=True) for c in cells if c.spec.model != "rejection_abc"}
    assert len(budgets) == 1
    budget = json.loads(budgets.pop())
    assert budget["n_batches"] == 4000 and budget["batch_size"] == 512 and budget["params"] == 100_000
    s = cells[0].settings
    assert s["observations"] >= 500 and s["samples"] == 4000


def test_a_database_of_another_innbench_version_is_refused_before_any_work(tmp_path):
    """Cell keys carry the innbench and problem versions; a database holding this grid's cells from another
    version is refused with a clear message instead of mixing two codes' results in one table."""
    from innbench import __version__
    from innbench.problems import get_problem

    grid = load_grid(tiny_config(tmp_path))
    cells = grid.cells()
    assert all(dict(c.versions) == {"innbench": __version__, "problem": get_problem(c.problem).version} for c in cells)
    older = [dataclasses.replace(c, versions=(("innbench", "0.0.1"), *c.versions[1:])) for c in cells]
    assert {c.key for c in older}.isdisjoint(c.key for c in cells)
    db = tmp_path / "r.db"
    run_grid(grid, db, progress=False, log=quiet)
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET innbench_version = '0.0.1', cell_key = 'old-' || cell_key")
    con.commit()
    con.close()
    with pytest.raises(ValueError, match=r"holds \d+ finished cells of grid 'tiny' made by innbench 0.0.1"):
        run_grid(grid, db, progress=False, log=quiet)
