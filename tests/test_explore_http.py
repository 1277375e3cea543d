"""The explorer's HTTP surface as a careless or hostile client meets it (issue 33, the class "HTTP"): no
request body is ever read as a request, every method but GET gets a 405 JSON answer, and a loopback server
answers only loopback ``Host`` names (DNS rebinding)."""

import json
import socket
import threading

import pytest

from innbench.explore import Explorer, make_server
from innbench.models import build_model


@pytest.fixture(scope="module")
def server():
    srv = make_server(Explorer({"lin": build_model("mdn", "linear")}), port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def exchange(server, raw: bytes) -> list[tuple[int, dict, bytes]]:
    """Send ``raw`` on one connection; every response that comes back as (status, headers, body)."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=30) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def request(method: str, path: str = "/api/models", host: str = "127.0.0.1", extra: str = "", body: bytes = b""):
    return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n").encode() + body


def test_a_body_is_never_read_as_a_second_request(server):
    smuggled = request("GET", "/api/models")
    for method in ("POST", "GET", "PUT"):
        raw = request(method, "/", extra=f"Content-Length: {len(smuggled)}\r\n", body=smuggled)
        answers = exchange(server, raw)
        assert len(answers) == 1, (method, [a[0] for a in answers])
        status, headers, body = answers[0]
        assert status == (400 if method == "GET" else 405) and headers["connection"] == "close"
        assert json.loads(body)["parameter"] in ("body", "method")
    chunked = request("POST", "/", extra="Transfer-Encoding: chunked\r\n", body=b"5\r\nhello\r\n0\r\n\r\n" + smuggled)
    assert [a[0] for a in exchange(server, chunked)] == [405]


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS", "POST", "DELETE", "PATCH", "BREW"])
def test_every_method_but_get_is_a_405_json_answer(server, method):
    (status, headers, body), = exchange(server, request(method))
    assert status == 405 and headers["allow"] == "GET" and headers["content-type"].startswith("application/json")
    if method != "HEAD":
        assert json.loads(body) == {"error": f"method: {method} is not served; use GET", "parameter": "method",
                                    "status": 405}


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8765", "[::1]:1", "LOCALHOST"])
def test_loopback_names_are_answered(server, host):
    (status, _, body), = exchange(server, request("GET", host=host))
    assert status == 200 and "lin" in {m["name"] for m in json.loads(body)["models"]}


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "192.168.1.5"])
def test_other_host_names_are_refused_by_a_loopback_server(server, host):
    (status, _, body), = exchange(server, request("GET", host=host))
    assert status == 403 and json.loads(body)["parameter"] == "host"


def test_a_server_bound_beyond_loopback_answers_any_host_and_warns(capsys):
    srv = make_server(Explorer({"lin": build_model("mdn", "linear")}), host="0.0.0.0", port=0)
    try:
        assert not srv.loopback_only and "warning: listening on 0.0.0.0, beyond this machine" in capsys.readouterr().err
        thread = threading.Thread(target=srv.serve_forever, daemon=True)
        thread.start()
        host, port = "127.0.0.1", srv.server_address[1]
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(request("GET", host="my-laptop.lan", extra="Connection: close\r\n"))
            assert sock.recv(64).split()[1] == b"200"
    finally:
        srv.shutdown()
        srv.server_close()
