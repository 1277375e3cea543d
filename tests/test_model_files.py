"""Model directories saved by earlier innbench versions keep loading, with the same posterior.

``tests/data/models_0.2.0`` holds small models saved by innbench 0.2.0 before the model layer's redesign
(issue 35: the standardisation moved into a part of its own, with new weight names), with the samples and
log densities they gave when saved (written by a script kept in docs/journal/model_layer.md).
"""

import json
from pathlib import Path

import numpy as np
import pytest

from innbench.models import load_model

DATA = Path(__file__).parent / "data" / "models_0.2.0"
EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_model_saved_by_0_2_0_loads_with_the_same_posterior(name):
    want = EXPECTED[name]
    with pytest.warns(UserWarning, match=r"saved by innbench 0\.2\.0 \(this is 0\.3\.0\); it loads"):
        model = load_model(DATA / name)
    samples = model.sample(want["y"], 5, seed=11)
    expected = np.array(want["samples"])
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(samples, expected, rtol=1e-4, atol=1e-4 * scale)
    lp = model.log_prob(want["x"], want["y"][:1])
    expected_lp = np.array(want["log_prob"])
    np.testing.assert_allclose(lp, expected_lp, rtol=1e-4, atol=1e-4 * float(np.abs(expected_lp).max()))


def test_a_model_trained_with_a_removed_option_is_refused_by_name(tmp_path):
    """innbench 0.3.0 removed ``conditional_affine``: a 0.2.0 directory saved with it off loads (above: the
    cINN's config holds ``conditional_affine: false``); one trained with it on is refused, saying why."""
    import shutil

    from innbench.models import ModelLoadError

    path = shutil.copytree(DATA / "cinn_ballistics", tmp_path / "cinn")
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["config"]["conditional_affine"] is False
    cfg["config"]["conditional_affine"] = True
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.warns(UserWarning, match="0.2.0"), pytest.raises(
            ModelLoadError, match="conditional_affine=True.*removed in innbench 0.3.0"):
        load_model(path)


def test_an_nle_trained_with_its_old_ensemble_option_is_refused_with_the_replacement(tmp_path):
    """0.2.0's ``nle`` had its own ``ensemble=K`` (flows trained side by side); 0.3.0 builds NLE ensembles with
    ``members=K``. A 0.2.0 NLE directory with the default ``ensemble: 1`` loads as the single model it is; one
    with ``ensemble: 5`` is refused, naming the replacement."""
    from innbench.models import ModelLoadError, build_model

    path = build_model("nle", "two_moons", hidden=16, transforms=1).save(tmp_path / "nle")
    cfg = json.loads((path / "config.json").read_text())
    for ensemble in (1, 5):
        cfg["config"]["ensemble"] = ensemble
        cfg["innbench_version"] = "0.2.0"
        (path / "config.json").write_text(json.dumps(cfg))
        if ensemble == 1:
            with pytest.warns(UserWarning, match="0.2.0"):
                assert load_model(path).config["members"] == 1
        else:
            with pytest.warns(UserWarning, match="0.2.0"), pytest.raises(
                    ModelLoadError, match="ensemble=5, an option replaced in innbench 0.3.0 by members=K"):
                load_model(path)


def test_a_removed_option_given_now_is_refused_with_the_reason():
    from innbench import api
    from innbench.models import build_model

    with pytest.raises(ValueError, match="^conditional_affine: removed in innbench 0.3.0"):
        build_model("cinn", "two_moons", conditional_affine=True)
    with pytest.raises(ValueError, match="^weight_average: removed in innbench 0.3.0"):
        api.train("two_moons", "cinn", simulations=100, simulation_budget={"weight_average": 0.99})
