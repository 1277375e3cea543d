"""A live posterior explorer: a local web page that draws saved models' posteriors for an observation the
user picks, beside the exact reference, with the evaluation's numbers (``innbench explore``).

The server (:mod:`innbench.explore.server`) is the standard library's threading HTTP server bound to
127.0.0.1; the page, its script and its style sheet are files of this package (``static/``), so nothing is
fetched from the network. All computing happens in Python (:class:`Explorer`): the samples, the reference,
the metrics and the drawings' geometry (each problem's :meth:`~innbench.problems.Problem.view_drawing`); the page
only draws.

Endpoints, for the page and for scripts (JSON; errors are ``{"error": message, "parameter": name,
"status": code}`` with a 4xx status, and the server stays up):

``GET /api/models``
    ``{"models": [...], "problems": {...}, "max_samples": 20000}``. Each model: ``name`` (its directory's
    base name: what requests call it), ``label`` (its benchmark label where the directory was saved by
    ``innbench bench --save-models``; a label naming one model may stand for its name), ``model``,
    ``title``, ``problem``, ``view`` (``kinematics``, ``ballistics`` or ``pairs``), ``x_dim``, ``y_dim``,
    the names, ``n_parameters``, ``dim_z``, ``seed``, ``facts``, ``train_info`` (without per-step curves) and
    ``stored`` (its grid's metrics from ``--db``, or null). Each problem: its ``view``, names and the
    observation the page opens with (``default_y``).

``GET /api/posterior?model=NAME&y=1.5,0&n=1000``
    ``{"samples": [[...], ...] (n x x_dim), "reference": [[...], ...] (n x x_dim), "metrics": {...},
    "model", "problem", "y", "n", "seed", "reference_info", "cached"}``. ``metrics``: ``err_post`` (squared
    MMD against the reference), ``err_resim`` (mean distance; ``err_resim_sq``: mean squared),
    ``invalid_fraction``, ``outside_support_fraction``, ``sample_ms`` (one ``sample(y, n)`` call),
    ``reference_ms``: the numbers :func:`innbench.api.evaluate` gives for this one observation with
    ``n_samples=n`` and the same ``seed``. Parameters: ``model`` (required), ``y`` (one observation,
    comma-separated; default: the problem's showcase observation), ``n`` (1 to 20,000, default 1000),
    ``seed`` (default 0), ``reference=0`` (no reference and no Err_post: fast, for dragging), ``draw=1``
    (add the page's geometry, ``drawing``), ``samples=0`` (``samples`` and ``reference`` null: the page's
    arms and throws need only the geometry). Status 400: a malformed or unknown parameter, ``n`` out of
    range, a ``y`` of the wrong length, NaN, or one the problem refuses (a target out of the arm's reach:
    the problem's own reason); 404: an unknown model.

Samples and references are kept in small in-memory LRU caches, per ``(model, y, n, seed)`` and per
``(problem, y, n)``: a reference is drawn once for all models of a problem.

Example::

    innbench bench --preset quick --save-models models/
    innbench explore --models models/ --db results/innbench.db
    curl 'http://127.0.0.1:8765/api/posterior?model=kinematics-cinn-seed0&y=1.5,0&n=1000'
"""

from .server import ExplorerServer, make_server, parse_posterior_query, serve
from .session import MAX_SAMPLES, ExploredModel, ExploreError, Explorer, find_model_dirs, load_models

__all__ = ["MAX_SAMPLES", "ExploreError", "ExploredModel", "Explorer", "ExplorerServer", "find_model_dirs",
           "load_models", "make_server", "parse_posterior_query", "serve"]
