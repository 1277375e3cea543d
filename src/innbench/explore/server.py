"""The explorer's local web server: the page, its assets and the JSON endpoints (standard library only).

Routes (``GET`` only; every other method, ``HEAD`` included, is a 405 JSON answer):

- ``/``: the page; ``/static/explore.js``, ``/static/explore.css``: its assets, served from the package.
- ``/api/models``: ``{"models": [...], "problems": {...}, "max_samples": 20000}``.
- ``/api/posterior?model=NAME&y=1.5,0&n=1000``: see :mod:`innbench.explore`.

Requests run in threads (:class:`http.server.ThreadingHTTPServer`), so several models' requests are
answered at once. A refused request gets a 4xx JSON error and a failure inside the explorer a 500; the
server stays up either way. A posterior request stops computing when its client closes the connection, and
one still computing after the per-request time limit (``--request-time-limit``, default 60 s) gets a 503.

Requests carry no body: one that announces a body (``Content-Length``, ``Transfer-Encoding``) is refused
and its connection closed, so the body can never be read as a further request. Bound to a loopback address
(the default), the server answers only requests whose ``Host`` is a loopback name (``localhost``,
``127.0.0.1``, ``[::1]``), which keeps a web page that rebinds its DNS name to this machine from reading it;
bound to another address (``--host``) it answers any ``Host`` and says so when it starts.
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import numpy as np

from ..runtime import TimeLimitError, time_limit
from .session import MAX_SAMPLES, ExploreError, Explorer, metric_info

__all__ = ["ExplorerServer", "make_server", "parse_posterior_query", "serve"]

#: the page's files and their content types
STATIC = {"index.html": "text/html; charset=utf-8", "explore.js": "text/javascript; charset=utf-8",
          "explore.css": "text/css; charset=utf-8"}
POSTERIOR_PARAMETERS = ("model", "y", "n", "seed", "reference", "draw", "samples")
#: the largest seed torch's generators take
_MAX_SEED = 2**63 - 1


def _one(params: dict, key: str) -> str | None:
    values = params.get(key)
    if values is None:
        return None
    if len(values) > 1:
        raise ExploreError(f"{key}: given {len(values)} times; give it once", 400, key)
    return values[0]


def _integer(text: str | None, key: str, default: int) -> int:
    if text is None:
        return default
    try:
        return int(text.strip())
    except ValueError:
        raise ExploreError(f"{key}: expected an integer, got {text!r}", 400, key) from None


def _flag(text: str | None, key: str, default: bool) -> bool:
    if text is None:
        return default
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise ExploreError(f"{key}: expected 1 or 0 (true or false), got {text!r}", 400, key)


def parse_posterior_query(query: str) -> dict:
    """The keyword arguments of :meth:`Explorer.posterior` from a ``/api/posterior`` query string; the
    parameters' syntax is checked here, their values against the model and its problem there.

    ``y`` is one observation as comma-separated numbers (``nan`` marks the padding of a shorter series
    or set); ``n`` a positive integer (at most :data:`MAX_SAMPLES`); ``seed`` an integer >= 0; ``reference``,
    ``draw`` and ``samples`` 1 or 0.
    """
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(params) - set(POSTERIOR_PARAMETERS))
    if unknown:
        raise ExploreError(f"{unknown[0]}: unknown parameter; /api/posterior takes {', '.join(POSTERIOR_PARAMETERS)}",
                           400, unknown[0])
    model = _one(params, "model")
    if not model:
        raise ExploreError("model: required (a name from /api/models)", 400, "model")
    y = _one(params, "y")
    if y is not None:
        try:
            y = [float(v) for v in y.split(",")]
        except ValueError:
            raise ExploreError(f"y: expected one observation as comma-separated numbers (e.g. y=1.5,0), got {y!r}",
                               400, "y") from None
    n = _integer(_one(params, "n"), "n", 1000)
    if not 1 <= n <= MAX_SAMPLES:
        raise ExploreError(f"n: expected a number of samples from 1 to {MAX_SAMPLES:,}, got {n:,}", 400, "n")
    seed = _integer(_one(params, "seed"), "seed", 0)
    if not 0 <= seed <= _MAX_SEED:
        raise ExploreError(f"seed: expected an integer from 0 to 2**63 - 1, got {seed}", 400, "seed")
    return {"name": model, "y": y, "n": n, "seed": seed,
            "reference": _flag(_one(params, "reference"), "reference", True),
            "draw": _flag(_one(params, "draw"), "draw", False),
            "with_samples": _flag(_one(params, "samples"), "samples", True)}


def problem_info(explorer: Explorer) -> dict:
    """Per problem of the explorer's models: how the page draws it, its names, the observation it opens
    with and what its view needs beyond each drawing (:meth:`innbench.problems.Problem.view_info`: the arm's
    canvas, the impact slider's range)."""
    out = {}
    for entry in explorer.models.values():
        p = entry.model.problem
        if p.name in out:
            continue
        info = {"view": entry.describe()["view"], "x_names": list(p.x_names), "y_names": list(p.y_names),
                "y_dim": p.y_dim, "default_y": np.asarray(explorer.default_observation(entry))[0].tolist()}
        info.update(p.view_info())
        info["default_y"] = [v if np.isfinite(v) else None for v in info["default_y"]]
        out[p.name] = info
    return out


class ExplorerServer(ThreadingHTTPServer):
    """A threading HTTP server for one :class:`Explorer`; ``url`` is where it listens."""

    daemon_threads = True

    def __init__(self, address, explorer: Explorer, quiet: bool = True, request_time_limit: float | None = 60.0):
        import ipaddress

        self.explorer = explorer
        self.request_time_limit = request_time_limit
        try:
            self.loopback_only = ipaddress.ip_address(address[0]).is_loopback
        except ValueError:  # a name: loopback only where it is localhost
            self.loopback_only = address[0].lower() == "localhost"
        self.quiet = quiet
        pkg = resources.files("innbench.explore").joinpath("static")
        self.static = {name: pkg.joinpath(name).read_bytes() for name in STATIC}
        self._models_json = None
        self._models_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def models_json(self) -> dict:
        """``/api/models``, made once (problem facts simulate a little)."""
        with self._models_lock:
            if self._models_json is None:
                self._models_json = {"models": [e.describe() for e in self.explorer.models.values()],
                                     "problems": problem_info(self.explorer), "max_samples": MAX_SAMPLES,
                                     "metrics": metric_info()}
            return self._models_json


class _Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "innbench-explore"
    protocol_version = "HTTP/1.1"  # keep-alive: the page's many small requests reuse connections
    # headers and body go out in two writes: with Nagle's algorithm the body waited for the client's delayed
    # ACK of the headers, 40 ms per response
    disable_nagle_algorithm = True

    def do_GET(self):
        if not self._acceptable():
            return
        url = urlsplit(self.path)
        try:
            if url.path in ("/", "/index.html"):
                self._send(200, self.server.static["index.html"], STATIC["index.html"])
            elif url.path.startswith("/static/") and url.path[len("/static/"):] in STATIC:
                name = url.path[len("/static/"):]
                self._send(200, self.server.static[name], STATIC[name])
            elif url.path == "/api/models":
                self._json(200, self.server.models_json())
            elif url.path == "/api/posterior":
                query = parse_posterior_query(url.query)
                with self._computing() as deadline:
                    answer = self.server.explorer.posterior(**query)
                if deadline.reason is not None:
                    return  # the client is gone: nobody to answer
                self._json(200, answer)
            else:
                raise ExploreError(f"path: no such page or endpoint {url.path!r} (the page is /; the endpoints are "
                                   "/api/models and /api/posterior)", 404, "path")
        except ExploreError as exc:
            self._json(exc.status, {"error": str(exc), "parameter": exc.parameter, "status": exc.status})
        except TimeLimitError as exc:
            if not exc.called_off:  # a client that left gets no answer
                self._json(503, {"error": f"{exc}; ask for fewer samples, or start the explorer with a longer "
                                          "--request-time-limit", "parameter": "time", "status": 503})
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page went away (a newer request, a closed tab)
        except Exception as exc:  # a bug or a model that fails: answer, log, keep serving
            traceback.print_exc(file=sys.stderr)
            self._json(500, {"error": f"internal error: {type(exc).__name__}: {exc}", "parameter": None,
                             "status": 500})

    @contextlib.contextmanager
    def _computing(self):
        """The request's computation: stopped at the server's per-request time limit, and called off as soon as
        the client closes its connection (a watcher thread looks for the end of the stream)."""
        # (no limit: a limit no request reaches, so that a client that leaves still calls its request off)
        with time_limit(self.server.request_time_limit or 1e9, "time", "the request") as deadline:
            done = threading.Event()
            watcher = threading.Thread(target=_watch_client, args=(self.connection, deadline, done), daemon=True)
            watcher.start()
            try:
                yield deadline
            finally:
                done.set()
                watcher.join()

    def _acceptable(self) -> bool:
        """Refuse (and answer) a request with a body or, on a loopback server, a foreign ``Host``."""
        if self.headers.get("Transfer-Encoding") or (self.headers.get("Content-Length") or "0").strip() != "0":
            self.close_connection = True  # whatever follows on this connection is the body: never a request
            self._json(400, {"error": "body: requests to the explorer carry no body", "parameter": "body",
                             "status": 400})
            return False
        if self.server.loopback_only:
            host = (self.headers.get("Host") or "").strip().lower()
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if host and name not in ("localhost", "127.0.0.1", "[::1]"):  # (browsers always send a Host)
                self.close_connection = True
                self._json(403, {"error": f"host: {host!r} is not this machine's loopback name; the explorer "
                                          "answers http://127.0.0.1 and http://localhost only (start it with "
                                          "--host to serve other names)", "parameter": "host", "status": 403})
                return False
        return True

    def _refuse(self):
        self.close_connection = True  # a body may follow: never read it as a request
        self._json(405, {"error": f"method: {self.command} is not served; use GET", "parameter": "method",
                         "status": 405}, allow="GET")

    def __getattr__(self, name: str):
        # every method other than GET (HEAD, POST, OPTIONS, unknown ones) is answered by _refuse, not by
        # http.server's 501 HTML page
        if name.startswith("do_"):
            return self._refuse
        raise AttributeError(name)

    def _json(self, status: int, obj, allow: str | None = None) -> None:
        self._send(status, json.dumps(obj, allow_nan=False, separators=(",", ":")).encode(),
                   "application/json; charset=utf-8", allow)

    def _send(self, status: int, body: bytes, content_type: str, allow: str | None = None) -> None:
        self.send_response(status)
        if allow:
            self.send_header("Allow", allow)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        if not self.server.quiet:
            super().log_message(format, *args)


def _watch_client(sock, deadline, done: threading.Event, every: float = 0.1) -> None:
    """Call ``deadline`` off when the client at the other end of ``sock`` closes its connection (the stream ends
    while the request is computing); return when ``done`` is set or more data (a next request) arrives."""
    import select
    import socket

    while not done.is_set():
        try:
            readable, _, _ = select.select([sock], [], [], every)
            if readable:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    deadline.cancel("the client closed the connection")
                return  # ended, or a next request is waiting: either way nothing more to watch
        except (OSError, ValueError):  # the socket is closed or broken: the client is gone
            deadline.cancel("the client's connection broke")
            return


def make_server(explorer: Explorer, host: str = "127.0.0.1", port: int = 8765, quiet: bool = True,
                request_time_limit: float | None = 60.0) -> ExplorerServer:
    """A server for ``explorer`` bound to ``host:port`` (port 0: a free one), not yet serving: call its
    ``serve_forever`` (e.g. in a thread) and ``shutdown``. A request still computing after
    ``request_time_limit`` seconds is answered with a 503 (None: no limit)."""
    try:
        server = ExplorerServer((host, port), explorer, quiet=quiet, request_time_limit=request_time_limit)
    except OSError as exc:
        raise ValueError(f"--port: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    if not server.loopback_only:
        print(f"innbench explore: warning: listening on {host}, beyond this machine: anyone who can reach it "
              "can list your models (with their paths) and use its CPU", file=sys.stderr, flush=True)
    return server


def serve(explorer: Explorer, host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True,
          quiet: bool = True, request_time_limit: float | None = 60.0) -> None:
    """Serve ``explorer`` until interrupted (Ctrl-C), opening the page in the default browser."""
    server = make_server(explorer, host, port, quiet, request_time_limit)
    problems = sorted({e.model.problem.name for e in explorer.models.values()})
    try:
        print(f"innbench explore: {len(explorer.models)} models ({', '.join(problems)}) at {server.url}  "
              "(Ctrl-C stops)", flush=True)

        if open_browser:
            import webbrowser

            threading.Timer(0.3, webbrowser.open, (server.url,)).start()
        server.serve_forever()
    except KeyboardInterrupt:
        print("innbench explore: stopped", flush=True)
    finally:
        server.server_close()
