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


# -- issue 33: one property per class of the newer surfaces ------------------------------------------------

FEW = settings(max_examples=60, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.mark.parametrize("name", ["linear", "two_moons", "epidemic"])
@FEW
@given(x=st.one_of(arrays, anything), y=st.one_of(arrays, anything))
def test_training_data_is_checked_or_refused_naming_data(name, x, y):
    """Any pair a user passes as simulations: arrays of the problem's shapes, finite, inside the prior's support
    and valid observations; or a ValueError naming ``data``."""
    from innbench.simbudget import training_data

    problem = get_problem(name)
    try:
        xs, ys = training_data(problem, (x, y))
    except ValueError as exc:
        assert str(exc).startswith("data"), exc
        return
    assert xs.shape == (len(xs), problem.x_dim) and ys.shape == (len(xs), problem.y_dim) and len(xs) >= 2
    assert np.isfinite(xs).all() and not problem.outside_support(xs).any()
    problem.validate_observations(ys)


@FEW
@given(content=st.one_of(st.binary(max_size=200), st.text(max_size=200)),
       suffix=st.sampled_from([".csv", ".txt", ".npz", ".npy", ""]))
def test_any_file_given_as_simulations_is_read_or_refused_naming_the_option(tmp_path, content, suffix):
    from innbench.simbudget import read_simulations

    path = tmp_path / f"sims{suffix}"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    try:
        x, y = read_simulations(path, get_problem("linear"))
    except ValueError as exc:
        assert str(exc).startswith("--data"), exc
        return
    assert x.shape[1:] == (2,) and y.shape == (len(x), 1) and np.isfinite(x).all()


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(name=st.sampled_from(["cinn", "mdn", "nsf", "cvae"]),
       options=st.dictionaries(st.sampled_from(["hidden", "layers", "components", "members", "blocks",
                                                "transforms"]),
                               st.integers(1, 1 << 16), min_size=1, max_size=2))
def test_every_size_option_builds_within_memory_or_is_refused_by_name(monkeypatch, name, options):
    """On a machine with 64 MB free, any combination of size options builds a model whose training state fits,
    or is refused (quickly, before allocating) with a message naming the options."""
    import innbench.runtime
    from innbench.models import build_model, get_model_class
    from innbench.models.size import TRAINING_COPIES, ModelSizeError, tensor_bytes

    known = get_model_class(name).known_options()
    options = {k: v for k, v in options.items() if k in known}
    monkeypatch.setattr(innbench.runtime, "available_memory", lambda: 64 * 10**6)
    try:
        model = build_model(name, "linear", **options)
    except ModelSizeError as exc:
        assert all(f"{k}={v}" in str(exc) for k, v in options.items() if v != known[k]), exc
        return
    except ValueError as exc:  # a value outside the option's range (e.g. the width limit): named
        assert str(exc).split(":")[0] in options, exc
        return
    assert tensor_bytes(model) * TRAINING_COPIES <= 0.8 * 64 * 10**6


@FEW
@given(seconds=anything)
def test_time_limits_are_positive_seconds_or_a_named_error(seconds):
    from innbench.runtime import time_limit

    try:
        with time_limit(seconds, "--time-limit") as deadline:
            pass
    except ValueError as exc:
        assert str(exc).startswith("--time-limit: expected a positive, finite number of seconds"), exc
        return
    assert seconds is None or (deadline.seconds == float(seconds) and 0 < deadline.seconds < float("inf"))


@pytest.fixture(scope="module")
def http_server():
    import threading

    from innbench.explore import Explorer, make_server
    from innbench.models import build_model

    srv = make_server(Explorer({"lin": build_model("mdn", "linear", hidden=16)}), port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


token = st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=":"), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.one_of(st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS"]), token),
       path=st.one_of(st.sampled_from(["/", "/api/models", "/api/posterior?model=lin&y=0.1&n=5",
                                       "/api/posterior?model=lin&y=nan", "/static/explore.js", "/../etc/passwd"]),
                      token.map(lambda t: "/" + t)),
       host=st.sampled_from(["127.0.0.1", "localhost:1", "evil.example", ""]),
       body=st.binary(max_size=40))
def test_the_explorer_answers_every_request_once_with_json_or_its_page(http_server, method, path, host, body):
    """Whatever the method, path, Host and body: exactly one answer (a body is never read as a further
    request), a known status, and every error as JSON naming what was wrong."""
    import json
    import socket

    head = f"{method} {path} HTTP/1.1\r\n" + (f"Host: {host}\r\n" if host else "")
    head += f"Content-Length: {len(body)}\r\n" if body else ""
    smuggled = b"GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(http_server.server_address[:2], timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body + (smuggled if body else b""))
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert data.count(b"HTTP/1.1 ") == 1, data[:300]  # one request sent, one answer: the body never runs
    assert status in (200, 400, 403, 404, 405), status
    if status != 200 and method != "HEAD":
        head_part, _, payload = data.partition(b"\r\n\r\n")
        assert b"application/json" in head_part, data[:300]
        error = json.loads(payload)
        assert error["status"] == status and error["error"].split(":")[0] == error["parameter"], error
