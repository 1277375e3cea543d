"""Property-based checks of the input boundary (Hypothesis): random shapes, dtypes and values fed to the
observation readers and the parameter validation never give a traceback, and never a NaN result."""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from innbench import params as P
from innbench.io import read_observations
from innbench.problems import ObservationError, get_problem
from innbench.training import Budget

PROBLEMS = ["kinematics", "ballistics", "linear", "gaussian_modes", "two_moons"]
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

anything = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                     st.text(max_size=8), st.lists(st.integers(), max_size=3), st.complex_numbers(),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
arrays = hnp.arrays(dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
                                    hnp.complex_number_dtypes()),
                    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))


@pytest.mark.parametrize("name", PROBLEMS)
@SETTINGS
@given(y=st.one_of(arrays, anything))
def test_observations_are_valid_or_a_named_error(name, y):
    problem = get_problem(name)
    try:
        out = problem.validate_observations(y)
    except ObservationError as exc:
        assert str(exc).startswith("observations:")
        return
    assert not np.iscomplexobj(y)  # complex input is refused, not silently cut to its real part
    assert out.dtype == np.float64 and out.ndim == 2 and out.shape[1] == problem.y_dim and len(out) >= 1
    assert np.isfinite(out).all()


inline = st.lists(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                                     st.integers(-5, 5).map(str), st.sampled_from(["", " ", "x", "1e400", "-", ","])),
                           min_size=0, max_size=4).map(",".join),
                  min_size=0, max_size=4).map(";".join)


@pytest.mark.parametrize("name", ["kinematics", "linear"])
@SETTINGS
@given(spec=st.one_of(inline, st.text(max_size=20)))
def test_inline_observations_are_read_or_refused_by_name(name, spec):
    problem = get_problem(name)
    try:
        out = read_observations(spec, problem)
    except ObservationError as exc:
        assert str(exc).startswith("--observations:") or str(exc).startswith("observations:")
        return
    assert np.isfinite(out).all() and out.shape[1] == problem.y_dim


@SETTINGS
@given(value=anything, default=st.sampled_from([True, 8, 0, 0.01, 2.0, "logit", None]))
def test_model_options_are_checked_against_their_default(value, default):
    try:
        out = P.check_option("opt", value, default)
    except ValueError as exc:
        assert str(exc).startswith("opt: expected")
        return
    if isinstance(default, bool):
        assert isinstance(out, bool)
    elif isinstance(default, int):
        assert isinstance(out, int) and not isinstance(out, bool) and out >= (1 if default else 0)
    elif isinstance(default, float):
        assert isinstance(out, float) and np.isfinite(out) and out >= 0
    elif isinstance(default, str):
        assert out is None or isinstance(out, str)


@SETTINGS
@given(n_batches=anything, lr=anything, warmup=anything)
def test_budgets_are_valid_or_a_named_error(n_batches, lr, warmup):
    try:
        b = Budget(n_batches=n_batches, lr=lr, warmup=warmup)
    except ValueError as exc:
        assert str(exc).split(":")[0] in ("n_batches", "lr", "warmup")
        return
    assert b.n_batches >= 1 and b.lr > 0 and 0 <= b.warmup < 1
    assert all(np.isfinite(b.lr_at(s)) and b.lr_at(s) > 0 for s in (0, b.n_batches // 2, b.n_batches - 1))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec=inline, n=st.integers(-3, 300))
def test_the_cli_never_shows_a_traceback_or_writes_nan(tmp_path, spec, n):
    from innbench.cli import main

    out = tmp_path / "r.npy"
    out.unlink(missing_ok=True)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["reference", "--problem", "linear", f"--observations={spec}", "--n", str(n), "--out", str(out)])
    assert "Traceback" not in err.getvalue()
    if code == 0:
        assert np.isfinite(np.load(out)).all()
    else:
        assert code == 2 and "innbench: error:" in err.getvalue() and not out.exists()
