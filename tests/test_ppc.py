"""The posterior predictive check (energy score): zero for an exact posterior of a deterministic simulator; for a
noisy one it is read against the exact posterior's score, and this test pins down why."""

import numpy as np
import pytest

from innbench import api, get_problem
from innbench.metrics.ppc import energy_score
from innbench.reference import reference_posterior, test_observations


def test_too_wide_scores_above_the_exact_posterior_and_too_narrow_below_it():
    p = get_problem("gaussian_linear")  # y = x + noise in 10-D; the exact posterior is Gaussian
    x, y = test_observations(p, 30)
    exact, _ = reference_posterior(p, y, 300)
    mean = exact.mean(axis=1, keepdims=True)
    scores = {name: float(np.mean(energy_score(p, mean + f * (exact - mean), y, rng=1)))
              for name, f in (("exact", 1.0), ("collapsed", 0.05), ("wide", 3.0))}
    # the values docs and the module docstring quote (0.51 / 0.48 / 0.75)
    assert scores == pytest.approx({"exact": 0.513, "collapsed": 0.483, "wide": 0.752}, abs=0.01)
    # y* is the observation the posterior was conditioned on: a posterior too narrow scores below the exact one,
    # which is why the evaluation gives the reference's score beside the model's
    assert scores["collapsed"] < scores["exact"] < scores["wide"]


def test_invalid_and_too_few_samples():
    p = get_problem("linear")
    with pytest.raises(ValueError, match="^samples: the energy score needs at least 2 samples"):
        energy_score(p, np.zeros((1, 1, 2)), np.zeros((1, 1)))
    samples = np.array([[[0.5, 0.5], [np.nan, 0.0], [1.0, 0.0]], [[np.nan, 0.0], [np.nan, 1.0], [0.0, 0.0]]])
    es = energy_score(p, samples, np.array([[1.0], [0.0]]), rng=0)
    assert es[0] == pytest.approx(0.0, abs=1e-12) and np.isnan(es[1])  # one valid sample left: no score


def test_the_evaluation_gives_the_check_and_the_references_score_beside_it():
    from innbench.models import build_model

    model = build_model("mdn", "gaussian_linear", hidden=16, seed=0)
    res = api.evaluate(model, num_observations=5, n_samples=100, timing_observations=0, noise_floor_observations=0,
                       c2st_observations=0, metrics=["err_post", "ppc"])
    per, s = res["per_observation"], res["summary"]
    assert len(per["ppc_energy"]) == len(per["ppc_energy_reference"]) == 5
    assert s["ppc_energy_mean"] > s["ppc_energy_reference_mean"] > 0  # an untrained model against the exact one
    alone = api.evaluate(model, num_observations=5, n_samples=100, timing_observations=0,
                         noise_floor_observations=0, c2st_observations=0, metrics=["ppc"])
    assert alone["per_observation"]["ppc_energy"] == per["ppc_energy"]  # its own seeds, whatever else runs
    assert alone["per_observation"]["ppc_energy_reference"] is None  # no reference drawn: no floor
