"""Faults and bad input replayed as a careless user or script would make them (issue 13).

Every case asserts what a user relies on: exit code 2 with ``innbench: error:`` naming the argument and
no traceback; earlier files byte-identical; no temporary files left behind; nothing written to a
database that is not innbench's. A full disk is simulated by making the writer fail halfway.
"""

import errno
import hashlib
import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from innbench.cli import main

TINY_GRID = """
name = "faults"
problems = ["linear"]
models = ["mdn"]
preset = "tiny"
observations = 3
samples = 200
timing_observations = 0
c2st_observations = 0
noise_floor_observations = 1
threads = 1
[budget]
n_train = 2000
n_batches = 20
"""


def fails(argv, capsys, *needles):
    """Run the CLI; assert a clean ``innbench: error:`` (exit 2, no traceback) containing ``needles``."""
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "innbench: error:" in err.split("\r")[-1] and "Traceback" not in err, err  # after any progress bar
    for needle in needles:
        assert needle in err, err
    return err


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stray(directory: Path) -> list[str]:
    """Temporary files or directories of ours left in ``directory`` (recursively)."""
    return [str(p) for p in directory.rglob("*") if p.name.endswith(".tmp") or p.name.endswith(".old")]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults") / "lin-mdn"
    assert main(["train", "--problem", "linear", "--model", "mdn", "--preset", "tiny", "--batches", "30",
                 "--out", str(d), "--quiet"]) == 0
    return d


@pytest.fixture
def disk_full_after(monkeypatch):
    """Make every text or bytes write of a file write half its content and then fail with ENOSPC."""

    def patch():
        real_text, real_bytes = Path.write_text, Path.write_bytes

        def half_text(self, data, *a, **k):
            real_text(self, data[: len(data) // 2], *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")

        def half_bytes(self, data, *a, **k):
            real_bytes(self, data[: len(data) // 2], *a, **k)
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(Path, "write_text", half_text)
        monkeypatch.setattr(Path, "write_bytes", half_bytes)

    return patch


# -- 1. data loss ---------------------------------------------------------------------------------

def test_full_disk_keeps_the_earlier_evaluation_json(model_dir, tmp_path, capsys, disk_full_after):
    js = tmp_path / "eval.json"
    args = ["evaluate", "--model-path", str(model_dir), "--num-observations", "2", "--n", "200",
            "--timing-observations", "1", "--c2st-observations", "0", "--json", str(js)]
    assert main(args) == 0
    before = digest(js)
    json.loads(js.read_text())
    capsys.readouterr()
    disk_full_after()
    fails(args, capsys, "--json: cannot write", "No space left on device", "previous file is unchanged")
    assert digest(js) == before and stray(tmp_path) == []


def test_interrupted_save_keeps_the_earlier_model(model_dir, tmp_path, capsys, disk_full_after):
    import shutil

    from innbench import api

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    before = {p.name: digest(p) for p in d.iterdir()}
    disk_full_after()  # the config.json write fails after weights.pt was written
    fails(["train", "--problem", "linear", "--model", "mdn", "--preset", "tiny", "--batches", "5", "--out", str(d),
           "--quiet"], capsys, "out: cannot write", "previous directory is unchanged")
    assert {p.name: digest(p) for p in d.iterdir()} == before and stray(tmp_path) == []
    assert api.load(d).sample([[0.5]], 10).shape == (1, 10, 2)


def test_model_directory_with_other_files_is_not_replaced(tmp_path, capsys):
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("keep me")
    fails(["train", "--problem", "linear", "--model", "mdn", "--preset", "tiny", "--out", str(d)], capsys,
          "out:", "notes.txt", "not ours to replace")
    assert (d / "notes.txt").read_text() == "keep me" and sorted(p.name for p in d.iterdir()) == ["notes.txt"]


def test_reference_pair_is_written_together(tmp_path, capsys, disk_full_after):
    out = tmp_path / "ref.npy"
    args = ["reference", "--problem", "linear", "--observations", "1.0;2.0", "--n", "300", "--out", str(out)]
    assert main(args) == 0
    prov = json.loads((tmp_path / "ref.npy.json").read_text())
    assert prov["sha256"] == digest(out) and prov["shape"] == [2, 300, 2] and prov["samples_file"] == "ref.npy"
    before = (digest(out), digest(tmp_path / "ref.npy.json"))
    capsys.readouterr()
    disk_full_after()  # the provenance write fails: neither file changes
    fails(args[:-2] + ["--seed", "7", "--out", str(out)], capsys, "--out: cannot write")
    assert (digest(out), digest(tmp_path / "ref.npy.json")) == before and stray(tmp_path) == []


@pytest.mark.parametrize("command", ["sample", "reference", "evaluate-json", "observations"])
def test_output_that_is_a_directory_fails_before_any_work(model_dir, tmp_path, capsys, command):
    target = tmp_path / "adir"
    target.mkdir()
    argv = {"sample": ["sample", "--model-path", str(model_dir), "--observations", "0.5", "--out", str(target)],
            "reference": ["reference", "--problem", "linear", "--observations", "0.5", "--out", str(target)],
            "evaluate-json": ["evaluate", "--model-path", str(model_dir), "--json", str(target)],
            "observations": ["observations", "--problem", "linear", "--out", str(target)]}[command]
    fails(argv, capsys, "is a directory")
    assert list(target.iterdir()) == [] and stray(tmp_path) == []


def test_outputs_under_a_file_are_named(model_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    fails(["sample", "--model-path", str(model_dir), "--observations", "0.5", "--out", str(blocker / "s.npy")],
          capsys, "--out: cannot create", "is a file")
    fails(["bench", "--config", str(_grid(tmp_path)), "--db", str(blocker / "r.db"), "--quiet"], capsys,
          "db: cannot create")
    fails(["report", "--db", str(tmp_path / "none.db"), "--out", str(blocker / "rep")], capsys, "out: cannot create")
    assert blocker.read_text() == "x"


# -- 2. timing_observations = 0 ----------------------------------------------------------------------

def test_no_timing_runs_every_cell_and_writes_the_json(model_dir, tmp_path, capsys):
    assert main(["bench", "--config", str(_grid(tmp_path, models='["mdn", "cvae"]')), "--db", str(tmp_path / "r.db"),
                 "--quiet"]) == 0
    from innbench.benchmark import ResultsDB

    with ResultsDB(tmp_path / "r.db") as db:
        runs = db.runs()
    assert len(runs) == 2 and all(r["status"] == "done" and r["inference_ms"] is None for r in runs)
    js = tmp_path / "e.json"
    assert main(["evaluate", "--model-path", str(model_dir), "--num-observations", "2", "--n", "100",
                 "--timing-observations", "0", "--c2st-observations", "0", "--json", str(js)]) == 0
    assert "not timed" in capsys.readouterr().out and json.loads(js.read_text())["summary"]["inference_ms"] is None
    fails(["evaluate", "--model-path", str(model_dir), "--timing-observations", "-1"], capsys,
          "--timing-observations: expected an integer >= 0")


# -- 3. meaningless results ----------------------------------------------------------------------------

@pytest.mark.parametrize("y", ["1,1e6", "1,1e39", "2.5,0"])
def test_unreachable_kinematics_targets_are_refused_everywhere(tmp_path, capsys, y):
    d = tmp_path / "k"
    assert main(["train", "--problem", "kinematics", "--model", "mdn", "--preset", "tiny", "--batches", "2",
                 "--out", str(d), "--quiet"]) == 0
    for argv in (["sample", "--model-path", str(d), "--observations", y, "--out", str(tmp_path / "s.npy")],
                 ["evaluate", "--model-path", str(d), "--observations", y],
                 ["reference", "--problem", "kinematics", "--observations", y, "--out", str(tmp_path / "r.npy")]):
        fails(argv, capsys, "out of reach")
    assert not (tmp_path / "s.npy").exists() and not (tmp_path / "r.npy").exists()


@pytest.mark.parametrize("y", ["1e39", "-1e20", "1e5"])
def test_observations_far_outside_the_training_data_are_refused(model_dir, tmp_path, capsys, y):
    """The linear problem reaches every y, but a model has seen only its training observations: far outside
    them it is refused (the MDN's mixture weights would overflow), in sample and evaluate alike."""
    fails(["sample", "--model-path", str(model_dir), f"--observations={y}", "--out", str(tmp_path / "s.npy")],
          capsys, "standard deviations from the observations the model was trained on")
    fails(["evaluate", "--model-path", str(model_dir), f"--observations={y}", "--n", "100"], capsys,
          "standard deviations")
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("y", ["1000", "1e200", "-40"])
def test_impossible_ballistics_impacts_are_refused(tmp_path, capsys, y):
    fails(["reference", "--problem", "ballistics", "--observations", y, "--out", str(tmp_path / "r.npy")], capsys,
          "out of reach")


def test_degenerate_references_are_refused(monkeypatch):
    from innbench import api
    from innbench.problems import ObservationError, get_problem

    p = get_problem("ballistics")

    def one_distinct_draw(y, n, rng, **kw):
        return np.zeros((len(y), n, 4)), {"method": "exact-importance", "ess": np.ones(len(y))}

    monkeypatch.setattr(p, "exact_posterior", one_distinct_draw)
    with pytest.raises(ObservationError, match="degenerate exact reference posterior .effective sample size 1 < 1000"):
        api.reference(p, [[5.0]], n=4000, cache=False)


@pytest.mark.parametrize("extra, message", [
    (["--batches", "0"], "--batches: expected a positive integer"),
    (["--batches", "-5"], "--batches: expected a positive integer"),
    (["--lr", "0"], "--lr: expected a number > 0"),
    (["--set", "blocks=0"], "blocks: expected a positive integer, got 0"),
    (["--set", "hidden=-5"], "hidden: expected a positive integer"),
    (["--set", "blocks=abc"], "blocks: expected a positive integer, got 'abc'"),
    (["--set", "blocks=2.5"], "blocks: expected a positive integer, got 2.5"),
    (["--set", "y_noise=abc"], "y_noise: expected a finite number"),
    (["--set", "hidden=1000000000"], "hidden: expected at most 65,536"),
    (["--params", "0"], "--params: expected a positive integer"),
])
def test_training_settings_are_checked_and_nothing_is_saved(tmp_path, capsys, extra, message):
    out = tmp_path / "m"
    fails(["train", "--problem", "kinematics", "--model", "cinn", "--preset", "tiny", "--out", str(out), *extra],
          capsys, message)
    assert not out.exists()


def test_grid_budget_is_checked_before_any_cell(tmp_path, capsys):
    text = TINY_GRID.replace("n_batches = 20", "n_batches = -10")
    (tmp_path / "g.toml").write_text(text)
    fails(["bench", "--config", str(tmp_path / "g.toml"), "--db", str(tmp_path / "r.db")], capsys,
          "n_batches: expected a positive integer, got -10")
    assert not (tmp_path / "r.db").exists()


def test_model_of_another_problem_version_is_refused(model_dir, tmp_path, capsys):
    import shutil

    d = tmp_path / "old"
    shutil.copytree(model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "problem_version": "999"}))
    fails(["sample", "--model-path", str(d), "--observations", "0.5", "--out", str(tmp_path / "s.npy")], capsys,
          "model_path:", "trained on version", "train the model again")
    (d / "config.json").write_text(json.dumps({**cfg, "innbench_version": "0.0.1"}))
    assert main(["sample", "--model-path", str(d), "--observations", "0.5", "--out", str(tmp_path / "s.npy")]) == 0
    assert "innbench: warning: model_path:" in capsys.readouterr().err  # loads, with a warning


# -- 4. foreign databases ---------------------------------------------------------------------------

@pytest.mark.parametrize("schema", ["CREATE TABLE people (name TEXT)", "CREATE TABLE runs (id INTEGER, what TEXT)",
                                    "CREATE TABLE meta (key TEXT, value TEXT)"])
def test_foreign_sqlite_files_are_never_written(tmp_path, capsys, schema):
    db = tmp_path / "theirs.db"
    con = sqlite3.connect(db)
    two = "id" in schema or "key" in schema
    values = "('schema_version', '1')" if "meta" in schema else "('a', 'b')" if two else "('a')"
    con.executescript(schema + "; INSERT INTO " + schema.split()[2] + " VALUES " + values)
    con.close()
    before = digest(db)
    fails(["report", "--db", str(db), "--out", str(tmp_path / "rep")], capsys, "not an innbench results database",
          "was not modified")
    fails(["bench", "--config", str(_grid(tmp_path)), "--db", str(db), "--quiet"], capsys,
          "not an innbench results database")
    assert digest(db) == before and sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("theirs")) == [
        "theirs.db"]  # no -wal or -shm file either
    assert not (tmp_path / "rep").exists()


def test_report_reads_without_writing(tmp_path, capsys):
    assert main(["bench", "--config", str(_grid(tmp_path)), "--db", str(tmp_path / "r.db"), "--quiet"]) == 0
    con = sqlite3.connect(tmp_path / "r.db")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = digest(tmp_path / "r.db")
    assert main(["report", "--db", str(tmp_path / "r.db"), "--out", str(tmp_path / "rep")]) == 0
    assert digest(tmp_path / "r.db") == before


# -- 5. and 6. tracebacks, late checks, misleading messages -------------------------------------------

@pytest.mark.parametrize("config, message", [
    ({"config": [1, 2]}, "is corrupt"),
    ({"model": ["cinn"]}, "is corrupt"),
    ({"config": {"hidden": 10**12}}, "invalid model configuration (hidden: expected at most"),
    ({"config": {"components": "many"}}, "invalid model configuration (components: expected a positive integer"),
])
def test_corrupt_config_json_is_named(model_dir, tmp_path, capsys, config, message):
    import shutil

    d = tmp_path / "bad"
    shutil.copytree(model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    for k, v in config.items():
        cfg[k] = {**cfg["config"], **v} if k == "config" and isinstance(v, dict) else v
    (d / "config.json").write_text(json.dumps(cfg))
    fails(["sample", "--model-path", str(d), "--observations", "0.5", "--out", str(tmp_path / "s.npy")], capsys,
          "model_path:", message)


def test_huge_requests_are_refused_up_front(model_dir, tmp_path, capsys):
    fails(["sample", "--model-path", str(model_dir), "--observations", "0.5", "--n", str(10**12), "--out",
           str(tmp_path / "s.npy")], capsys, "n: 1 observations x 1,000,000,000,000 samples need about", "GB")
    fails(["observations", "--problem", "linear", "--n", str(10**12), "--out", str(tmp_path / "o.npy")], capsys,
          "n: 1,000,000,000,000 test observations need about")
    fails(["reference", "--problem", "linear", "--observations", "0.5", "--n", str(10**12), "--out",
           str(tmp_path / "r.npy")], capsys, "reference samples need about")


@pytest.mark.parametrize("line, message", [
    ('problems = "linear"', "problems: expected a list"),
    ('models = "mdn"', "models: expected a list"),
    ("budget = 5", "budget: expected a table"),
    ("timing_observations = -1", "timing_observations: expected an integer >= 0"),
    ("threads = 0", "threads: expected a positive integer"),
    ("seeds = [true]", "seeds: expected a non-empty list"),
    ("observations = 2.5", "observations: expected a positive integer"),
])
def test_grid_file_types_are_named(tmp_path, capsys, line, message):
    key = line.split()[0]
    text = "\n".join(ln for ln in TINY_GRID.splitlines() if not ln.startswith(key + " ") and not (
        key == "budget" and (ln.startswith("[budget]") or ln.startswith("n_"))))
    (tmp_path / "g.toml").write_text(line + "\n" + text)
    fails(["bench", "--config", str(tmp_path / "g.toml"), "--db", str(tmp_path / "r.db")], capsys, message)
    assert not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("argv, message", [
    (["bench", "--preset", "quick", "--threads", "-1", "--list"], "--threads: expected a positive integer"),
    (["bench", "--preset", "quick", "--jobs", "0", "--list"], "--jobs: expected a positive integer"),
    (["reference", "--problem", "linear", "--observations", "0.5", "--method", "abc", "--pool-size", "0",
      "--out", "r.npy"], "--pool-size: expected a positive integer"),
    (["sample", "--model-path", "nowhere", "--observations", "0.5", "--out", "s.npy"], "model_path"),
    (["reference", "--problem", "linear", "--observations", "", "--out", "r.npy"], "--observations: empty"),
    (["reference", "--problem", "nope", "--observations", "1", "--out", "r.npy"], "problem: unknown name 'nope'"),
])
def test_command_line_values_are_named(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    fails(argv, capsys, message)
    assert list(tmp_path.iterdir()) == []


def test_a_simulator_that_almost_never_works_is_named():
    import innbench
    from innbench import api

    p = innbench.SimulatorProblem("mostly_nan", x_names=["a"], y_names=["b"],
                                  prior=lambda n, rng: rng.normal(size=(n, 1)),
                                  simulator=lambda x, rng: np.where(x > 3.5, x, np.nan))
    with pytest.raises(ValueError, match="prior draws gave no valid observation"):
        p.simulate(10_000, np.random.default_rng(0))
    with pytest.raises(ValueError, match="mostly_nan"):
        api.reference(p, [[4.0]], n=100, method="abc", cache=False)


# -- 7. the reference cache ---------------------------------------------------------------------------

def test_cache_file_of_the_wrong_shape_is_recomputed(tmp_cache):
    from innbench import api

    good, _ = api.reference("linear", [[0.5]], n=500)
    (f,) = (tmp_cache / "references").glob("*.npz")
    with np.load(f) as z:
        prov = str(z["provenance"])
    np.savez(f, samples=np.zeros((1, 10, 2)), provenance=np.array(prov))  # readable, wrong shape
    again, _ = api.reference("linear", [[0.5]], n=500)
    np.testing.assert_array_equal(again, good)


# -- 8. minor -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -3, True, 2.5])
def test_counts_reject_bools_floats_and_nonpositive(n):
    from innbench import api

    with pytest.raises(ValueError, match="n: expected a positive integer"):
        api.reference("linear", [[0.5]], n=n)


def test_failed_commands_leave_no_empty_directories(tmp_path, capsys):
    fails(["train", "--problem", "linear", "--model", "nope", "--preset", "tiny", "--out", str(tmp_path / "m")],
          capsys, "model: unknown name")
    fails(["report", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path / "rep")], capsys)
    assert list(tmp_path.iterdir()) == []


def _grid(tmp_path, models='["mdn"]') -> Path:
    p = tmp_path / "grid.toml"
    p.write_text(TINY_GRID.replace('models = ["mdn"]', f"models = {models}"))
    return p


# -- issue 33: outputs whole or not at all, directories replaced as a whole -------------------------------

@pytest.fixture
def savefig_fails_after(monkeypatch):
    """Make matplotlib's ``savefig`` write half a file and fail with ENOSPC from its ``k``-th call on."""
    import matplotlib.figure

    real = matplotlib.figure.Figure.savefig

    def patch(k: int):
        calls = {"n": 0}

        def savefig(self, fname, *a, **kw):
            calls["n"] += 1
            if calls["n"] < k:
                return real(self, fname, *a, **kw)
            Path(fname).write_bytes(b"\x89PNG half")
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)

    return patch


def _tree(directory: Path) -> dict:
    return {str(p.relative_to(directory)): digest(p) for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_failed_report_leaves_the_earlier_report_whole(tmp_path, capsys, savefig_fails_after):
    """A full disk halfway through ``report`` over an earlier report: exit 2, and every file of the earlier
    report byte-identical (never a mix of the new database's tables with the old page), nothing stray."""
    assert main(["bench", "--config", str(_grid(tmp_path)), "--db", str(tmp_path / "r.db"), "--quiet"]) == 0
    rep = tmp_path / "rep"
    assert main(["report", "--db", str(tmp_path / "r.db"), "--out", str(rep)]) == 0
    before = _tree(rep)
    assert "report.html" in before and "summary.json" in before and any(k.startswith("figures/") for k in before)
    capsys.readouterr()
    savefig_fails_after(2)
    fails(["report", "--db", str(tmp_path / "r.db"), "--out", str(rep)], capsys, "out: cannot write",
          "No space left on device", "previous directory is unchanged")
    assert _tree(rep) == before and stray(tmp_path) == []
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary report directory


def test_a_report_never_replaces_a_directory_holding_other_files(tmp_path, capsys):
    assert main(["bench", "--config", str(_grid(tmp_path)), "--db", str(tmp_path / "r.db"), "--quiet"]) == 0
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    fails(["report", "--db", str(tmp_path / "r.db"), "--out", str(mine)], capsys, "out:", "not ours to replace",
          "thesis.tex")
    assert [p.name for p in mine.iterdir()] == ["thesis.tex"]


def test_evaluation_figures_are_whole_or_absent_and_checked_before_the_evaluation(model_dir, tmp_path, capsys,
                                                                                    savefig_fails_after):
    args = ["evaluate", "--model-path", str(model_dir), "--num-observations", "2", "--n", "200",
            "--timing-observations", "0", "--c2st-observations", "0"]
    a_file = tmp_path / "figs.png"
    a_file.write_text("not a directory")
    fails(args + ["--figures", str(a_file)], capsys, "--figures:", "not a directory")
    figs = tmp_path / "figs"
    savefig_fails_after(2)
    fails(args + ["--figures", str(figs)], capsys, "--figures: cannot write", "No space left on device")
    written = sorted(p.name for p in figs.iterdir())
    assert written == ["posterior.png"] and stray(tmp_path) == []  # the first whole, the second absent
    assert (figs / "posterior.png").read_bytes()[:4] == b"\x89PNG" and (figs / "posterior.png").stat().st_size > 5000


# -- issue 33: one database, one innbench version and one schema, for report as for bench ---------------------

def _finished_grid(tmp_path) -> Path:
    db = tmp_path / "r.db"
    assert main(["bench", "--config", str(_grid(tmp_path)), "--db", str(db), "--quiet"]) == 0
    return db


def test_runs_of_two_versions_are_never_reported_or_extended_together(tmp_path, capsys):
    """A grid whose runs were made by another innbench version: a new label added to it is refused by bench
    (not only the cells it would repeat), and report refuses to average the two versions into one row."""
    db = _finished_grid(tmp_path)
    con = sqlite3.connect(db)
    con.execute("UPDATE runs SET innbench_version = '0.1.0', cell_key = 'old-' || cell_key")
    con.commit()
    con.close()
    wider = _grid(tmp_path, models='["mdn", "cvae"]')  # a new label: no cell of the old version is repeated
    fails(["bench", "--config", str(wider), "--db", str(db), "--quiet"], capsys, "made by innbench 0.1.0",
          "use a new --db")
    con = sqlite3.connect(db)
    assert con.execute("SELECT COUNT(*), MIN(innbench_version) FROM runs").fetchone() == (1, "0.1.0")
    con.execute("INSERT INTO runs (cell_key, grid, problem, label, model, seed, status, innbench_version) "
                "SELECT 'new-' || cell_key, grid, problem, label, model, seed + 1, status, '9.9.9' FROM runs")
    con.commit()
    con.close()
    fails(["report", "--db", str(db), "--out", str(tmp_path / "rep")], capsys, "made by innbench 0.1.0, 9.9.9")
    assert not (tmp_path / "rep").exists()


def test_a_database_of_an_unknown_schema_is_refused_by_report_too(tmp_path, capsys):
    db = _finished_grid(tmp_path)
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '3' WHERE key = 'schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = digest(db)
    for argv in (["report", "--db", str(db), "--out", str(tmp_path / "rep")],
                 ["bench", "--config", str(_grid(tmp_path)), "--db", str(db), "--quiet"]):
        fails(argv, capsys, "has schema version 3", "made by a newer innbench")
    assert digest(db) == before and not (tmp_path / "rep").exists()


def test_a_database_locked_past_the_timeout_is_a_clear_error_and_the_rerun_continues(tmp_path, capsys,
                                                                                      monkeypatch):
    """Another process holds the database's write lock: bench waits the busy timeout, then ends with a clear
    error naming the database (no raw sqlite3 error); once the lock is gone the same command finishes."""
    from innbench.benchmark.db import ResultsDB

    db = tmp_path / "r.db"
    ResultsDB(db).close()  # an empty innbench database
    monkeypatch.setattr(ResultsDB, "busy_timeout", 0.5)
    holder = sqlite3.connect(db, isolation_level=None)
    argv = ["bench", "--config", str(_grid(tmp_path)), "--db", str(db), "--quiet"]
    holder.execute("BEGIN IMMEDIATE")  # locked before bench opens it
    fails(argv, capsys, f"db: cannot open {str(db)!r}: another process holds it locked",
          "continues where this one stopped")
    holder.execute("ROLLBACK")
    real_store = ResultsDB.store

    def store_under_a_lock(self, cell, result):  # locked by another process while the cell trained
        holder.execute("BEGIN IMMEDIATE")
        return real_store(self, cell, result)

    monkeypatch.setattr(ResultsDB, "store", store_under_a_lock)
    try:
        fails(argv, capsys, f"db: cannot write {str(db)!r}: another process holds it locked")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    monkeypatch.setattr(ResultsDB, "store", real_store)
    assert main(argv) == 0
    with ResultsDB(db, create=False) as r:
        assert [run["status"] for run in r.runs("faults")] == ["done"]


@pytest.mark.parametrize("n", ["1000000000000", "99999999999999999999"])
def test_simulation_budgets_that_cannot_fit_are_refused_before_simulating(tmp_path, capsys, n):
    """One memory estimate for every simulation budget (train and bench alike): refused with the numbers,
    before anything is simulated or written (the kernel's out-of-memory killer used to end it)."""
    fails(["train", "--problem", "linear", "--model", "mdn", "--simulations", n, "--out", str(tmp_path / "m"),
           "--quiet"], capsys, "simulations:", f"{int(n):,} simulations of problem 'linear'", "GB of memory")
    fails(["bench", "--config", str(_grid(tmp_path)), "--simulations", n, "--db", str(tmp_path / "r.db"),
           "--quiet"], capsys, "simulations:", "GB of memory")
    assert not (tmp_path / "m").exists() and not (tmp_path / "r.db").exists()


@pytest.mark.parametrize("model", ["nle", "mcmc"])
def test_walkers_the_sampler_cannot_use_are_refused_at_train_and_the_fewest_accepted_sample(model, tmp_path,
                                                                                           capsys):
    """An option accepted at train must work at sample: fewer walkers than the ensemble sampler needs are
    refused up front (they used to fail only at sampling time, "low >= high", and in the explorer as a 500)."""
    base = ["train", "--problem", "two_moons", "--model", model, "--simulations", "100", "--max-epochs", "1",
            "--quiet", "--set", "burn=100", "--set", "pilot=100", "--set", "init_draws=1000"]
    fails(base + ["--set", "walkers=3", "--out", str(tmp_path / "bad")], capsys, "walkers: the ensemble sampler "
          "needs at least 4 walkers")
    assert not (tmp_path / "bad").exists()
    assert main(base + ["--set", "walkers=4", "--out", str(tmp_path / "ok")]) == 0
    assert main(["sample", "--model-path", str(tmp_path / "ok"), "--observations", "0.1,0.1", "--n", "40",
                 "--out", str(tmp_path / "s.npy")]) == 0
    assert np.load(tmp_path / "s.npy").shape == (1, 40, 2)


def test_messages_name_the_observation_kind_in_good_english_and_show_a_few_values():
    from innbench.problems import ObservationError, get_problem

    with pytest.raises(ObservationError) as info:
        get_problem("epidemic").validate_observations(np.full((1, 5, 2), 1.0))
    assert "are not series of problem 'epidemic': expected 80 complete steps" in str(info.value)
    with pytest.raises(ObservationError) as info:
        get_problem("epidemic").validate_observations(np.full((1, 160), -1.0))
    assert "(160 values)" in str(info.value) and len(str(info.value)) < 400


@pytest.mark.parametrize("name", ["cinn", "nsf", "mdn", "maf", "iaf", "latent_mixture_inn"])
def test_log_prob_far_from_the_data_is_minus_infinity_not_nan(name):
    """Every model with a density: a point beyond float32's range or 10^6 standard deviations away has a log
    density of -inf (it used to be NaN for 1e300); nearby points keep their finite value."""
    from innbench.models import build_model

    m = build_model(name, "linear")
    near = np.array([[0.1, 0.2]])
    lp = m.log_prob(np.array([[1e300, 0.1], [0.1, 0.2], [1e30, 0.0], [0.0, -1e7]]), [[0.1]])
    assert np.isneginf(lp[[0, 2, 3]]).all() and np.isfinite(lp[1])
    # the same point alone: equal up to float32 rounding (another batch size may take another BLAS path)
    assert lp[1] == pytest.approx(m.log_prob(near, [[0.1]])[0], rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("args, named", [
    (["--model", "mdn", "--set", "components=1000000000"], "components=1000000000: model 'mdn'"),
    (["--model", "mdn", "--set", "members=1000000"], "members=1000000: model 'mdn'"),
    (["--model", "cinn", "--set", "blocks=3", "--set", "members=100000000"], "blocks=3, members=100000000"),
    (["--model", "mdn", "--params", "100000000000"], "params: 100,000,000,000 parameters"),
])
def test_model_sizes_that_cannot_fit_are_refused_before_allocating(tmp_path, capsys, args, named):
    """One size guard for every size-like option: the model's tensors are sized on the meta device before
    they are made, and a model whose weights, gradients and optimizer state pass the available memory is
    refused with the numbers (these used to end in allocation errors or the out-of-memory killer)."""
    fails(["train", "--problem", "linear", *args, "--out", str(tmp_path / "m"), "--quiet"], capsys, named,
          "GB", "memory")
    assert not (tmp_path / "m").exists()


@pytest.fixture
def two_gigabytes(monkeypatch):
    """A machine with 2 GB of memory available."""
    import innbench.runtime

    monkeypatch.setattr(innbench.runtime, "available_memory", lambda: 2 * 10**9)


@pytest.mark.parametrize("name, options", [
    ("cinn", {"hidden": 16384}), ("cinn", {"blocks": 40, "hidden": 4096}), ("mdn", {"layers": 600, "hidden": 2048}),
    ("nsf", {"hidden": 8192}), ("cvae", {"hidden": 16384}), ("flow_matching", {"hidden": 16384}),
    ("inn", {"hidden": 16384}), ("cinn", {"summary_hidden": 16384}),
])
def test_every_kind_of_network_is_sized_by_the_guard(two_gigabytes, name, options):
    """Coupling blocks, zuko's masked networks, plain MLPs and summary networks alike: on a 2 GB machine a
    model needing more is refused naming its options, and one that fits is built."""
    from innbench.models import build_model
    from innbench.models.size import TRAINING_COPIES, ModelSizeError, tensor_bytes

    problem = "epidemic" if "summary_hidden" in options else "linear"
    with pytest.raises(ModelSizeError) as info:
        build_model(name, problem, **options)
    assert str(info.value).startswith(", ".join(f"{k}={v}" for k, v in options.items()) + f": model {name!r}")
    assert "of the 2.0 GB of memory available" in str(info.value)
    small = build_model(name, problem, hidden=64)
    assert tensor_bytes(small) * TRAINING_COPIES < 0.8 * 2e9


def test_a_saved_config_edited_to_a_huge_width_is_refused_on_load(tmp_path, two_gigabytes):
    from innbench.models import ModelLoadError, build_model, load_model

    path = build_model("cinn", "linear", blocks=2).save(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text())
    cfg["config"]["hidden"] = 65536
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError, match="hidden=65536: model 'cinn' for problem 'linear' needs at least"):
        load_model(path)


def test_reference_of_an_exact_sampler_without_diagnostics_succeeds(tmp_path, capsys):
    """``reference`` used to write both files and then exit 2 with "error: tolerance" (a KeyError while printing
    the summary of a sampler that reports neither ESS nor tolerance)."""
    out = tmp_path / "r.npy"
    five_items = "0.1,0.2,0.3,0.4,-0.5,0.6,0.7,-0.8,0.9,1.0"
    assert main(["reference", "--problem", "gaussian_set", "--observations", five_items, "--n", "10",
                 "--out", str(out)]) == 0
    assert np.load(out).shape == (1, 10, 5) and "exact" in capsys.readouterr().out


def test_shape_messages_of_long_observations_stay_short():
    from innbench.problems import get_problem
    from innbench.simbudget import training_data

    with pytest.raises(ValueError) as info:
        training_data(get_problem("gaussian_set"), (np.zeros((4, 5)), np.zeros((4, 3))))
    assert "(200 values)), got (4, 3)" in str(info.value) and len(str(info.value)) < 300


def test_report_reads_an_older_database_of_its_schema_without_touching_it(tmp_path, capsys):
    """A database written before the calibration table and the later result columns existed (results/default.db
    and quick.db of 3d6fcb1, which say schema_version 1): report used to end in a traceback ("no such table:
    calibration"); it now reads what is there, says what is missing, and leaves the file byte-identical."""
    import shutil

    db = shutil.copy(Path(__file__).parent / "data" / "results_v1" / "results.db", tmp_path / "v1.db")
    con = sqlite3.connect(db)  # a file of schema version 1 (innbench 0.2.0), older still
    con.execute("DROP TABLE calibration")
    con.execute("ALTER TABLE results DROP COLUMN err_resim_continuous")
    con.commit()
    con.close()
    before = digest(db)
    capsys.readouterr()
    assert main(["report", "--db", str(db), "--out", str(tmp_path / "rep")]) == 0
    err = capsys.readouterr().err
    assert "innbench: warning: db:" in err and "column results.err_resim_continuous, table calibration" in err, err
    assert (tmp_path / "rep" / "report.html").is_file() and digest(db) == before
