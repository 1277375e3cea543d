"""Training on a simulation budget: validation split, early stopping, best weights, the data-file path."""

import json

import numpy as np
import pytest

from innbench import api
from innbench.cli import main
from innbench.models import get_model_class, list_models
from innbench.problems import get_problem
from innbench.simbudget import SimulationBudget, fit_simulations, read_simulations
from innbench.training import validation_loss
from tolerance import EPS32


def _val_loss_of(model, x, y, info, seed=0):
    """The validation loss of the restored model, recomputed on the same held-out rows."""
    import torch

    order = np.random.default_rng([seed, 104729]).permutation(len(x))
    val = order[: info["n_validation"]]
    xv = torch.as_tensor(x[val], dtype=torch.float32)
    cv = model.condition(torch.as_tensor(y[val], dtype=torch.float32))
    return validation_loss(model, xv, cv, seed)


def test_early_stopping_stops_and_restores_the_best_epoch():
    """300 pairs, a network that overfits them: the validation loss turns up, training stops
    ``patience`` epochs after its best epoch, and the weights are those of the best epoch."""
    from innbench.models import build_model

    p = get_problem("two_moons")
    x, y = p.simulate(300, np.random.default_rng(1))
    m = build_model("cinn", p, hidden=64, blocks=4)
    info = fit_simulations(m, SimulationBudget(patience=5, max_epochs=400, lr=3e-3), seed=0, data=(x, y),
                           progress=False)
    assert info["stopped"].startswith("early stopping") and info["epochs"] == info["best_epoch"] + 5
    assert info["epochs"] < 400 and info["n_validation"] == 30 and info["n_train"] == 270
    curve = dict(info["validation_curve"])
    assert len(curve) == info["epochs"] and min(curve.values()) == pytest.approx(curve[info["best_epoch"]])
    assert curve[info["epochs"]] > curve[info["best_epoch"]]  # the last epoch was worse: not what we keep
    # the same float32 computation on the restored weights: equal up to rounding of order-one loss terms
    assert _val_loss_of(m, x, y, info) == pytest.approx(info["final_loss"], rel=1e-5, abs=100 * EPS32)


def test_plateau_schedule_halves_the_learning_rate():
    from innbench.models import build_model

    p = get_problem("two_moons")
    x, y = p.simulate(300, np.random.default_rng(1))
    m = build_model("cinn", p, hidden=64, blocks=4)
    info = fit_simulations(m, SimulationBudget(patience=8, lr_patience=2, max_epochs=400, lr=3e-3), seed=0,
                           data=(x, y), progress=False)
    assert info["stopped"].startswith("early stopping") and info["lr_factor"] <= 0.25  # at least two cuts
    plain = fit_simulations(build_model("cinn", p, hidden=64, blocks=4), SimulationBudget(patience=8, max_epochs=400,
                                                                                          lr=3e-3),
                            seed=0, data=(x, y), progress=False)
    assert plain["lr_factor"] == 1.0


def test_batch_size_and_epochs_follow_the_budget():
    b = SimulationBudget()
    assert [b.batch_for(n) for n in (900, 9000, 90_000, 20)] == [32, 128, 512, 20]
    with pytest.raises(ValueError, match="validation_fraction: expected a number in"):
        SimulationBudget(validation_fraction=0)
    with pytest.raises(ValueError, match="patience: expected a positive integer"):
        SimulationBudget(patience=0)


def test_train_on_a_simulation_budget_records_it_and_saves(tmp_path):
    m = api.train("linear", "mdn", simulations=500, out=tmp_path / "m", progress=False,
                  simulation_budget={"max_epochs": 6, "patience": 3}, hidden=16)
    info = m.train_info
    assert info["preset"] == "simulations" and info["budget"]["kind"] == "simulations"
    assert info["budget"]["simulations"] == 500 and info["n_train"] + info["n_validation"] == 500
    assert 1 <= info["epochs"] <= 6 and len(info["validation_curve"]) == info["epochs"]
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["train_info"]
    assert saved["stopped"] == info["stopped"] and saved["best_epoch"] == info["best_epoch"]
    again = api.train("linear", "mdn", simulations=500, progress=False,
                      simulation_budget={"max_epochs": 6, "patience": 3}, hidden=16)
    np.testing.assert_array_equal(again.sample([[0.3]], 50, seed=2), m.sample([[0.3]], 50, seed=2))  # seeded


@pytest.mark.parametrize("suffix", [".npz", ".csv"])
def test_the_cli_trains_on_a_users_simulation_file(tmp_path, capsys, suffix):
    p = get_problem("linear")
    x, y = p.simulate(400, np.random.default_rng(3))
    f = tmp_path / f"sims{suffix}"
    if suffix == ".npz":
        np.savez(f, x=x, y=y)
    else:
        np.savetxt(f, np.column_stack([x, y]), delimiter=",", header="x1,x2,y")
    out = tmp_path / "m"
    assert main(["train", "--problem", "linear", "--model", "mdn", "--data", str(f), "--max-epochs", "3",
                 "--set", "hidden=16", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "400 simulations (40 held out)" in printed and "best epoch" in printed
    info = json.loads((out / "config.json").read_text())["train_info"]
    assert info["preset"] == "data" and info["epochs"] == 3


def test_bad_simulation_data_is_named(tmp_path, capsys):
    p = get_problem("linear")
    x, y = p.simulate(100, np.random.default_rng(4))
    x[7, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=y)
    np.savez(tmp_path / "short.npz", x=x[:50], y=y)
    np.savez(tmp_path / "wrong.npz", a=x)
    (tmp_path / "cols.csv").write_text("1,2\n3,4\n")
    for name, message in (("nan.npz", "NaN or infinite values in rows [7]"),
                          ("short.npz", "as many rows, got 50 and 100"),
                          ("wrong.npz", "must hold arrays 'x' and 'y'"),
                          ("cols.csv", "expected 3 columns"),
                          ("missing.npz", "does not exist")):
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
            read_simulations(tmp_path / name, p)
    code = main(["train", "--problem", "linear", "--model", "mdn", "--data", str(tmp_path / "nan.npz"),
                 "--out", str(tmp_path / "m")])
    assert code == 2 and "--data: NaN or infinite" in capsys.readouterr().err and not (tmp_path / "m").exists()
    code = main(["train", "--problem", "linear", "--model", "mdn", "--simulations", "100", "--batches", "5"])
    assert code == 2 and "--batches: fixed-batch budget options" in capsys.readouterr().err


@pytest.mark.parametrize("name", list_models())
def test_every_model_trains_on_a_simulation_budget(name):
    """Every registered model runs through the simulation-budget trainer (rejection ABC: not trainable)."""
    small = {"hidden": 16, "blocks": 2, "transforms": 2, "layers": 2}
    opts = {k: v for k, v in small.items() if k in get_model_class(name).defaults}
    cls = get_model_class(name)
    on_moons = cls.requires_likelihood or cls.requires_prior_density  # MCMC per query: not on kinematics
    if cls.requires_prior_density:
        opts.update(burn=50, pilot=50, init_draws=500, max_thin=1)
    m = api.train("two_moons" if on_moons else "kinematics", name, simulations=200, progress=False,
                  simulation_budget={"max_epochs": 2, "patience": 2}, **opts)
    assert m.train_info["epochs"] == (2 if get_model_class(name).trainable else 0)
    assert np.isfinite(m.sample([[0.0, 0.0]] if on_moons else [[1.0, 0.2]], 20, seed=0)).all()


def test_the_one_loop_takes_any_plan_with_any_schedule():
    """``optimise`` is the loop of both trainers; its plan and schedule combine freely: early stopping under
    the fixed budget's cosine schedule keeps its best epoch, whose validation loss is the best on its curve."""
    import torch

    from innbench.models import build_model
    from innbench.training import CosineSchedule, EarlyStopping, get_budget, optimise, validation_loss

    p = get_problem("linear")
    x, y = p.simulate(600, np.random.default_rng(0))
    m = build_model("cinn", p, hidden=16, blocks=2)
    m.set_normalization(x[:500], y[:500])
    xt, xv = (torch.as_tensor(a, dtype=torch.float32) for a in (x[:500], x[500:]))
    ct, cv = (m.condition(torch.as_tensor(a, dtype=torch.float32)) for a in (y[:500], y[500:]))
    plan = EarlyStopping(500, 50, max_epochs=12, patience=4, lr_patience=None, validation=(xv, cv), seed=1)
    budget = get_budget("tiny", n_batches=12 * 10)
    loop = optimise(m, xt, ct, plan, CosineSchedule(budget, 1.0), grad_clip=5.0, weight_decay=0.0, max_recoveries=2)
    assert loop.step == 10 * len(plan.curve) and len(loop.history) == len(plan.curve)
    best_epoch, best_loss = plan.best[1], plan.best[0]
    assert best_loss == min(v for _, v in plan.curve) and plan.curve[best_epoch - 1][1] == best_loss
    assert best_loss < plan.curve[0][1]  # it learned
    assert validation_loss(m, xv, cv, 1) == pytest.approx(best_loss, rel=1e-5)  # the best epoch's weights kept


CURVE = [1.0, 0.5, 0.9, 0.8, 0.6, 0.65, 0.58, 0.62, 0.61, 0.63, 0.64, 0.66, 0.7, 0.7, 0.7, 0.7]


@pytest.mark.parametrize("options, kept, stopped_at, cuts", [
    ({}, 2, 5, 0),  # the chance minimum of epoch 2 is kept
    ({"min_epochs": 4}, 7, 10, 0),  # epochs 1-3 cannot be kept; the patience counts from epoch 3 on
    ({"smoothing": 0.5}, 9, 12, 0),  # the exponential average is lowest at epoch 9 (0.617)
    ({"min_epochs": 4, "lr_patience": 2}, 7, 10, 1),  # the plateau's count starts after the minimum too
])
def test_early_stopping_with_a_minimum_and_a_smoothed_criterion(monkeypatch, options, kept, stopped_at, cuts):
    """The rule on a scripted validation curve: which epoch's weights are kept, when it stops, and how often
    the learning rate is halved."""
    import torch

    import innbench.training as training
    from innbench.training import EarlyStopping, LoopState

    net = torch.nn.Linear(1, 1)
    monkeypatch.setattr(training, "validation_loss", lambda model, xv, cv, seed: CURVE[int(model.weight) - 1])
    plan = EarlyStopping(100, 10, max_epochs=len(CURVE), patience=3, validation=(None, None), seed=0,
                         **{"lr_patience": None, **options})
    plan.start(net, None)
    loop = LoopState()
    for epoch in plan.periods():
        with torch.no_grad():
            net.weight.fill_(epoch)
        if plan.end_period(epoch, loop, None):
            break
    plan.finish()
    assert (plan.best[1], epoch, int(net.weight)) == (kept, stopped_at, kept)
    assert loop.cut == 0.5**cuts and plan.stopped.startswith("early stopping")


def test_min_steps_rounds_up_to_whole_epochs_and_is_recorded():
    """``min_steps`` 100 at 28 steps per epoch (900 training pairs, batch 32): no weights before epoch 4."""
    from innbench.models import build_model

    m = build_model("mdn", "gaussian_linear", seed=0, hidden=16)
    info = fit_simulations(m, SimulationBudget(simulations=1000, min_steps=100, patience=2, max_epochs=8), seed=0)
    assert info["budget"]["min_steps"] == 100 and info["best_epoch"] >= 4 and info["epochs"] >= 6
    assert info["final_loss"] == dict(info["validation_curve"])[info["best_epoch"]]


def test_weights_kept_from_the_first_few_steps_are_warned_about():
    """The MDN on the 10-D Gaussian linear task at 1000 simulations: the validation loss is lowest after the first
    epoch (28 steps here), as in the sbi grid, where such cells read C2ST 0.62-0.79 against 0.55 published; a model
    that trains long enough (the MDN on the linear toy) gets no warning."""
    import warnings

    from innbench.models import build_model
    from innbench.simbudget import MIN_KEPT_STEPS, early_kept_weights

    model = build_model("mdn", "gaussian_linear", seed=0)
    with pytest.warns(UserWarning, match=r"^mdn on gaussian_linear: training: kept the weights of epoch \d+ of \d+ "
                                         r"\(\d+ optimiser steps\).*Fewer parameters \(params=\)"):
        info = fit_simulations(model, SimulationBudget(simulations=1000), seed=0)
    assert info["best_epoch"] * (info["n_train"] // info["batch_size"]) < MIN_KEPT_STEPS
    calm = build_model("mdn", "linear", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails
        info = fit_simulations(calm, SimulationBudget(simulations=1000, max_epochs=40), seed=0)
    assert early_kept_weights(info) is None  # it ran to its last epoch: no early stopping to doubt
    assert early_kept_weights({**info, "stopped": "early stopping: ...", "best_epoch": 2}).startswith(
        "training: kept the weights of epoch 2 of 40 (56 optimiser steps)")
    assert early_kept_weights({**info, "stopped": "early stopping: ...", "best_epoch": 11}) is None  # 308 steps
    # few steps, but late in the run (a tiny data set with a short patience): not the early minimum warned about
    assert early_kept_weights({**info, "stopped": "early stopping: ...", "best_epoch": 8, "epochs": 12}) is None
