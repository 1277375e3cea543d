"""The metric registry: every metric declared once, computed by the one scoring path, chosen by name."""

import numpy as np
import pytest

from innbench import api
from innbench.metrics import (
    Inputs,
    Metric,
    Value,
    default_metric_names,
    get_metric,
    metric_names,
    register_metric,
    unregister_metric,
)
from innbench.models import build_model

CHEAP = {"num_observations": 4, "n_samples": 200, "timing_observations": 0, "noise_floor_observations": 0,
         "c2st_observations": 0}


@pytest.fixture(scope="module")
def model():
    return build_model("mdn", "linear", hidden=16, seed=0)


def test_every_builtin_metric_declares_its_values_needs_and_cost():
    names = metric_names()
    assert names[:3] == ["err_post", "err_post_floor", "c2st"] and len(names) == len(set(names)) == 11
    values = [v.name for n in names for v in get_metric(n).values]
    assert len(values) == len(set(values))  # no value is given by two metrics
    for n in names:
        m = get_metric(n)
        assert m.description and m.values and m.cost in ("free", "simulations", "reference", "classifier", "timing")
        assert all(v.title and v.description for v in m.values)
    assert get_metric("c2st").values[0].better == "half" and get_metric("err_post").values[0].better == "lower"


def test_a_metric_of_ones_own_appears_in_the_evaluation_summary_and_rows(model):
    def spread(inputs: Inputs) -> dict:  # the samples' mean standard deviation, per observation
        return {"spread": inputs.samples.std(axis=1).mean(axis=1)}

    register_metric(Metric("spread", spread, (Value("spread", "posterior spread", better=None,
                                                    summary=(("spread_mean", "mean"),)),)))
    try:
        res = api.evaluate(model, **CHEAP, keep_samples=True)
    finally:
        unregister_metric("spread")
    want = res["samples"].std(axis=1).mean(axis=1)
    np.testing.assert_allclose(res["per_observation"]["spread"], want, rtol=1e-12)
    assert res["summary"]["spread_mean"] == pytest.approx(float(np.mean(want)), rel=1e-12)
    assert "spread" not in metric_names()


def test_named_metrics_are_the_only_ones_computed_and_no_reference_is_drawn_without_need(model, monkeypatch):
    import innbench.evaluation as ev

    def no_reference(*args, **kwargs):
        raise AssertionError("the reference was drawn")

    monkeypatch.setattr(ev, "reference_posterior", no_reference)
    res = api.evaluate(model, **CHEAP, metrics=["err_resim", "sbc"])
    s, per = res["summary"], res["per_observation"]
    assert "err_post_mean" not in s and "err_post" not in per and s["reference_method"] is None
    assert s["err_resim_mean"] > 0 and s["sbc_observations"] == 4 and len(per["sbc_ranks"]) == 4
    full = api.evaluate(model, **CHEAP, metrics=["err_resim"])
    assert full["summary"]["err_resim_mean"] == s["err_resim_mean"]  # the same seeds whatever else runs


def test_bad_metric_choices_are_named(model):
    with pytest.raises(ValueError, match="^metrics: unknown metric 'tarp_typo'; known: err_post, "):
        api.evaluate(model, **CHEAP, metrics=["tarp_typo"])
    with pytest.raises(ValueError, match="^metrics: 'sbc' needs x_true"):
        api.evaluate(model, [[0.5]], n_samples=50, metrics=["sbc"])
    with pytest.raises(ValueError, match="^metrics: expected a list of metric names"):
        api.evaluate(model, **CHEAP, metrics="err_post")
    # without naming it, SBC is left out where the true parameters are unknown (its keys None, 0 observations)
    s = api.evaluate(model, [[0.5]], n_samples=50, timing_observations=0, noise_floor_observations=0,
                     c2st_observations=0)["summary"]
    assert s["sbc_observations"] == 0 and s["sbc_min_pvalue"] is None and s["err_post_mean"] > 0


def test_declarations_are_checked_when_registered():
    with pytest.raises(ValueError, match="^summary: unknown reducer 'avg'"):
        Value("v", "V", summary=(("v_mean", "avg"),))
    with pytest.raises(ValueError, match="^better: expected"):
        Value("v", "V", better="up")
    with pytest.raises(ValueError, match="^needs: unknown"):
        Metric("m", lambda i: {}, (Value("v", "V"),), needs={"gpu"})
    with pytest.raises(ValueError, match="^metric: 'err_post' is registered already"):
        register_metric(get_metric("err_post"))
    with pytest.raises(ValueError, match=r"gives \['err_resim'\], which metric 'err_resim' gives already"):
        register_metric(Metric("mine", lambda i: {}, (Value("err_resim", "mine"),)))
    bad = Metric("undeclared", lambda i: {"other": [1.0]}, (Value("v", "V"),))
    with pytest.raises(ValueError, match=r"returned undeclared values \['other'\]"):
        bad.run(Inputs(None, np.zeros((1, 1)), np.zeros((1, 2, 1))))


def test_an_opt_in_metric_runs_only_where_named_and_reads_its_options(model):
    """A costly metric is declared ``default=False``: left out unless named, with options of its own that the
    caller sets by name (an option no chosen metric declares is refused)."""
    def shifted(inputs: Inputs) -> dict:
        return {"shifted": inputs.samples.mean(axis=(1, 2)) + inputs.option("shift_by")}

    register_metric(Metric("shifted", shifted, (Value("shifted", "shifted mean", better=None),), default=False,
                           options={"shift_by": 1.0}))
    try:
        assert "shifted" in metric_names() and "shifted" not in default_metric_names()
        plain = api.evaluate(model, **CHEAP, keep_samples=True)
        assert "shifted" not in plain["per_observation"]
        named = api.evaluate(model, **CHEAP, metrics=[*default_metric_names(), "shifted"])
        base = plain["samples"].mean(axis=(1, 2))
        np.testing.assert_allclose(named["per_observation"]["shifted"], base + 1.0, rtol=1e-12)
        assert named["summary"]["err_post_mean"] == plain["summary"]["err_post_mean"]
        set_by_name = api.evaluate(model, **CHEAP, metrics=["shifted"], metric_options={"shift_by": 5.0})
        np.testing.assert_allclose(set_by_name["per_observation"]["shifted"], base + 5.0, rtol=1e-12)
        with pytest.raises(ValueError, match="^metric_options: unknown 'shift_bi' for the metrics chosen; known: "
                                             "shift_by"):
            api.evaluate(model, **CHEAP, metrics=["shifted"], metric_options={"shift_bi": 5.0})
        with pytest.raises(ValueError, match="^metric_options: unknown 'shift_by'"):  # not chosen: refused
            api.evaluate(model, **CHEAP, metric_options={"shift_by": 5.0})
        with pytest.raises(ValueError, match=r"declares options \['shift_by'\], which metric 'shifted' declares"):
            register_metric(Metric("other", shifted, (Value("other", "other"),), options={"shift_by": 2.0}))
    finally:
        unregister_metric("shifted")
