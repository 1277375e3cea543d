import numpy as np
import pytest

from innbench.metrics import mmd
from innbench.problems import get_problem
from innbench.reference import quantile_abc, reference_posterior, test_observations

N = 1000  # samples per posterior in these tests


def _noise_floor(problem, y, rng, reps=10):
    """Mean MMD between independent exact draws of size N: the metric's noise floor at this sample size.

    One large draw (ESS >= 12 N, so resampling duplicates are rare) split into disjoint sets of N.
    """
    big, _ = problem.exact_posterior(y[None], (reps + 1) * N, rng, min_ess=12 * N)
    sets = big[0].reshape(reps + 1, N, -1)
    return float(np.mean([mmd(sets[0], sets[i]) for i in range(1, reps + 1)]))


@pytest.mark.parametrize("name, pool", [("kinematics", 4_000_000), ("ballistics", 1_000_000), ("linear", 1_000_000)])
def test_exact_sampler_agrees_with_quantile_abc(name, pool, rng):
    """On average over 4 observations, MMD(exact, ABC) stays within 2x the exact-vs-exact noise floor."""
    p = get_problem(name)
    _, y = test_observations(p, 4, seed=7, cache=False)
    exact, info = p.exact_posterior(y, N, rng, min_ess=5000)
    if info["method"] == "exact-importance":
        assert (np.asarray(info["ess"]) >= 5000).all()
    abc, abc_info = quantile_abc(p, y, N, rng, pool_size=pool)
    assert abc_info["tolerance"].max() < 0.05
    between = np.mean([mmd(exact[i], abc[i]) for i in range(len(y))])
    floor = np.mean([_noise_floor(p, y[i], rng) for i in range(len(y))])
    assert between < 2 * floor, (between, floor)
    # the exact draws solve the problem exactly
    resim = p.forward(exact.reshape(-1, p.x_dim)).reshape(len(y), N, -1)
    np.testing.assert_allclose(resim, np.repeat(y[:, None], N, 1), atol=1e-9)


def test_abc_with_a_coarse_pool_is_detected(rng):
    """The comparison has power: ABC with a tiny pool (large tolerance) is far outside the noise floor."""
    p = get_problem("kinematics")
    _, y = test_observations(p, 2, seed=7, cache=False)
    exact, _ = p.exact_posterior(y, N, rng)
    abc, _ = quantile_abc(p, y, N, rng, pool_size=10_000)
    between = np.mean([mmd(exact[i], abc[i]) for i in range(len(y))])
    floor = np.mean([_noise_floor(p, y[i], rng) for i in range(len(y))])
    assert between > 3 * floor


def test_linear_exact_matches_closed_form(rng):
    p = get_problem("linear")
    s, _ = p.exact_posterior(np.array([[1.2]]), 200_000, rng)
    x1 = s[0, :, 0]
    assert x1.mean() == pytest.approx(0.6, abs=0.01) and x1.var() == pytest.approx(0.5, abs=0.01)
    np.testing.assert_allclose(s[0].sum(1), 1.2)


def test_gaussian_modes_exact_matches_closed_form(rng):
    p = get_problem("gaussian_modes_some")
    y = np.eye(4)[[0, 1]]
    s, _ = p.exact_posterior(y, 40_000, rng)
    modes = p.nearest_mode(s)
    # label 0 covers modes 0-3 equally, label 1 covers modes 4 and 5
    np.testing.assert_allclose(np.bincount(modes[0], minlength=8)[:4] / 40_000, 0.25, atol=0.01)
    assert set(np.unique(modes[1])) == {4, 5}
    from innbench.problems.toys import MODE_CENTRES

    resid = s[0] - MODE_CENTRES[modes[0]]
    assert resid.std(0) == pytest.approx([0.2, 0.2], abs=0.005)
    abc, _ = quantile_abc(p, y, N, rng, pool_size=200_000)
    between = np.mean([mmd(s[i, :N], abc[i]) for i in range(2)])
    assert between < 2 * np.mean([_noise_floor(p, y[i], rng) for i in range(2)])


def test_reference_cache_and_provenance(tmp_cache):
    p = get_problem("ballistics")
    _, y = test_observations(p, 2)
    s1, prov = reference_posterior(p, y, 500, min_ess=2000)
    assert prov["method"] == "exact-importance" and prov["seed"] == 1234 and prov["n_samples"] == 500
    assert prov["problem_version"] == p.version and min(prov["ess"]) >= 2000
    files = list((tmp_cache / "references").glob("*.npz"))
    assert len(files) == 1
    s2, prov2 = reference_posterior(p, y, 500, min_ess=2000)
    np.testing.assert_array_equal(s1, s2)
    assert prov2 == prov
    # a corrupt cache file is recomputed, not trusted
    files[0].write_bytes(b"garbage")
    s3, _ = reference_posterior(p, y, 500, min_ess=2000)
    np.testing.assert_array_equal(s1, s3)
    abc, prov_abc = reference_posterior(p, y, 500, method="abc", pool_size=100_000)
    assert prov_abc["method"] == "quantile-abc" and len(prov_abc["tolerance"]) == 2


def test_test_observations_are_fixed_and_consistent(tmp_cache):
    p = get_problem("kinematics")
    x, y = test_observations(p, 250)
    x2, y2 = test_observations(p, 250)
    np.testing.assert_array_equal(y, y2)
    np.testing.assert_allclose(p.forward(x), y)
    xs, ys = test_observations(p, 120, cache=False)
    np.testing.assert_array_equal(ys, y[:120])  # a smaller set is a prefix of a larger one


def test_user_problem_reference_by_abc(rng):
    import innbench

    p = innbench.SimulatorProblem("user-shift", x_names=["a"], y_names=["b"],
                                  prior=lambda n, g: g.normal(size=(n, 1)),
                                  simulator=lambda x, g: x + 0.5 * g.normal(size=x.shape), stochastic=True)
    s, info = quantile_abc(p, np.array([[1.0]]), 2000, rng, pool_size=400_000)
    # conjugate Gaussian: posterior N(1/1.25, 0.25/1.25)
    assert s[0, :, 0].mean() == pytest.approx(0.8, abs=0.03)
    assert s[0, :, 0].var() == pytest.approx(0.2, abs=0.02)
    with pytest.raises(ValueError, match="no exact sampler"):
        reference_posterior(p, [[1.0]], 100)


def test_floors_are_computed_once_across_processes(tmp_cache, monkeypatch):
    """The C2ST and Err_post floors are kept on disk beside the references: a second process (here: emptied
    memos, and the classifier and MMD made to fail) reads them back; a corrupt file is computed again."""
    import innbench.evaluation as ev
    from innbench.memo import clear_all

    p = get_problem("two_moons")
    _, y = p.fixed_observations()
    c2 = ev.c2st_floor(p, y[:2], 300, folds=2)
    nf = ev.noise_floor(p, y[:2], 300)
    assert len(c2) == 2 and all(0.3 < v < 0.7 for v in c2) and nf.shape == (2,)
    clear_all()

    def fail(*a, **k):
        raise AssertionError("recomputed")

    import innbench.metrics.floors as floors

    monkeypatch.setattr(floors, "c2st", fail)
    monkeypatch.setattr(floors, "mmd", fail)
    assert ev.c2st_floor(p, y[:2], 300, folds=2) == c2
    assert np.array_equal(ev.noise_floor(p, y[:2], 300), nf)
    with pytest.raises(AssertionError, match="recomputed"):  # other observations: not in the cache
        ev.c2st_floor(p, y[2:3], 300, folds=2)
    clear_all()
    for f in (tmp_cache / "floors").glob("*c2st_floor*.json"):
        f.write_text("{not json")
    monkeypatch.undo()
    monkeypatch.setenv("INNBENCH_CACHE", str(tmp_cache))
    assert ev.c2st_floor(p, y[:2], 300, folds=2) == c2


def test_a_new_sampler_version_is_a_new_cache_entry(tmp_cache, monkeypatch):
    """The reference cache's key holds the sampler's code version: a sampler that changed what it draws (its
    version bumped) never reads the draws of the old code (issue 36)."""
    import innbench.reference.abc as abc

    p = get_problem("linear")
    y = [[0.5]]
    first, prov = reference_posterior(p, y, 100, method="abc")
    again, _ = reference_posterior(p, y, 100, method="abc")
    assert prov["sampler_version"] == "abc-1" and np.array_equal(first, again)
    assert len(list((tmp_cache / "references").glob("linear-abc-*.npz"))) == 1
    monkeypatch.setattr(abc, "SAMPLER_VERSION", "2")
    _, prov2 = reference_posterior(p, y, 100, method="abc")
    assert prov2["sampler_version"] == "abc-2"
    assert len(list((tmp_cache / "references").glob("linear-abc-*.npz"))) == 2
    exact_before = reference_posterior(p, y, 100)[1]["sampler_version"]
    monkeypatch.setattr(type(p), "reference_version", "7")
    assert (exact_before, reference_posterior(p, y, 100)[1]["sampler_version"]) == ("exact-1", "exact-7")

