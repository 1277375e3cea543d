import json
import subprocess
import sys

import numpy as np
import pytest

from innbench.cli import main


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli") / "kin-cinn"
    assert main(["train", "--problem", "kinematics", "--model", "cinn", "--preset", "tiny", "--out", str(d),
                 "--quiet"]) == 0
    return d


def test_lists(capsys):
    assert main(["problems"]) == 0
    out = capsys.readouterr().out
    assert "kinematics" in out and "ballistics" in out and "x_dim=4 y_dim=2" in out
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "cinn" in out and "Eq. 5" in out and "inn" in out
    assert main(["models", "--problem", "ballistics"]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines()[1:]}
    assert len(rows) == 22 and rows["latent_mixture_inn"][-2] == "4" and rows["inn"][-2] == "3"
    assert rows["cinn"][-2] == "4" and rows["rejection_abc"][-1] == "0"
    assert "needs a likelihood" in " ".join(rows["mcmc"])
    assert "prior density" in " ".join(rows["nle"])  # says why it cannot run on ballistics
    assert "prior density" in " ".join(rows["snle"]) and rows["tsnpe"][-2] == "4"


def test_train_sample_evaluate(model_dir, tmp_path, capsys):
    assert (model_dir / "config.json").exists() and (model_dir / "weights.pt").exists()
    obs = tmp_path / "obs.npy"
    np.save(obs, np.array([[1.5, 0.0], [1.0, 0.5], [0.5, -0.5]]))
    out = tmp_path / "s.npy"
    assert main(["sample", "--model-path", str(model_dir), "--observations", str(obs), "--n", "64",
                 "--out", str(out)]) == 0
    s = np.load(out)
    assert s.shape == (3, 64, 4)
    # the same observations as CSV and inline give the same samples for the same seed
    csv = tmp_path / "obs.csv"
    csv.write_text("# horizontal, vertical\n1.5,0\n1.0,0.5\n0.5,-0.5\n")
    for spec in (str(csv), "1.5,0;1.0,0.5;0.5,-0.5"):
        out2 = tmp_path / "s2.npy"
        assert main(["sample", "--model-path", str(model_dir), "--observations", spec, "--n", "64",
                     "--out", str(out2)]) == 0
        np.testing.assert_array_equal(np.load(out2), s)
    js = tmp_path / "eval.json"
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(model_dir), "--num-observations", "3", "--n", "300",
                 "--timing-observations", "2", "--json", str(js)]) == 0
    printed = capsys.readouterr().out
    assert "Err_post" in printed and "Err_resim" in printed and "ms" in printed
    res = json.loads(js.read_text())
    summ = res["summary"]
    assert summ["n_observations"] == 3 and len(res["per_observation"]["err_post"]) == 3
    for key in ("err_post_mean", "err_resim_mean", "err_resim_sq_mean", "inference_ms", "noise_floor_mean"):
        assert np.isfinite(summ[key]) and summ[key] >= 0
    assert summ["err_post_mean"] > summ["noise_floor_mean"]  # a 200-batch model is worse than the floor
    # the calibration metrics of the benchmark come with every evaluation of the test set
    assert "SBC" in printed and "C2ST" in printed
    # every other registered metric gets a line of its declared titles (TARP, the predictive check)
    assert f"TARP KS p-value {summ['tarp_ks_pvalue']:.4g}" in printed and "PPC energy score (mean)" in printed
    assert summ["sbc_observations"] == 3 and 0 <= summ["sbc_min_pvalue"] <= 1
    assert 0 <= summ["coverage_50"] <= 1 and 0 <= summ["coverage_90"] <= 1
    assert summ["c2st_observations"] == 3 and 0.4 < summ["c2st_floor_mean"] < 0.6 < summ["c2st_mean"] <= 1
    assert len(res["per_observation"]["sbc_ranks"]) == 3 and len(res["per_observation"]["c2st"]) == 3

    # the metrics named, with an option of one of them; a name or option nobody declared is refused
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(model_dir), "--num-observations", "3", "--n", "300",
                 "--metrics", "err_resim", "sbc"]) == 0
    printed = capsys.readouterr().out
    assert "Err_resim" in printed and "SBC" in printed and "Err_post" not in printed and "C2ST" not in printed
    assert main(["evaluate", "--model-path", str(model_dir), "--metrics", "err_resim", "typo"]) == 2
    assert "--metrics: unknown 'typo'; registered: default, err_post" in capsys.readouterr().err
    assert main(["evaluate", "--model-path", str(model_dir), "--metrics", "default", "--metric-option",
                 "lc2st_null=3"]) == 2
    assert "metric_options: unknown 'lc2st_null'" in capsys.readouterr().err

    # the same observations given as files, with their true parameters, score the same; no timing asked
    obs3, x3 = tmp_path / "obs3.npy", tmp_path / "x3.npy"
    assert main(["observations", "--problem", "kinematics", "--n", "3", "--out", str(obs3), "--x-out", str(x3)]) == 0
    js2 = tmp_path / "eval2.json"
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(model_dir), "--observations", str(obs3), "--true-parameters", str(x3),
                 "--n", "300", "--timing-observations", "0", "--c2st-observations", "0", "--json", str(js2)]) == 0
    assert "not timed" in capsys.readouterr().out
    res2 = json.loads(js2.read_text())
    assert res2["per_observation"]["sbc_ranks"] == res["per_observation"]["sbc_ranks"]
    assert res2["per_observation"]["err_post"] == res["per_observation"]["err_post"]
    assert res2["summary"]["inference_ms"] is None and res2["summary"]["c2st_mean"] is None
    # without true parameters: no SBC, said so; wrong-shaped ones are refused before any work
    capsys.readouterr()
    assert main(["evaluate", "--model-path", str(model_dir), "--observations", str(obs3), "--n", "100",
                 "--timing-observations", "0", "--c2st-observations", "0"]) == 0
    assert "SBC        skipped" in capsys.readouterr().out
    np.save(tmp_path / "x_bad.npy", np.zeros((3, 2)))
    assert main(["evaluate", "--model-path", str(model_dir), "--observations", str(obs3),
                 "--true-parameters", str(tmp_path / "x_bad.npy")]) != 0
    assert "--true-parameters: expected shape (3, 4)" in capsys.readouterr().err


def test_observations_command_round_trips_through_reference(tmp_path):
    obs, xs = tmp_path / "obs.npy", tmp_path / "x.npy"
    assert main(["observations", "--problem", "ballistics", "--n", "5", "--out", str(obs), "--x-out", str(xs)]) == 0
    y, x = np.load(obs), np.load(xs)
    assert y.shape == (5, 1) and x.shape == (5, 4)
    from innbench.problems import get_problem

    np.testing.assert_allclose(get_problem("ballistics").forward(x), y)
    ref = tmp_path / "ref.npy"
    assert main(["reference", "--problem", "ballistics", "--observations", str(obs), "--n", "100",
                 "--out", str(ref)]) == 0
    assert np.load(ref).shape == (5, 100, 4)


def test_reference_command(tmp_path):
    out = tmp_path / "ref.npy"
    assert main(["reference", "--problem", "linear", "--observations", "1.0;2.0", "--n", "500", "--out", str(out)]) == 0
    r = np.load(out)
    assert r.shape == (2, 500, 2)
    np.testing.assert_allclose(r.sum(-1), [[1.0], [2.0]] * np.ones((2, 500)))
    prov = json.loads((tmp_path / "ref.npy.json").read_text())
    assert prov["method"] == "exact-closed-form" and prov["n_samples"] == 500


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--problem", "kinematicz", "--model", "cinn"], "unknown name 'kinematicz'"),
        (["train", "--problem", "kinematics", "--model", "gan"], "unknown name 'gan'"),
        (["train", "--problem", "kinematics", "--model", "cinn", "--preset", "huge"], "unknown name 'huge'"),
        (["train", "--problem", "linear", "--model", "mdn", "--preset", "tiny", "--params", "0"],
         "--params: expected a positive integer"),
        (["train", "--problem", "linear", "--model", "iresnet", "--preset", "tiny", "--set", "loss=kl"],
         "loss: expected 'mmd'"),
        (["models", "--problem", "nope"], "unknown name 'nope'"),
        (["reference", "--problem", "kinematics", "--observations", "2.5,0", "--out", "x.npy"], "out of reach"),
        (["reference", "--problem", "kinematics", "--observations", "nan,0", "--out", "x.npy"], "NaN or infinite"),
        (["reference", "--problem", "kinematics", "--observations", "1,2,3", "--out", "x.npy"],
         r"expected shape (m, 2)"),
        (["reference", "--problem", "gaussian_modes", "--observations", "0,0,0,0,0,0,0,0,1,0", "--out", "x.npy"],
         "expected shape (m, 8)"),
        (["reference", "--problem", "gaussian_modes", "--observations", "0,0,0,0,0,0,0,0", "--out", "x.npy"],
         "one-hot labels over 8 classes"),
        (["reference", "--problem", "linear", "--observations", "missing.npy", "--out", "x.npy"], "does not exist"),
        (["sample", "--model-path", "no/such/dir", "--observations", "1,0", "--out", "x.npy"], "is not a directory"),
        (["observations", "--problem", "linear", "--n", "0", "--out", "x.npy"], "--n: expected a positive integer"),
    ],
)
def test_bad_input_gives_clear_error_and_exit_code(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("innbench: error:") and message in err
    assert not (tmp_path / "x.npy").exists()  # nothing half-written


def test_bad_observations_for_a_model_keep_existing_output(model_dir, tmp_path, capsys):
    out = tmp_path / "s.npy"
    np.save(out, np.ones(3))
    assert main(["sample", "--model-path", str(model_dir), "--observations", "9,0", "--out", str(out)]) == 2
    assert "out of reach" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(out), np.ones(3))  # the earlier file is untouched


def test_unwritable_outputs_fail_before_any_work(model_dir, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["train", "--problem", "linear", "--model", "cinn", "--preset", "tiny", "--out", str(blocker / "m")]
    assert main(argv) == 2
    assert "out: cannot create" in capsys.readouterr().err and not (blocker.parent / "m").exists()
    argv = ["evaluate", "--model-path", str(model_dir), "--json", str(blocker / "sub" / "e.json")]
    assert main(argv) == 2
    assert "--json: cannot create" in capsys.readouterr().err


def test_corrupt_model_file(model_dir, tmp_path, capsys):
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(model_dir, bad)
    (bad / "weights.pt").write_bytes(b"\x00" * 10)
    assert main(["sample", "--model-path", str(bad), "--observations", "1,0", "--out", str(tmp_path / "s.npy")]) == 2
    assert "weights.pt could not be loaded" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path):
    r = subprocess.run([sys.executable, "-m", "innbench", "evaluate", "--model-path", str(tmp_path / "nothing")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "innbench: error: model_path:" in r.stderr
    r = subprocess.run([sys.executable, "-m", "innbench", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and "innbench" in r.stdout


def test_cuda_request_without_gpu_is_a_clear_error(capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert main(["train", "--problem", "linear", "--model", "cinn", "--preset", "tiny", "--device", "cuda"]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--preset", "tiny", "--num-observations", "3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Err_post" in printed and "Err_resim" in printed
    res = json.loads((out / "metrics.json").read_text())
    assert res["summary"]["model"] == "cinn" and res["summary"]["n_observations"] == 3
    png = (out / "posterior_kinematics.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert (out / "model" / "weights.pt").exists()


def test_plugin_models_and_problems_work_in_every_command(tmp_path, scratch_registries, capsys):
    """--imports registers a user's model and problem for train, sample, evaluate, problems and models,
    and the plugin passes the same contract kit as the built-in ones."""
    from pathlib import Path

    plugin = str(Path(__file__).parent.parent / "examples" / "leaderboard_plugin.py")
    out, s = tmp_path / "m", tmp_path / "s.npy"
    assert main(["train", "--imports", plugin, "--problem", "noisy_sum", "--model", "gaussian_regression",
                 "--preset", "tiny", "--batches", "100", "--out", str(out)]) == 0
    assert main(["sample", "--imports", plugin, "--model-path", str(out), "--observations", "0.5;1.0",
                 "--n", "50", "--out", str(s)]) == 0
    assert np.load(s).shape == (2, 50, 2)
    js = tmp_path / "e.json"
    assert main(["evaluate", "--imports", plugin, "--model-path", str(out), "--num-observations", "2", "--n", "200",
                 "--timing-observations", "0", "--c2st-observations", "0", "--json", str(js)]) == 0
    summ = json.loads(js.read_text())["summary"]
    assert summ["problem"] == "noisy_sum" and summ["sbc_observations"] == 2 and np.isfinite(summ["err_post_mean"])
    capsys.readouterr()
    assert main(["problems", "--imports", plugin]) == 0 and "noisy_sum" in capsys.readouterr().out
    assert main(["models", "--imports", plugin]) == 0 and "gaussian_regression" in capsys.readouterr().out
    assert main(["train", "--imports", str(tmp_path / "missing.py"), "--problem", "noisy_sum",
                 "--model", "gaussian_regression"]) != 0
    assert "does not exist" in capsys.readouterr().err

    from innbench.checks import check_model, check_problem
    from innbench.models import get_model_class

    check_problem("noisy_sum")
    assert "density" in check_model(get_model_class("gaussian_regression"), "noisy_sum")
