"""Time limits (issue 33, the class "no time limits"): a user's simulator that hangs, a per-query sampler asked
for 10^9 simulations and an explorer request whose client left all stop, with a clear message, and nothing is
written."""

import json
import socket
import threading
import time

import numpy as np
import pytest

import innbench
from innbench.cli import main
from innbench.runtime import TimeLimitError, check_deadline, time_limit


def _register(name, simulator):
    innbench.register_problem(innbench.SimulatorProblem(
        name, x_names=["a", "b"], y_names=["s"], prior=lambda n, rng: rng.normal(size=(n, 2)),
        simulator=simulator), overwrite=True)


def _sleeps(x, rng):
    if len(x) > 5:  # the training simulations, not the few the checks make
        time.sleep(600)
    return x.sum(1, keepdims=True)


def _spins(x, rng):
    while len(x) > 5:  # pure Python, never returns
        pass
    return x.sum(1, keepdims=True)


@pytest.mark.parametrize("name, simulator", [("tl_sleeps", _sleeps), ("tl_spins", _spins)])
def test_a_simulator_that_hangs_stops_at_the_time_limit_and_nothing_is_written(tmp_path, capsys, name,
                                                                              simulator, scratch_registries):
    _register(name, simulator)
    t0 = time.monotonic()
    code = main(["train", "--problem", name, "--model", "mdn", "--simulations", "1000", "--time-limit", "1.5",
                 "--out", str(tmp_path / "m"), "--quiet"])
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    assert code == 2 and "innbench: error: --time-limit: innbench train did not finish within 1.5 s" in err, err
    assert "Traceback" not in err and 1.5 <= took < 10
    assert not (tmp_path / "m").exists()


def test_a_per_query_sampler_asked_for_a_billion_simulations_stops_at_the_limit(tmp_path, capsys):
    from innbench.models import build_model

    path = build_model("rejection_abc", "two_moons", simulations=10**9).save(tmp_path / "abc")
    t0 = time.monotonic()
    code = main(["sample", "--model-path", str(path), "--observations", "0.1,0.1", "--n", "100",
                 "--out", str(tmp_path / "s.npy"), "--time-limit", "1"])
    assert code == 2 and time.monotonic() - t0 < 10
    assert "--time-limit: innbench sample did not finish within 1 s" in capsys.readouterr().err
    assert not (tmp_path / "s.npy").exists()


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_time_limits_that_are_not_positive_finite_seconds_are_refused(tmp_path, capsys, value):
    assert main(["sample", "--model-path", str(tmp_path), "--observations", "0", "--out", str(tmp_path / "s.npy"),
                 "--time-limit", value]) == 2
    assert "--time-limit: expected" in capsys.readouterr().err


def test_the_api_limit_stops_training_in_any_thread_and_outer_limits_hold_inside_inner_ones():
    """Outside the main thread there is no alarm: innbench's loops check the deadline at every step."""
    from innbench import api

    caught = []

    def train():
        try:
            with time_limit(0.5, what="training"):
                api.train("linear", "mdn", preset="default", progress=False)
        except TimeLimitError as exc:
            caught.append((str(exc), time.monotonic() - t0))

    t0 = time.monotonic()
    worker = threading.Thread(target=train)
    worker.start()
    worker.join(30)
    assert not worker.is_alive() and caught and caught[0][0] == "time_limit: training did not finish within 0.5 s"
    assert caught[0][1] < 15  # stopped at a training step (it would run for minutes)
    with pytest.raises(TimeLimitError, match="outer did not finish"), time_limit(0.2, what="outer"), \
            time_limit(100, what="inner"):
        while True:
            check_deadline()
    check_deadline()  # no limit outside the blocks: a no-op


# -- the explorer ------------------------------------------------------------------------------------------

@pytest.fixture
def slow_server():
    """An explorer of one model that needs minutes per query (rejection ABC on 10^9 simulations)."""
    from innbench.explore import Explorer, make_server
    from innbench.models import build_model

    explorer = Explorer({"abc": build_model("rejection_abc", "two_moons", simulations=10**9)})
    servers = []

    def start(limit):
        srv = make_server(explorer, port=0, request_time_limit=limit)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return srv

    yield explorer, start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def _get(srv, path) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


def _response(sock) -> tuple[bytes, bytes]:
    """One whole response from ``sock``: (status line and headers, body); headers and body may come apart."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_an_explorer_request_past_its_time_limit_gets_a_503_and_the_server_answers_the_next(slow_server):
    explorer, start = slow_server
    srv = start(1.0)
    host, port = srv.server_address[:2]
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(_get(srv, "/api/posterior?model=abc&y=0.1,0.1&n=100&reference=0"))
        head, body = _response(sock)
    assert time.monotonic() - t0 < 10 and head.split()[1] == b"503"
    answer = json.loads(body)
    assert answer["parameter"] == "time" and "did not finish within 1 s" in answer["error"]
    assert not explorer.models["abc"].lock.locked()


def test_an_explorer_request_whose_client_left_stops_computing(slow_server):
    """No time limit at all: the request still ends within a moment of its client closing the connection (it
    used to hold a core, and the model's lock, for minutes)."""
    explorer, start = slow_server
    srv = start(None)
    host, port = srv.server_address[:2]
    lock = explorer.models["abc"].lock
    sock = socket.create_connection((host, port), timeout=30)
    sock.sendall(_get(srv, "/api/posterior?model=abc&y=0.2,0.1&n=100&reference=0"))
    deadline = time.monotonic() + 10
    while not lock.locked() and time.monotonic() < deadline:  # the computation has started
        time.sleep(0.02)
    assert lock.locked()
    sock.close()
    t0 = time.monotonic()
    while lock.locked() and time.monotonic() - t0 < 10:
        time.sleep(0.05)
    assert not lock.locked() and time.monotonic() - t0 < 5


def test_a_request_waiting_on_one_whose_client_left_computes_its_own_answer():
    from innbench.explore.session import SharedLRU
    from innbench.runtime import Deadline, _deadline

    cache, started, results = SharedLRU(4), threading.Event(), []
    d = Deadline(100, "time", "the request")

    def owner():
        token = _deadline.set(d)
        try:
            def compute():
                started.set()
                while True:
                    time.sleep(0.01)
                    check_deadline()
            cache.get("k", compute)
        except TimeLimitError as exc:
            results.append(("owner", exc.called_off))
        finally:
            _deadline.reset(token)

    first = threading.Thread(target=owner)
    first.start()
    started.wait(10)
    waiter = threading.Thread(target=lambda: results.append(("waiter", cache.get("k", lambda: np.int64(7)))))
    waiter.start()
    time.sleep(0.1)
    d.cancel("the client closed the connection")
    first.join(10)
    waiter.join(10)
    assert sorted(results, key=str) == [("owner", True), ("waiter", (7, False))]
