"""Every script in benchmarks/ runs at a tiny budget and writes what its README line says it writes.

The scripts are loaded from their files and their ``main(argv)`` called in this process (a fresh
interpreter per script would spend most of the time importing torch); each writes under ``tmp_path``.
"""

import bz2
import importlib.util
import json
import math
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from innbench.cli import main as cli

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture(autouse=True)
def isolated(tmp_cache, monkeypatch):
    """A private reference cache, the scripts' directory importable (``from _common import ...``, as
    ``python benchmarks/X.py`` has it) and torch's thread count restored after a script sets its own."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def script(name: str):
    """The module ``benchmarks/<name>.py``, loaded afresh."""
    spec = importlib.util.spec_from_file_location(f"benchmarks_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(name: str, *args):
    return script(name).main([str(a) for a in args])


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def finite(*values) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def test_every_script_has_a_smoke_test_and_a_readme_line():
    readme = (BENCHMARKS / "README.md").read_text()
    tested = Path(__file__).read_text()
    for path in sorted(BENCHMARKS.glob("[!_]*.py")):
        assert f'"{path.stem}"' in tested, f"{path.name} has no smoke test here"
        assert f"benchmarks/{path.name}" in readme, f"{path.name} is not in benchmarks/README.md"


def test_parse_pairs_reads_json_numbers_words_and_refuses_a_bare_key():
    from _common import parse_pairs

    got = parse_pairs(["hidden=64", "lr=1e-3", "steps=10_000", "act=relu", "on=True", "off=none", "w=[1, 2]"],
                      "--set")
    assert got == {"hidden": 64, "lr": 1e-3, "steps": 10_000, "act": "relu", "on": True, "off": None, "w": [1, 2]}
    with pytest.raises(SystemExit, match="--budget: expected KEY=VALUE, got 'lr'"):
        parse_pairs(["lr"], "--budget")


def test_tune_then_ablation_table(tmp_path, capsys):
    log, samples = tmp_path / "tune.jsonl", tmp_path / "samples.npz"
    run("tune", "cinn", "kinematics", "--preset", "tiny", "--batches", 20, "--batch-size", 64, "--n-train", 2000,
        "--observations", 2, "--samples", 200, "--tag", "smoke", "--log", log, "--save-samples", samples,
        "--set", "noise_conditioned=true", "--sweep", "y_noise_sample=0.001,0.01")
    rows = jsonl(log)
    assert [r["tag"] for r in rows] == ["smoke@y_noise_sample=0.001", "smoke@y_noise_sample=0.01"]
    assert [r["config"]["y_noise_sample"] for r in rows] == [0.001, 0.01]
    assert all(finite(r["err_post_mean"], r["err_resim_mean"], r["params"]) and r["observations"] == 2 for r in rows)
    with np.load(samples) as z:
        assert z["samples"].shape == z["reference"].shape == (2, 200, 4)
    capsys.readouterr()
    run("ablation_table", log)
    table = capsys.readouterr().out
    assert "### cinn (kinematics)" in table and "noise_conditioned=True" in table
    assert table.count("| smoke@y_noise_sample=") == 2


def test_two_moons(tmp_path):
    out = tmp_path / "two_moons.jsonl"
    row = run("two_moons", "--preset", "tiny", "--simulations", 2000, "--batches", 20, "--observations", 1,
              "--samples", 200, "--threads", 1, "--split", "validation", "--out", out)
    assert jsonl(out) == [row]
    assert row["observations"] == 1 and len(row["c2st"]) == 1 and 0.4 <= row["c2st_mean"] <= 1


def test_vs_sbi_without_sbi(tmp_path, capsys, monkeypatch):
    """innbench's rows only, as where sbi is not installed (CI): one clear line says so, and nothing crashes."""
    module = script("vs_sbi")
    monkeypatch.setattr(module, "import_sbi", lambda: (None, None))
    out = tmp_path / "vs_sbi.json"
    res = module.main(["--tasks", "two_moons", "--simulations", "200", "--repeats", "1", "--threads", "1",
                       "--observations", "2", "--samples", "300", "--budget", "max_epochs=5", "--out", str(out)])
    assert "sbi is not installed" in capsys.readouterr().out
    assert json.loads(out.read_text()) == res
    (row,) = res["rows"]
    assert (row["task"], row["simulations"], row["library"]) == ("two_moons", 200, "innbench")
    assert row["estimator"] == "nsf[max_epochs=5]" and 5 >= row["epochs"] >= row["best_epoch"] >= 1
    assert len(row["c2st"]) == 2 and 0.4 <= row["c2st_mean"] <= 1
    assert finite(row["train_s"], row["sample_s_median"], *row["sample_s"]) and row["train_s"] > 0
    (cell,) = res["summary"]
    assert cell["runs"] == 1 and cell["c2st"] == row["c2st_mean"] and cell["train_vs_sbi_default"] is None

def test_lc2st_check(tmp_path):
    out = tmp_path / "lc2st.json"
    res = run("lc2st_check", "--simulations", 300, "--observations", 2, "--samples", 200, "--calibration", 200,
              "--null", 3, "--out", out)
    assert json.loads(out.read_text()) == res and len(res["rows"]) == 2
    for row in res["rows"]:
        assert 0.4 <= row["c2st"] <= 1 and row["lc2st"] >= 0 and row["lc2st_pvalue"] in (0.25, 0.5, 0.75, 1.0)


def test_sbibm_references_reads_the_wheel(tmp_path):
    """A stand-in for sbibm's wheel: two-moons reference samples stored as sbibm stores them (bz2 CSV)."""
    from innbench.problems import get_problem
    from innbench.reference import reference_posterior

    problem = get_problem("two_moons")
    _, y = problem.fixed_observations()
    theirs, _ = reference_posterior(problem, y[:1], 300, seed=7)
    wheel = tmp_path / "sbibm-1.1.0-py2.py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for k, s in enumerate(theirs, 1):
            text = "theta_1,theta_2\n" + "\n".join(f"{a},{b}" for a, b in s)
            z.writestr(f"sbibm/tasks/two_moons/files/num_observation_{k}/reference_posterior_samples.csv.bz2",
                       bz2.compress(text.encode()))
    out = tmp_path / "sbibm_references.json"
    assert run("sbibm_references", wheel, "--tasks", "two_moons", "--observations", 1, "--samples", 300,
               "--c2st-backend", "torch", "--threads", 1, "--out", out) == 0
    res = json.loads(out.read_text())
    (row,) = res["rows"]
    assert row["task"] == "two_moons" and row["observation"] == 1
    # two exact samplers: the C2ST cannot tell them apart by much
    assert 0.3 <= row["c2st_vs_sbibm"] <= 0.75 and 0.3 <= row["c2st_floor"] <= 0.75
    assert res["summary"]["two_moons"]["c2st_vs_sbibm"] == [row["c2st_vs_sbibm"]]


def test_structured_tuning(tmp_path):
    out = tmp_path / "structured.jsonl"
    run("structured_tuning", "--problem", "epidemic", "--simulations", 300, "--set", "hidden=16", "--set", "blocks=2",
        "--budget", "max_steps=10", "--nll", 40, "--sbc", 8, "--sbc-samples", 20, "--threads", 1, "--tag", "smoke",
        "--out", out)
    (row,) = jsonl(out)
    assert row["tag"] == "smoke" and row["budget"] == {"max_steps": 10}
    assert finite(row["nll"], row["nll_se"], row["train_s"])
    assert 0 <= row["coverage_50"] <= 1 and 0 <= row["coverage_90"] <= 1 and 0 <= row["sbc_min_pvalue"] <= 1


def test_set_tuning(tmp_path):
    out = tmp_path / "set.jsonl"
    run("set_tuning", "--model", "cinn", "--simulations", 300, "--set", "hidden=16", "--set", "blocks=2",
        "--budget", "max_steps=10", "--draws", 1, "--sizes", 5, 100, "--samples", 200, "--threads", 1,
        "--oracle-summary", "--out", out)
    (row,) = jsonl(out)
    assert row["options"]["summary"] == "sufficient statistics (oracle)"
    for size in (5, 100):
        assert finite(row[f"err_post_n{size}"], row[f"floor_n{size}"], row[f"ratio_n{size}"])
        assert len(row[f"err_post_n{size}_each"]) == 1


GRID = """
name = "smoke"
problems = ["kinematics"]
models = ["cinn"]
preset = "tiny"
observations = 2
samples = 200
timing_observations = 1
c2st_observations = 0
noise_floor_observations = 1
threads = 1
[budget]
n_train = 2000
n_batches = 20
"""


def test_bench_perf_then_targets(tmp_path, capsys):
    """A tiny grid with its model saved, timed by bench_perf, then both checked against the targets."""
    (tmp_path / "grid.toml").write_text(GRID)
    db, models, perf = tmp_path / "smoke.db", tmp_path / "models", tmp_path / "perf.json"
    assert cli(["bench", "--config", str(tmp_path / "grid.toml"), "--db", str(db), "--save-models", str(models),
                "--quiet"]) == 0
    run("bench_perf", "--models-dir", models, "--problems", "kinematics", "--observations", 2,
        "--sampling-observations", 2, "--samples", 200, "--threads", 1, "--sizes", "--size-params", 20_000,
        "--size-models", "mdn", "--out", perf)
    res = json.loads(perf.read_text())
    assert res["meta"]["samples"] == 200
    assert finite(res["reference"]["kinematics"]["seconds"], *res["err_post"]["kinematics"].values())
    (m,) = res["models"].values()
    assert m["model"] == "cinn" and finite(m["inference_ms_median"], m["batched_ms_per_observation"])
    (s,) = res["sizes"].values()
    assert s["model"] == "mdn" and finite(s["inference_ms_median"])

    run("targets", "--db", db, "--perf", perf, "--grid-time", tmp_path / "absent.time", "--out", tmp_path / "targets")
    t = json.loads((tmp_path / "targets.json").read_text())
    (row,) = t["rows"]
    assert row["model"] and finite(row["err_post"], row["paper_err_post"])
    (inference,) = t["inference"]
    assert inference["target_ms"] == 10.0 and finite(inference["ms"])
    assert "| kinematics |" in (tmp_path / "targets.md").read_text()
    with pytest.raises(ValueError):  # a mistyped database is refused, not created empty
        run("targets", "--db", tmp_path / "typo.db", "--perf", perf, "--out", tmp_path / "t2")
    assert not (tmp_path / "typo.db").exists()


def test_explore_latency(tmp_path):
    pytest.importorskip("playwright")
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        pytest.skip("the browser timings need Chromium (scripts/setup.sh installs Debian's chromium)")
    out = tmp_path / "explore_latency.json"
    run("explore_latency", "--train", "cinn", "mdn", "inn", "--batches", 10, "--targets", 1, "--n", 100,
        "--out", out)
    res = json.loads(out.read_text())
    assert res["meta"]["targets"] == 1 and len(res["meta"]["models"]) == 3
    for key in ("fast", "full", "full_cached"):
        assert res["server_ms"][key]["count"] == 1 and finite(res["server_ms"][key]["median"])
    browser = res["browser_ms"]
    assert browser["drawn"]["count"] + browser["refused"] == 1
    assert browser["drag"]["model_drawings"] >= 1


def test_threads(tmp_path):
    out = tmp_path / "threads.json"
    assert run("threads", "--commands", "short", "--runs", 1, "--threads", 1, "--loads", "idle", "busy",
               "--out", out) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [(r["load"], r["threads"], r["runs"]) for r in rows] == [("idle", 1, 1), ("busy", 1, 1)]
    assert all(finite(r["median_s"]) and r["median_s"] > 0 for r in rows)
