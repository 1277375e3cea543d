import re

import numpy as np
import pytest
import torch
from scipy.optimize import brentq

import innbench
from innbench.problems import ObservationError, get_problem
from innbench.problems.ballistics import impact_time, trajectory
from innbench.problems.toys import MODE_CENTRES


def test_registry_lists_builtin_problems():
    names = innbench.list_problems()
    for n in ["kinematics", "ballistics", "gaussian_modes", "gaussian_modes_some", "gaussian_modes_none", "linear"]:
        assert n in names
    with pytest.raises(KeyError, match="unknown name 'nope'.*kinematics"):
        get_problem("nope")


@pytest.mark.parametrize(
    "x, y",
    [
        ((0, 0, 0, 0), (2.0, 0.0)),  # arm straight out to the right
        ((0.1, np.pi / 2, 0, 0), (0.0, 2.1)),  # straight up from height 0.1
        ((0, 0, np.pi / 2, -np.pi / 2), (1.5, 0.5)),  # cumulative angles: 0, pi/2, 0
        ((-0.2, 0, 0, np.pi), (0.0, -0.2)),  # last segment folded back to the rail
    ],
)
def test_kinematics_forward_hand_cases(x, y):
    k = get_problem("kinematics")
    np.testing.assert_allclose(k.forward(np.array([x], float))[0], y, atol=1e-12)
    np.testing.assert_allclose(k.forward_torch(torch.tensor([x], dtype=torch.float64))[0].numpy(), y, atol=1e-12)


def test_kinematics_rejects_out_of_reach():
    k = get_problem("kinematics")
    with pytest.raises(ObservationError, match=r"horizontal coordinate must lie in \[-2.0, 2.0\]"):
        k.validate_observations([[2.3, 0.0]])


def test_ballistics_root_matches_fine_numerical_solve(rng):
    b = get_problem("ballistics")
    x = b.sample_prior(40, rng)
    for xi in x:
        def height(t, xi=xi):
            return trajectory(xi, t)[1]

        grid = np.linspace(0, 30, 30001)
        h = height(grid)
        j = np.flatnonzero(np.sign(h[:-1]) != np.sign(h[1:]))[-1]  # the last (descending) crossing
        t_star = brentq(height, grid[j], grid[j + 1], xtol=1e-14)
        assert impact_time(xi[None])[0] == pytest.approx(t_star, abs=1e-9)
        assert b.forward(xi[None])[0, 0] == pytest.approx(trajectory(xi, t_star)[0], abs=1e-9)


def test_ballistics_hand_case_and_linearity_in_x1():
    b = get_problem("ballistics")
    # thrown from the ground at 45 degrees, speed 10: closed-form drag solution solved by hand with brentq
    x = np.array([[0.0, 0.0, np.pi / 4, 10.0]])
    t = brentq(lambda s: trajectory(x[0], s)[1], 0.1, 10)
    assert b.forward(x)[0, 0] == pytest.approx(trajectory(x[0], t)[0], rel=1e-10)
    assert 0 < b.forward(x)[0, 0] < 100 / 9.81  # drag shortens the vacuum range v^2/g
    x2 = x.copy()
    x2[0, 0] = 1.7
    assert b.forward(x2)[0, 0] - b.forward(x)[0, 0] == pytest.approx(1.7)


def test_ballistics_never_landing_is_marked_invalid():
    b = get_problem("ballistics")
    x = np.array([[0.0, -1.0, 0.3, 2.0], [0.0, -0.5, -0.5, 3.0], [0.0, 1.0, 0.5, 12.0]])
    y = b.forward(x)
    assert np.isnan(y[0, 0]) and np.isnan(y[1, 0])  # starts below ground and never rises above it
    assert np.isfinite(y[2, 0])
    assert y.shape == (3, 1)  # no row is dropped


def test_ballistics_prior_support(rng):
    b = get_problem("ballistics")
    x = b.sample_prior(100_000, rng)
    assert (x[:, 1] >= 0).all() and (x[:, 1] == 0).mean() == pytest.approx(0.00135, abs=0.0005)
    assert x[:, 2].min() >= np.deg2rad(9) and x[:, 2].max() <= np.deg2rad(81)
    assert np.array_equal(x[:, 3], np.round(x[:, 3])) and x[:, 3].mean() == pytest.approx(15, abs=0.05)
    assert b.in_support(x).all()
    assert b.discrete == (3,)


def test_gaussian_modes_labels():
    p = get_problem("gaussian_modes")
    np.testing.assert_array_equal(p.forward(MODE_CENTRES), np.eye(8))
    some = get_problem("gaussian_modes_some")
    assert some.y_dim == 4
    np.testing.assert_array_equal(some.forward(MODE_CENTRES).argmax(1), [0, 0, 0, 0, 1, 1, 2, 3])
    none = get_problem("gaussian_modes_none")
    assert none.y_dim == 1 and (none.forward(MODE_CENTRES) == 1).all()
    with pytest.raises(ObservationError, match="one-hot labels over 4 classes"):
        some.validate_observations([[0, 0, 0, 0.5]])
    with pytest.raises(ObservationError, match=r"expected shape \(m, 4\)"):
        some.validate_observations(np.eye(8)[:2])


def test_validation_messages_name_the_problem():
    k = get_problem("kinematics")
    with pytest.raises(ObservationError, match=r"expected shape \(m, 2\).*got shape \(3, 3\)"):
        k.validate_observations(np.zeros((3, 3)))
    with pytest.raises(ObservationError, match=r"NaN or infinite values in rows \[1\]"):
        k.validate_observations([[0.1, 0.2], [np.nan, 0.0]])
    assert k.validate_observations([1.5, 0.0]).shape == (1, 2)


def test_user_problem_in_a_few_lines(rng, scratch_registries):
    sq = innbench.SimulatorProblem(
        "user-square",
        x_names=["a", "b"],
        y_names=["s"],
        prior=lambda n, g: g.normal(size=(n, 2)),
        simulator=lambda x, g: (x**2).sum(1, keepdims=True) + 0.05 * g.normal(size=(len(x), 1)),
        stochastic=True,
        valid=lambda y: y[:, 0] > -0.5,
    )
    innbench.register_problem(sq, overwrite=True)
    p = get_problem("user-square")
    x, y = p.simulate(1000, rng)
    assert x.shape == (1000, 2) and y.shape == (1000, 1)
    # stochastic: the same x gives different y for different noise draws
    assert not np.allclose(p.forward(x[:5], np.random.default_rng(1)), p.forward(x[:5], np.random.default_rng(2)))
    with pytest.raises(ObservationError, match="cannot be produced"):
        p.validate_observations([[-3.0]])
    assert not p.has_exact_posterior


def _two_moons_log_likelihood(theta, y):
    """Independent closed form of the two-moons likelihood: the noise p = y - g(theta) has polar
    coordinates around (0.25, 0) with r ~ N(0.1, 0.01^2), angle ~ U(-pi/2, pi/2), density N(r)/(pi r)."""
    g = np.stack([-np.abs(theta[:, 0] + theta[:, 1]) / np.sqrt(2), (theta[:, 1] - theta[:, 0]) / np.sqrt(2)], -1)
    p = y - g
    px, py = p[:, 0] - 0.25, p[:, 1]
    r = np.hypot(px, py)
    logn = -0.5 * ((r - 0.1) / 0.01) ** 2 - np.log(0.01 * np.sqrt(2 * np.pi))
    return np.where(px > 0, logn - np.log(np.pi * r), -np.inf)


def test_two_moons_simulator_matches_its_definition():
    p = get_problem("two_moons")
    rng = np.random.default_rng(0)
    theta = np.array([[0.3, -0.5]] * 20000)
    y = p.forward(theta, rng)
    # the noise ring: radius 0.1 +- 0.01 around the offset (0.25, 0) + g(theta), right half only
    centre = np.array([0.25 - abs(0.3 - 0.5) / np.sqrt(2), (-0.5 - 0.3) / np.sqrt(2)])
    r = np.linalg.norm(y - centre, axis=1)
    assert abs(r.mean() - 0.1) < 1e-3 and abs(r.std() - 0.01) < 5e-4
    assert (y[:, 0] > centre[0]).all()
    with pytest.raises(ValueError, match="stochastic"):
        p.forward(theta)


def test_two_moons_exact_posterior_matches_the_likelihood():
    """Exact inversion draws against self-normalised importance sampling of the closed-form likelihood."""
    p = get_problem("two_moons")
    rng = np.random.default_rng(3)
    _, y = p.simulate(1, rng)
    post, info = p.exact_posterior(y, 20000, rng)
    assert post.shape == (1, 20000, 2) and (np.abs(post) <= 1).all()
    theta = p.sample_prior(2_000_000, rng)
    logw = _two_moons_log_likelihood(theta, y[0])
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = 1 / (w**2).sum()
    assert ess > 2000
    mean_is = w @ theta
    cov_is = (theta - mean_is).T @ ((theta - mean_is) * w[:, None])
    se = np.sqrt(np.diag(cov_is) / ess)
    np.testing.assert_allclose(post[0].mean(0), mean_is, atol=5 * se.max() + 0.01)
    np.testing.assert_allclose(np.cov(post[0].T), cov_is, atol=0.02)
    # both crescents (theta1 + theta2 of either sign) are populated like the weighted prior
    frac_is = w[(theta[:, 0] + theta[:, 1]) > 0].sum()
    assert abs((post[0].sum(1) > 0).mean() - frac_is) < 0.03


# -- observation layouts (issue 33): a documented layout is accepted, any other shape refused, never reshaped ----
def _shape_text(shape):
    return re.escape(str(tuple(shape)))


@pytest.mark.parametrize("name", ["linear", "two_moons", "kinematics"])
def test_flat_observations_of_another_rank_or_shape_are_refused_not_reshaped(name):
    """(1, m, d), (m, 1, d), (d, m), a (2, 3) array where (3, 2) is expected, 0-d and 4-d arrays: each one is
    refused naming the argument, the expected shape and the shape given, even where its size would fit."""
    p = get_problem(name)
    d = p.y_dim
    y = p.simulate(3, np.random.default_rng(0))[1]
    wrong = [y[None], y[:, None], y.reshape(1, 1, 3, d), np.float64(0.5)]
    if d > 1:
        wrong += [y.T, y.reshape(d, 3), y.reshape(1, -1), y.ravel()]
    else:
        wrong += [y.T[None], np.zeros((3, 2))]
    for bad in wrong:
        with pytest.raises(ObservationError, match=rf"^obs: expected shape \(m, {d}\) for problem '{name}'.*"
                                                   rf"got shape {_shape_text(np.shape(bad))}"):
            p.validate_observations(bad, "obs")
    # the documented layouts: (m, d) rows, one (d,) row (for d = 1 a (m,) vector of m observations)
    np.testing.assert_array_equal(p.validate_observations(y), y)
    np.testing.assert_array_equal(p.validate_observations(y[0]), y[:1] if d > 1 else y[:1].reshape(1, 1))
    np.testing.assert_array_equal(p.validate_observations(y.tolist()), y)
    with pytest.raises(ObservationError, match=rf"^obs: expected numbers, got list .*expected shape \(m, {d}\)"):
        p.validate_observations([y[0].tolist(), y[1].tolist() + [0.5]], "obs")  # rows of unequal lengths
    if d == 1:
        np.testing.assert_array_equal(p.validate_observations(y.ravel()), y)


def test_every_entry_point_refuses_a_transposed_observation_naming_its_argument():
    """Model.sample, Model.log_prob, api.sample, api.posterior and api.evaluate refuse a (2, 3) array of a
    problem with y_dim = 2 (not read as three observations) before any sampling, naming their argument."""
    from innbench import api
    from innbench.models import build_model

    model = build_model("cinn", "kinematics")
    y = np.array([[1.5, 0.0], [1.0, 0.5], [0.2, 0.3]])
    calls = [("y", lambda: model.sample(y.T, 5)), ("y", lambda: model.log_prob(np.zeros((3, 4)), y.T)),
             ("y", lambda: api.sample(model, y.T, n=5)), ("y", lambda: api.sample(model, y[None], n=5)),
             ("observation", lambda: api.posterior(model, observation=y[:1].T)),
             ("observations", lambda: api.evaluate(model, observations=y.T, n_samples=10)),
             ("true_parameters", lambda: api.evaluate(model, observations=y, true_parameters=np.zeros((4, 3)),
                                                      n_samples=10))]
    for argument, call in calls:
        with pytest.raises(ValueError, match=rf"^{argument}: expected shape \(\w+, \d\)"):
            call()
    assert model.sample(y, 5).shape == (3, 5, 4)


def _set_and_series():
    """Three simulated sets of gaussian_set cut to 5, 9 and 20 items, and two epidemic series, each as
    (observation, items (length_i, channels))."""
    s = get_problem("gaussian_set")
    x = s.sample_prior(3, np.random.default_rng(0))
    sets = s.draw_sets(x, [5, 9, 20], np.random.default_rng(1))
    e = get_problem("epidemic")
    series = e.simulate(2, np.random.default_rng(2))[1]
    return (s, sets, [s.items(r) for r in sets]), (e, series, [r.reshape(80, 2) for r in series])


@pytest.mark.parametrize("which", [0, 1])
def test_structured_observations_of_another_shape_are_refused_naming_the_argument(which):
    p, rows, items = _set_and_series()[which]
    length, channels = p.observation_shape
    one = items[0]
    wrong = [one.T, one.T[None], rows[None], rows[:, None], rows.T, rows[..., None], one[..., None][None],
             rows.reshape(-1, 1), np.zeros((2, 3))]
    if p.variable_length:  # a set of 5 items as a short flat row: a transposed (10, 2) array has that shape too
        wrong += [one.ravel()[None], np.stack([one.ravel(), one.ravel()])]
    kinds = "sets" if p.observation_kind == "set" else "series"
    for bad in wrong:
        with pytest.raises(ObservationError, match=rf"^obs: expected {kinds} of up to {length} .* shape \(m, length, "
                                                   rf"{channels}\), \(length, {channels}\), a list of such arrays, "
                                                   rf"or flat rows \(m, {p.y_dim}\); got shape "
                                                   rf"{_shape_text(np.shape(bad))}$"):
            p.validate_observations(bad, "obs")
    # one entry of a list in the wrong layout (transposed, or several stacked) is named by its index
    for bad in ([items[0], items[1].T], [items[0], np.stack([items[0], items[0]])], [items[0], "abc"]):
        with pytest.raises(ObservationError, match=rf"^obs: item 1 .*expected shape \(length, {channels}\) with "
                                                   rf"1 <= length <= {length}"):
            p.validate_observations(bad, "obs")
    with pytest.raises(ObservationError, match="obs: item 0: expected real numbers"):
        p.pad_observations([one * (1 + 1j)], "obs")


def test_every_documented_set_layout_is_accepted_with_the_right_values():
    """docs/observations.md: flat rows with NaN padding, (m, length, 2) arrays (sets of equal size, shorter
    than 100 items, too), one (length, 2) set, lists of sets of varying or equal sizes (arrays or nested
    lists), and pad_observations' step-major flat entries: all give the same padded rows."""
    p, rows, items = _set_and_series()[0]
    assert p.observation_lengths(rows).tolist() == [5, 9, 20]
    np.testing.assert_array_equal(p.validate_observations(rows), rows)  # flat rows, NaN padding
    np.testing.assert_array_equal(p.validate_observations(rows[1]), rows[1:2])  # one flat row
    np.testing.assert_array_equal(p.validate_observations(rows.reshape(3, 100, 2)), rows)
    for given in (items, tuple(items), [s.tolist() for s in items]):  # a list of sets of varying sizes
        np.testing.assert_array_equal(p.validate_observations(given), rows)
    np.testing.assert_array_equal(p.validate_observations(items[1]), rows[1:2])  # one (length, 2) set
    np.testing.assert_array_equal(p.validate_observations(items[1].tolist()), rows[1:2])
    equal = [s[:5] for s in items]  # sets of equal size: a list, a (3, 5, 2) array, nested lists
    expected = np.full((3, 200), np.nan)
    expected[:, :10] = np.stack(equal).reshape(3, 10)
    for given in (equal, np.stack(equal), np.stack(equal).tolist(), [s.tolist() for s in equal]):
        out = p.validate_observations(given)
        np.testing.assert_array_equal(out, expected)
        assert p.observation_lengths(out).tolist() == [5, 5, 5]
    full = p.draw_sets(p.sample_prior(2, np.random.default_rng(4)), [100, 100], np.random.default_rng(5))
    np.testing.assert_array_equal(p.validate_observations([p.items(r) for r in full]), full)  # 100 items each
    np.testing.assert_array_equal(p.pad_observations([s.ravel() for s in items]), rows)  # step-major, flat
    np.testing.assert_array_equal(p.pad_observations([items[0], items[1].ravel(), items[2]]), rows)


def test_every_documented_series_layout_is_accepted_with_the_right_values():
    p, rows, items = _set_and_series()[1]
    for given in (rows, rows.reshape(2, 80, 2), items, [s.tolist() for s in items], [s.ravel() for s in items]):
        np.testing.assert_array_equal(p.validate_observations(given), rows)
    np.testing.assert_array_equal(p.validate_observations(items[1]), rows[1:2])
    np.testing.assert_array_equal(p.validate_observations(rows[1]), rows[1:2])
    with pytest.raises(ObservationError, match=r"rows \[0\] \(of 1\) are not series .* expected 80 complete steps"):
        p.validate_observations(items[0][:10])  # a shorter series: this problem observes all 80 days
