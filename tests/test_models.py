import json

import numpy as np
import pytest
import torch

from innbench.models import ModelLoadError, build_model, list_models, load_model
from innbench.problems import ObservationError
from innbench.training import TrainingDivergedError, fit, get_budget
from tolerance import EPS32, assert_close_ulps

TINY = get_budget("tiny")
Y_KIN = np.array([[1.5, 0.0], [0.8, -0.4]])


@pytest.fixture(scope="module")
def trained():
    """A tiny cINN and INN per paper problem, trained once for the module."""
    out = {}
    for problem in ("kinematics", "ballistics"):
        for name in ("cinn", "inn"):
            m = build_model(name, problem, **TINY.model)
            info = fit(m, TINY, seed=0, progress=False)
            out[problem, name] = (m, info)
    return out


def test_registry():
    assert {"cinn", "inn"} <= set(list_models())
    with pytest.raises(KeyError, match="unknown name 'gan'"):
        build_model("gan", "kinematics")
    with pytest.raises(ValueError, match="unknown options \\['widht'\\]"):
        build_model("cinn", "kinematics", widht=3)
    for bad in (0, -1.0, float("nan"), "2", True):
        with pytest.raises(ValueError, match="lr_scale: expected a (positive|number|finite)"):
            build_model("mdn", "kinematics", lr_scale=bad)


def test_every_model_takes_a_learning_rate_factor_that_training_applies():
    """``lr_scale`` is a base option (a per-model recipe factor on the budget's schedule)."""
    from innbench.training import get_budget

    budget = get_budget("tiny", n_batches=3)
    seen = {}
    for scale in (1.0, 3.0):
        m = build_model("mdn", "linear", hidden=8, layers=2, lr_scale=scale)
        lrs = []
        orig = torch.optim.Adam.step

        def spy(self, *a, lrs=lrs, orig=orig, **k):  # this iteration's list and original method
            lrs.append(self.param_groups[0]["lr"])
            return orig(self, *a, **k)

        torch.optim.Adam.step = spy
        try:
            fit(m, budget, seed=0, progress=False)
        finally:
            torch.optim.Adam.step = orig
        seen[scale] = lrs
    assert len(seen[1.0]) == 3 and seen[3.0] == pytest.approx([3 * v for v in seen[1.0]])


@pytest.mark.parametrize("problem", ["kinematics", "ballistics"])
@pytest.mark.parametrize("name", ["cinn", "inn"])
def test_short_training_lowers_the_loss(trained, problem, name):
    _, info = trained[problem, name]
    history = info["loss_history"]
    assert history[-1][1] < history[0][1] - 0.5
    assert info["recoveries"] == 0 and info["n_parameters"] > 0


@pytest.mark.parametrize("problem", ["kinematics", "ballistics"])
@pytest.mark.parametrize("name", ["cinn", "inn"])
def test_sample_shape_determinism_and_discreteness(trained, problem, name):
    m, _ = trained[problem, name]
    p = m.problem
    _, y = p.simulate(3, np.random.default_rng(0))
    s = m.sample(y, 50, seed=1)
    assert s.shape == (3, 50, 4) and np.isfinite(s).all()
    np.testing.assert_array_equal(s, m.sample(y, 50, seed=1))
    assert not np.array_equal(s, m.sample(y, 50, seed=2))
    if problem == "ballistics":
        np.testing.assert_array_equal(s[..., 3], np.round(s[..., 3]))  # speed is integer-valued
        raw = m.sample(y, 50, seed=1, round_discrete=False)
        assert not np.array_equal(raw[..., 3], np.round(raw[..., 3]))
        np.testing.assert_array_equal(np.round(raw[..., 3]), s[..., 3])  # same draws, only rounding differs


def test_cinn_training_is_deterministic_for_a_seed():
    runs = []
    for _ in range(2):
        m = build_model("cinn", "linear", blocks=2, hidden=16)
        fit(m, get_budget("tiny", n_batches=30, n_train=2000), seed=3, progress=False)
        runs.append(m.sample([[0.5]], 20, seed=0))
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name", ["cinn", "inn"])
def test_save_load_gives_identical_samples(trained, tmp_path, name):
    m, _ = trained["kinematics", name]
    m.save(tmp_path / name)
    cfg = json.loads((tmp_path / name / "config.json").read_text())
    assert cfg["model"] == name and cfg["problem"] == "kinematics" and cfg["innbench_version"]
    assert cfg["n_parameters"] == m.n_parameters() and cfg["train_info"]["train_seconds"] > 0
    loaded = load_model(tmp_path / name)
    np.testing.assert_array_equal(m.sample(Y_KIN, 100, seed=5), loaded.sample(Y_KIN, 100, seed=5))


def test_load_errors_are_clear(trained, tmp_path):
    with pytest.raises(ModelLoadError, match="is not a directory"):
        load_model(tmp_path / "missing")
    m, _ = trained["kinematics", "cinn"]
    d = m.save(tmp_path / "m")
    (d / "weights.pt").write_bytes(b"not a torch file")
    with pytest.raises(ModelLoadError, match="weights.pt could not be loaded"):
        load_model(d)
    (d / "weights.pt").unlink()
    with pytest.raises(ModelLoadError, match="has no weights.pt"):
        load_model(d)
    m.save(d)
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="config.json is corrupt"):
        load_model(d)


def test_sample_rejects_bad_observations(trained):
    m, _ = trained["kinematics", "cinn"]
    with pytest.raises(ObservationError, match=r"out of reach"):
        m.sample([[3.0, 0.0]], 10)
    with pytest.raises(ObservationError, match=r"NaN or infinite"):
        m.sample([[np.inf, 0.0]], 10)
    with pytest.raises(ObservationError, match=r"expected shape \(m, 2\)"):
        m.sample(np.zeros((2, 3)), 10)
    with pytest.raises(ValueError, match="n: expected a positive integer"):
        m.sample(Y_KIN, 0)


def test_inn_pads_when_y_is_larger_than_x():
    m = build_model("inn", "gaussian_modes", blocks=2, hidden=16)
    assert m.dim_z() == 2 and m.width == 10
    fit(m, get_budget("tiny", n_batches=20, n_train=2000), progress=False)
    assert m.sample(np.eye(8)[:2], 7).shape == (2, 7, 2)


def test_cinn_pads_single_parameter_problems():
    import innbench

    p = innbench.SimulatorProblem("user-1d", x_names=["a"], y_names=["b"], prior=lambda n, g: g.normal(size=(n, 1)),
                                  simulator=lambda x, g: 2 * x)
    m = build_model("cinn", p, blocks=2, hidden=8)
    fit(m, get_budget("tiny", n_batches=20, n_train=1000), progress=False)
    assert m.sample([[1.0]], 5).shape == (1, 5, 1)




def test_nan_loss_rolls_back_and_recovers():
    m = build_model("cinn", "linear", blocks=2, hidden=8)
    real_loss = m.loss
    calls = {"n": 0}

    def flaky(x, y):
        calls["n"] += 1
        loss, parts = real_loss(x, y)
        return (loss * float("nan"), parts) if calls["n"] == 5 else (loss, parts)

    m.loss = flaky
    info = fit(m, get_budget("tiny", n_batches=30, n_train=1000), progress=False, checkpoint_every=3)
    assert info["recoveries"] == 1 and np.isfinite(info["final_loss"])


def test_persistent_nan_loss_stops_with_a_clear_message():
    m = build_model("cinn", "linear", blocks=2, hidden=8)
    m.loss = lambda x, y: (torch.tensor(float("inf"), requires_grad=True), {})
    with pytest.raises(TrainingDivergedError, match="non-finite loss at step 0 after 5 roll-backs"):
        fit(m, get_budget("tiny", n_batches=30, n_train=1000), progress=False)


def test_trained_cinn_inverts_its_own_samples(trained):
    m, _ = trained["kinematics", "cinn"]
    y = m.condition(torch.tensor(Y_KIN, dtype=torch.float32))
    with torch.no_grad():
        z = torch.randn(2000, 4, generator=torch.Generator().manual_seed(0))
        c = y.repeat_interleave(1000, 0)
        x, _ = m.net(z, c, rev=True)
        z_back, _ = m.net(x, c)
    # float32 through 10 coupling blocks and back: rounding relative to the largest value each row carried
    # (tests/tolerance.py); a wrong inverse is off by O(1) of it
    row = 1.0 + torch.maximum(z.abs().amax(1), x.abs().amax(1))
    assert_close_ulps(z_back, z, ulps=300, per_row_scale=row, what="z round trip")
    assert ((z_back - z).abs().amax(1) / (EPS32 * row)).mean() <= 30


def test_condition_features_can_be_switched_off():
    with_f = build_model("cinn", "kinematics", blocks=2, hidden=8)
    without = build_model("cinn", "kinematics", blocks=2, hidden=8, condition_features=False)
    assert with_f.cond_dim == 3 and without.cond_dim == 2
    y = torch.tensor([[1.999, 0.0], [0.0, 0.0]])
    c = with_f.features(y)
    assert c[0, 2].item() == pytest.approx(np.log(0.001 + 0.001), rel=1e-4)  # log(2 - |h| + 1e-3)


def test_evaluate_reports_err_resim_of_the_unrounded_samples_for_integer_parameters():
    """Ballistics: Err_post and Err_resim use the rounded samples (the prior's support), and the model's
    own continuous samples get their Err_resim too; the rounded samples are those of sample()."""
    from innbench.api import evaluate

    m = build_model("mdn", "ballistics", hidden=32, layers=2)
    fit(m, get_budget("tiny", n_batches=40), progress=False)
    res = evaluate(m, num_observations=3, n_samples=200, timing_observations=1, noise_floor_observations=0,
                   keep_samples=True)
    per, summ = res["per_observation"], res["summary"]
    assert len(per["err_resim_continuous"]) == 3 and all(np.isfinite(per["err_resim_continuous"]))
    assert per["err_resim_continuous"] != per["err_resim"]
    assert summ["err_resim_continuous_mean"] == pytest.approx(np.mean(per["err_resim_continuous"]))
    np.testing.assert_array_equal(res["samples"], m.sample(np.array(per["y"]), 200, seed=0))
    # without rounding there is nothing separate to report
    res = evaluate(m, num_observations=3, n_samples=200, timing_observations=1, noise_floor_observations=0,
                   round_discrete=False)
    assert res["summary"]["err_resim_continuous_mean"] is None
    assert res["per_observation"]["err_resim_continuous"] is None
