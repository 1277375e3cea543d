"""Posterior ensembles (``members=K``): K models on the same simulations, their mixture as the posterior."""

import numpy as np
import pytest
import torch

from innbench import api
from innbench.models import build_model, load_model
from innbench.models.cinn import ConditionalINN
from innbench.models.ensemble import PosteriorEnsemble
from innbench.problems import get_problem
from innbench.simbudget import SimulationBudget
from innbench.training import get_budget

SMALL = {"hidden": 16, "blocks": 2}


def _trained_ensemble(members=3):
    p = get_problem("two_moons")
    x, y = p.simulate(400, np.random.default_rng(5))
    m = api.train(p, "cinn", seed=2, data=(x, y), simulation_budget={"max_epochs": 3}, progress=False,
                  members=members, **SMALL)
    return p, (x, y), m


def test_members_option_builds_an_ensemble_of_that_model():
    p = get_problem("two_moons")
    single = build_model("cinn", p, **SMALL)
    ens = build_model("cinn", p, members=3, seed=4, **SMALL)
    assert isinstance(ens, PosteriorEnsemble) and len(ens.members) == 3
    assert all(type(m) is ConditionalINN for m in ens.members) and ens.weights == pytest.approx([1 / 3] * 3)
    assert ens.name == "cinn" and ens.title == single.title and ens.config["members"] == 3
    assert ens.n_parameters() == 3 * single.n_parameters()  # the fair budget counts every member
    assert [m.config["seed"] for m in ens.members] == [4, 5, 6]
    w = [next(m.parameters()).detach() for m in ens.members]
    assert not torch.equal(w[0], w[1])  # different seeds, different initial weights
    assert type(build_model("cinn", p, members=1, **SMALL)) is ConditionalINN
    with pytest.raises(ValueError, match="^members: one ConditionalINN is one model"):
        ConditionalINN(p, members=3)
    with pytest.raises(ValueError, match="members"):
        build_model("inn", "kinematics", members=2)  # not conditional: no such option


@pytest.mark.parametrize("bad", [0, -2, 2.5, "3", True])
def test_a_bad_member_count_is_named(bad):
    with pytest.raises(ValueError, match="members"):
        build_model("cinn", "two_moons", members=bad)


def test_each_member_trains_as_a_single_model_on_the_same_simulations():
    """Member k of an ensemble trained with seed s is the model trained alone with seed s + k on the same
    data (same validation split, batch order and early stop): nothing is shared between members."""
    p, data, ens = _trained_ensemble()
    alone = api.train(p, "cinn", seed=3, data=data, simulation_budget={"max_epochs": 3}, progress=False, **SMALL)
    for a, b in zip(ens.members[1].state_dict().values(), alone.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    info = ens.train_info
    assert info["members"] == 3 and len(info["member_summaries"]) == 3 and info["epochs"] == 9
    assert info["n_train"] == 360 and info["n_validation"] == 40
    assert info["final_loss"] == pytest.approx(np.mean([s["final_loss"] for s in info["member_summaries"]]))
    assert info["train_seconds"] == pytest.approx(sum(s["train_seconds"] for s in info["member_summaries"]))


def test_the_fixed_batch_budget_trains_every_member_too():
    p = get_problem("linear")
    ens = api.train(p, "cinn", seed=0, preset=get_budget("quick", n_batches=20, n_train=256), progress=False,
                    members=2, **SMALL)
    assert ens.train_info["members"] == 2
    assert all(s["budget"]["n_batches"] == 20 for s in ens.train_info["member_summaries"])
    untrained = build_model("cinn", p, members=2, **SMALL)
    for trained, fresh in zip(ens.members, untrained.members, strict=True):
        assert not torch.equal(next(trained.parameters()), next(fresh.parameters()))


def test_density_is_the_members_mean_and_samples_pool_them_in_equal_shares(tmp_path):
    p, _, ens = _trained_ensemble()
    x_true, y = p.fixed_observations()
    x = ens.sample(y[:1], 6, seed=1)[0]
    each = np.stack([m.log_prob(x, y[:1]) for m in ens.members])
    assert ens.log_prob(x, y[:1]) == pytest.approx(np.log(np.exp(each).mean(0)), rel=1e-6)

    s = ens.sample(y[:2], 7, seed=9)
    assert s.shape == (2, 7, 2) and np.array_equal(s, ens.sample(y[:2], 7, seed=9))
    shares = [3, 2, 2]  # 7 draws from 3 members
    pooled = np.concatenate([m.sample(y[:2], k, seed=int(np.random.SeedSequence([9, i]).generate_state(1)[0]))
                             for i, (m, k) in enumerate(zip(ens.members, shares, strict=True))], 1)
    for i in range(2):  # the same draws, shuffled
        assert sorted(map(tuple, s[i])) == sorted(map(tuple, pooled[i]))
    assert not np.array_equal(s, pooled)

    ens.save(tmp_path / "ens")
    again = load_model(tmp_path / "ens")
    assert type(again) is type(ens) and again.config == ens.config
    assert np.array_equal(again.sample(y[:2], 7, seed=9), s)
    assert again.train_info["members"] == 3


def test_the_cli_trains_an_ensemble(tmp_path, capsys):
    from innbench.cli import main

    out = tmp_path / "m"
    rc = main(["train", "--problem", "two_moons", "--model", "mdn", "--simulations", "300", "--set", "members=2",
               "--set", "hidden=16", "--max-epochs", "3", "--out", str(out), "--quiet"])
    assert rc == 0
    m = load_model(out)
    assert isinstance(m, PosteriorEnsemble) and len(m.members) == 2 and m.name == "mdn"
    assert m.sample(m.problem.fixed_observations()[1][:1], 5).shape == (1, 5, 2)


def test_an_ensemble_has_a_default_simulation_budget_path():
    p = get_problem("two_moons")
    ens = build_model("flow_matching", p, members=2, hidden=16)
    from innbench.simbudget import fit_simulations

    info = fit_simulations(ens, SimulationBudget(simulations=200, max_epochs=2), seed=0, progress=False)
    assert info["members"] == 2 and info["epochs"] == 4 and info["n_train"] + info["n_validation"] == 200


def test_a_grid_takes_the_option_and_names_a_bad_one():
    from innbench.benchmark.config import get_grid

    grid = get_grid("structured", problems=["gaussian_set"])
    grid.check_names()  # members (a shared conditional option) is known to the grid's check
    assert any(s.options == {"members": 4} and s.model == "cinn" for s in grid.models)
    bad = get_grid("structured", problems=["gaussian_set"],
                   models=[{"model": "cinn", "label": "c", "options": {"member": 4}}])
    with pytest.raises(ValueError, match=r"unknown options \['member'\].*'members'"):
        bad.check_names()


def test_an_ensemble_pickles_into_a_fresh_process(tmp_path):
    """A pickled ensemble (as torch.save of the whole model, or a process pool, would write it) loads in a
    process that never built an ensemble class, and samples the same."""
    import pickle
    import subprocess
    import sys

    p = get_problem("two_moons")
    ens = build_model("mdn", p, members=2, hidden=16)
    y = p.fixed_observations()[1][:1]
    (tmp_path / "m.pkl").write_bytes(pickle.dumps(ens))
    np.save(tmp_path / "s.npy", ens.sample(y, 5, seed=1))
    code = ("import pickle, sys, numpy as np; m = pickle.load(open(sys.argv[1] + '/m.pkl', 'rb')); "
            "y = m.problem.fixed_observations()[1][:1]; "
            "assert np.array_equal(m.sample(y, 5, seed=1), np.load(sys.argv[1] + '/s.npy')); print(type(m).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "PosteriorEnsemble"


def test_an_ensemble_is_its_members_trained_alone_and_composed():
    """``members=K`` is K models trained one by one (seeds s .. s + K - 1, the same simulations) and composed
    with equal weights: composing the models trained alone gives the same posterior, draw for draw."""
    p, data, ens = _trained_ensemble(members=2)
    alone = [api.train(p, "cinn", seed=2 + k, data=data, simulation_budget={"max_epochs": 3}, progress=False,
                       **SMALL) for k in range(2)]
    composed = PosteriorEnsemble(alone)
    y = p.fixed_observations()[1][:2]
    assert np.array_equal(composed.sample(y, 9, seed=4), ens.sample(y, 9, seed=4))
    x = ens.sample(y[:1], 5, seed=0)[0]
    assert np.array_equal(composed.log_prob(x, y[:1]), ens.log_prob(x, y[:1]))


def test_a_weighted_ensemble_mixes_by_its_weights_and_keeps_them_on_disk(tmp_path):
    p, _, ens = _trained_ensemble()
    weighted = PosteriorEnsemble(list(ens.members), weights=[2.0, 1.0, 1.0])
    assert weighted.weights == (0.5, 0.25, 0.25)
    assert weighted.shares(10) == [5, 3, 2] and weighted.shares(4) == [2, 1, 1]
    y = p.fixed_observations()[1][:1]
    x = ens.sample(y, 6, seed=1)[0]
    each = np.stack([m.log_prob(x, y) for m in ens.members])
    want = np.log(0.5 * np.exp(each[0]) + 0.25 * np.exp(each[1]) + 0.25 * np.exp(each[2]))
    assert weighted.log_prob(x, y) == pytest.approx(want, rel=1e-6)
    weighted.save(tmp_path / "w")
    again = load_model(tmp_path / "w")
    assert again.weights == weighted.weights
    assert np.array_equal(again.sample(y, 10, seed=3), weighted.sample(y, 10, seed=3))
    with pytest.raises(ValueError, match="weights"):
        PosteriorEnsemble(list(ens.members), weights=[1.0, -1.0, 1.0])
    with pytest.raises(ValueError, match="one class on one problem"):
        PosteriorEnsemble([ens.members[0], build_model("mdn", p, hidden=8)])
    with pytest.raises(ValueError, match="members"):
        PosteriorEnsemble([])
