"""Simulations a user brings (``train --data FILE``, ``api.train(data=...)``), read and checked in one place
(:func:`innbench.simbudget.read_simulations`, :func:`~innbench.simbudget.check_training_data`): every way a
file or array can be wrong ends with one clear error naming ``--data`` (or the API's ``data``) before any
training, and nothing is written (issue 33, the class "user data")."""

import re

import numpy as np
import pytest

from innbench import api
from innbench.cli import main
from innbench.problems import get_problem


def _refused(argv, capsys, *needles):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "innbench: error:" in err and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


def _linear_rows(n=40, seed=0):
    x, y = get_problem("linear").simulate(n, np.random.default_rng(seed))
    return x, y, np.column_stack([x, y])


def _bad_files(tmp_path):
    """(name, path, what the message must say) for files that cannot be read as simulations."""
    x, y, rows = _linear_rows()
    good_csv = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows)
    cases = []

    def add(name, content, needle, suffix=".csv", binary=False):
        p = tmp_path / f"{name}{suffix}"
        (p.write_bytes if binary else p.write_text)(content)
        cases.append((name, p, needle))

    add("header", "x1,x2,y1\n" + good_csv, "line 1")
    add("ragged", good_csv + "\n1.0,2.0", "line 41 ")
    add("text", "a,b,c\n", "is not a number")
    add("semicolons", good_csv.replace(",", ";"), "is not a number")
    add("binary", bytes(range(256)) * 4, "not a UTF-8 text file", binary=True)
    add("latin1", ("# caf\xe9\n" + good_csv).encode("latin-1"), "not a UTF-8 text file", binary=True)
    add("empty", "# nothing here\n", "no rows of numbers")
    add("not_a_zip", "just text", "not a .npz archive", suffix=".npz")
    np.save(tmp_path / "one.npy", rows)
    cases.append(("npy", tmp_path / "one.npy", "is one .npy array"))
    np.savez(tmp_path / "objects.npz", x=np.array([x[0], "a"], dtype=object), y=y)
    cases.append(("objects", tmp_path / "objects.npz", "object (pickled) arrays"))
    np.savez(tmp_path / "keys.npz", a=x, b=y)
    cases.append(("keys", tmp_path / "keys.npz", "must hold arrays 'x' and 'y'"))
    np.savez(tmp_path / "strings.npz", x=np.array(["1"] * 40), y=y)
    cases.append(("strings", tmp_path / "strings.npz", "expected numbers"))
    (tmp_path / "adir").mkdir()
    cases.append(("directory", tmp_path / "adir", "is a directory"))
    cases.append(("missing", tmp_path / "nope.csv", "does not exist"))
    return cases


def test_every_unreadable_file_is_named_by_the_cli_and_nothing_is_written(tmp_path, capsys):
    for name, path, needle in _bad_files(tmp_path):
        out = tmp_path / f"model-{name}"
        err = _refused(["train", "--problem", "linear", "--model", "mdn", "--data", str(path), "--out", str(out),
                        "--quiet"], capsys, "--data", needle)
        assert "allow_pickle" not in err and not out.exists(), name


def test_the_api_names_data_for_the_same_files(tmp_path):
    for name, path, needle in _bad_files(tmp_path):
        with pytest.raises(ValueError, match=r"^data: ") as info:
            api.train("linear", "mdn", data=path, progress=False)
        assert needle in str(info.value), name


def test_a_file_path_and_arrays_train_alike_through_the_api(tmp_path):
    x, y, _ = _linear_rows(60)
    np.savez(tmp_path / "sims.npz", x=x, y=y)
    budget = {"max_epochs": 2}
    from_file = api.train("linear", "mdn", data=tmp_path / "sims.npz", simulation_budget=budget, progress=False)
    from_arrays = api.train("linear", "mdn", data=(x, y), simulation_budget=budget, progress=False)
    assert from_file.train_info["n_train"] == from_arrays.train_info["n_train"] == 54
    np.testing.assert_array_equal(from_file.sample([[0.5]], 20, seed=1), from_arrays.sample([[0.5]], 20, seed=1))


@pytest.mark.parametrize("data, message", [
    ((np.zeros((20, 2)),), "expected a pair (x, y)"),
    ("", "got an empty string"),
    (42, "expected a pair (x, y)"),
])
def test_data_that_is_not_a_pair_or_a_path_is_named(data, message):
    with pytest.raises(ValueError, match="^data: ") as info:
        api.train("linear", "mdn", data=data, progress=False)
    assert message in str(info.value)


def test_values_are_checked_against_the_problem_rules_as_for_sample(tmp_path, capsys):
    """Parameters outside the prior's support, observations that ``sample`` refuses (negative or fractional
    epidemic counts) and values whose squares overflow float32 are refused, naming the rows."""
    x, y = get_problem("two_moons").simulate(30, np.random.default_rng(0))
    x[3, 0] = 50.0  # the prior is U(-1, 1)^2
    with pytest.raises(ValueError, match=r"data: parameters outside the prior's support .* rows \[3\]"):
        api.train("two_moons", "mdn", data=(x, y), progress=False)
    ex, ey = get_problem("epidemic").simulate(20, np.random.default_rng(0))
    for bad in (-3.0, 2.5):
        y_bad = ey.copy()
        y_bad[4, 10] = bad
        with pytest.raises(ValueError, match=r"data: y.*same rules as the observations of sample"):
            api.train("epidemic", "mdn", data=(ex, y_bad), progress=False)
    x, y, _ = _linear_rows()
    with pytest.raises(ValueError, match=r"data: values beyond 1e\+18 in magnitude in rows \[0, 1, 2, 3, 4\]"):
        api.train("linear", "mdn", data=(x * 1e300, y * 1e300), progress=False)
    np.savez(tmp_path / "huge.npz", x=x * 1e300, y=y * 1e300)
    _refused(["train", "--problem", "linear", "--model", "mdn", "--data", str(tmp_path / "huge.npz"), "--out",
              str(tmp_path / "m"), "--quiet"], capsys, "--data: values beyond")
    assert not (tmp_path / "m").exists()


def test_a_validation_split_that_leaves_nothing_to_train_on_is_refused():
    with pytest.raises(ValueError, match="validation_fraction: 0.99 of 20 simulations leaves 0 for training"):
        api.train("linear", "mdn", simulations=20, simulation_budget={"validation_fraction": 0.99}, progress=False)


def test_simulation_budget_options_without_a_simulation_budget_are_refused(tmp_path, capsys):
    base = ["train", "--problem", "linear", "--model", "mdn", "--out", str(tmp_path / "m"), "--quiet"]
    _refused(base + ["--data", ""], capsys, "--data: expected the path of a .npz or .csv file")
    _refused(base + ["--patience", "3"], capsys, "--patience", "give --simulations or --data")
    _refused(base + ["--max-epochs", "3", "--preset", "tiny"], capsys, "--max-epochs")
    assert not (tmp_path / "m").exists()


def test_true_parameters_without_observations_are_refused():
    from innbench.models import build_model

    with pytest.raises(ValueError, match="true_parameters: given without observations"):
        api.evaluate(build_model("mdn", "linear"), true_parameters=np.zeros((2, 2)), num_observations=2)


@pytest.mark.parametrize("name", __import__("innbench.models", fromlist=["list_models"]).list_models())
def test_every_model_trains_from_the_cli_on_a_simulation_budget_and_reports_it(name, tmp_path, capsys):
    """The class "a summary print that assumes a trained network": every registered model, trained as the
    README shows (``--simulations``), saves and prints its summary, including the models that train
    nothing (rejection ABC, MCMC)."""
    from innbench.models import get_model_class

    cls = get_model_class(name)
    problem = "two_moons" if cls.requires_likelihood or cls.requires_prior_density else "kinematics"
    out = tmp_path / "m"
    code = main(["train", "--problem", problem, "--model", name, "--simulations", "60", "--max-epochs", "1",
                 "--out", str(out), "--quiet"])
    captured = capsys.readouterr()
    assert code == 0 and "Traceback" not in captured.err, captured.err
    assert f"trained {name} on {problem}" in captured.out and (out / "config.json").exists()


def test_set_cannot_pass_an_argument_of_training_itself(tmp_path, capsys):
    import inspect

    own = [k for k, p in inspect.signature(api.train).parameters.items() if p.kind != p.VAR_KEYWORD]
    assert {"seed", "device", "preset", "data"} <= set(own)
    for key in own:
        _refused(["train", "--problem", "linear", "--model", "mdn", "--set", f"{key}=1", "--out", str(tmp_path / "m"),
                  "--quiet"], capsys, f"--set {key}: not a model option")
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("name", ["linear", "two_moons", "kinematics", "gaussian_set", "epidemic"])
def test_arrays_of_another_rank_or_shape_are_refused_not_reshaped(name, tmp_path, capsys):
    """x or y as (N, 1, d), (1, N, d) or transposed (d, N), a series or set with its axes swapped: refused naming
    data's x or y, the expected shape and the shape given, before any training (issue 33)."""
    from innbench.simbudget import training_data

    p = get_problem(name)
    x, y = p.simulate(20, np.random.default_rng(0))
    wrong_x = [x[:, None], x[None], x.T]
    wrong_y = [y[:, None], y[None], y.T]
    if p.structured:
        wrong_y += [y.reshape(20, *p.observation_shape).transpose(0, 2, 1), y.reshape(20, *p.observation_shape, 1)]
    for bad in wrong_x:
        with pytest.raises(ValueError, match=rf"^data: x must have shape \(N, {p.x_dim}\) for problem '{name}' .*got "
                                             rf"{re.escape(str(bad.shape))}$"):
            training_data(p, (bad, y))
    for bad in wrong_y:
        with pytest.raises(ValueError, match=rf"^data: y must have shape \(N, {p.y_dim}\) for problem '{name}' .*got "
                                             rf"{re.escape(str(bad.shape))}$"):
            training_data(p, (x, bad))
    with pytest.raises(ValueError, match=r"^data: y must have shape"):  # the API refuses before training
        api.train(name, "mdn", data=(x, wrong_y[0]), out=tmp_path / "m", progress=False)
    np.savez(tmp_path / "sims.npz", x=x, y=wrong_y[-1])
    _refused(["train", "--problem", name, "--model", "mdn", "--data", str(tmp_path / "sims.npz"), "--out",
              str(tmp_path / "m"), "--quiet"], capsys, "--data: y must have shape", str(wrong_y[-1].shape))
    assert not (tmp_path / "m").exists()


def test_sets_of_equal_size_in_every_documented_layout_train_alike():
    """docs/observations.md: training sets as flat padded rows, (N, length, 2) arrays of sets of equal size or
    of 100 items, or a list of (length, 2) arrays: the same checked rows, with the sets' values in place."""
    from innbench.simbudget import training_data

    p = get_problem("gaussian_set")
    x = p.sample_prior(12, np.random.default_rng(0))
    for size in (7, 100):
        flat = p.draw_sets(x, [size] * 12, np.random.default_rng(1))
        sets = flat[:, : 2 * size].reshape(12, size, 2)
        for y in (flat, sets, list(sets), [s.tolist() for s in sets]):
            x2, y2 = training_data(p, (x, y))
            np.testing.assert_array_equal(x2, x)
            np.testing.assert_array_equal(y2, flat)
            assert p.observation_lengths(y2).tolist() == [size] * 12


def _sets(sizes=(5, 5)):
    """Sets of gaussian_set of the given sizes: (flat padded rows, [(size_i, 2) arrays])."""
    p = get_problem("gaussian_set")
    rows = p.draw_sets(p.sample_prior(len(sizes), np.random.default_rng(0)), list(sizes), np.random.default_rng(1))
    return rows, [p.items(r) for r in rows]


@pytest.mark.parametrize("sizes", [(5, 5), (5, 9), (7,)])
def test_set_observations_as_text_rows_of_equal_or_varying_length_are_read_alike(sizes, tmp_path, capsys):
    """docs/formats.md, innbench.io.read_observations: one observation per text row, step-major, shorter than
    y_dim for a smaller set (of equal length or not), inline or in a .csv/.txt file; the same rows as the
    .npz and .npy forms; and --observations of sample takes each form (issue 33: equal lengths were refused)."""
    from innbench.io import read_observations
    from innbench.models import build_model

    p = get_problem("gaussian_set")
    rows, sets = _sets(sizes)
    text = [",".join(f"{v:.17g}" for v in s.ravel()) for s in sets]
    (tmp_path / "sets.csv").write_text("\n".join(text) + "\n")
    (tmp_path / "sets.txt").write_text("# one set per line\n" + "\n".join(t.replace(",", " ") for t in text) + "\n")
    np.savez(tmp_path / "sets.npz", *sets)
    np.savez(tmp_path / "flat.npz", *[s.ravel() for s in sets])
    np.save(tmp_path / "rows.npy", rows)
    for spec in (";".join(text), tmp_path / "sets.csv", tmp_path / "sets.txt", tmp_path / "sets.npz",
                 tmp_path / "flat.npz", tmp_path / "rows.npy"):
        np.testing.assert_array_equal(read_observations(str(spec), p), rows)
    if len(sets) == 1:  # one set as rows of its items (as a (length, 2) .npy array)
        (tmp_path / "items.csv").write_text("\n".join(f"{u:.17g},{v:.17g}" for u, v in sets[0]) + "\n")
        np.testing.assert_array_equal(read_observations(str(tmp_path / "items.csv"), p), rows)
    model_dir = build_model("mdn", "gaussian_set", hidden=8, summary_hidden=8).save(tmp_path / "model")
    for i, spec in enumerate((";".join(text), tmp_path / "sets.csv", tmp_path / "sets.npz")):
        assert main(["sample", "--model-path", str(model_dir), f"--observations={spec}", "--n", "20", "--out",
                     str(tmp_path / f"s{i}.npy")]) == 0, capsys.readouterr().err
        assert np.load(tmp_path / f"s{i}.npy").shape == (len(sets), 20, 5)
    np.testing.assert_array_equal(np.load(tmp_path / "s0.npy"), np.load(tmp_path / "s2.npy"))


def test_npz_observations_in_another_layout_are_refused_not_reshaped(tmp_path, capsys):
    """An .npz entry is one observation, (length, channels) or its values step-major: a transposed set or
    series, two sets stacked in one entry or a (2 length, 1) column are refused naming --observations and
    the entry, before any sampling (issue 33: they were reshaped into one scrambled set)."""
    from innbench.io import read_observations
    from innbench.models import build_model

    rows, sets = _sets((5, 10))
    p, e = get_problem("gaussian_set"), get_problem("epidemic")
    series = e.fixed_observations()[1][0].reshape(80, 2)
    cases = [(p, [sets[0], sets[1].T], 1, (2, 10)), (p, [np.stack([sets[0], sets[1][:5]])], 0, (2, 5, 2)),
             (p, [sets[0].reshape(-1, 1)], 0, (10, 1)), (p, [sets[0].ravel()[:7]], 0, (7,)),
             (e, [series.T], 0, (2, 80))]
    for k, (problem, entries, item, shape) in enumerate(cases):
        np.savez(tmp_path / f"bad{k}.npz", *entries)
        with pytest.raises(ValueError, match=rf"^--observations: item {item} has shape {re.escape(str(shape))}; "
                                             rf"expected shape \(length, 2\) with 1 <= length <= "
                                             rf"{problem.observation_shape[0]}"):
            read_observations(str(tmp_path / f"bad{k}.npz"), problem)
    model_dir = build_model("mdn", "gaussian_set", hidden=8, summary_hidden=8).save(tmp_path / "model")
    _refused(["sample", "--model-path", str(model_dir), "--observations", str(tmp_path / "bad0.npz"), "--n", "20",
              "--out", str(tmp_path / "s.npy")], capsys, "--observations: item 1 has shape (2, 10)")
    assert not (tmp_path / "s.npy").exists()
    with pytest.raises(ValueError, match=r"^--observations: row 1 has 7 values, not a multiple of the 2"):
        read_observations("1,2,3,4,5,6,7,8,9,10;1,2,3,4,5,6,7", p)


def test_training_sets_of_varying_size_as_a_list_are_padded():
    """docs/observations.md: api.train(data=...) takes a list of (length_i, 2) sets of varying size, as sample
    does; one in another layout is refused naming data's y and the entry."""
    from innbench.simbudget import training_data

    p = get_problem("gaussian_set")
    x = p.sample_prior(12, np.random.default_rng(0))
    flat = p.draw_sets(x, list(range(5, 17)), np.random.default_rng(1))
    sets = [p.items(r) for r in flat]
    for y in (sets, [s.tolist() for s in sets], tuple(sets)):
        x2, y2 = training_data(p, (x, y))
        np.testing.assert_array_equal(y2, flat)
    with pytest.raises(ValueError, match=r"^data: y: item 3 has shape \(2, 8\); expected shape \(length, 2\)"):
        training_data(p, (x, sets[:3] + [sets[3].T] + sets[4:]))
