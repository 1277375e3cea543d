"""innbench: ambiguous inverse problems solved with invertible neural networks, and a benchmark for them.

The package's top level holds the problem API (:class:`Problem`, :class:`SimulatorProblem` and the
registry); the rest lives in submodules: :mod:`innbench.api` (train, sample, reference, evaluate),
:mod:`innbench.models`, :mod:`innbench.metrics`, :mod:`innbench.calibration`, :mod:`innbench.benchmark`
and :mod:`innbench.checks`.

Example:
    >>> import numpy as np, innbench
    >>> from innbench import api
    >>> from innbench.models import build_model
    >>> arm = innbench.get_problem("kinematics")
    >>> x, y = arm.simulate(3, np.random.default_rng(0))
    >>> model = build_model("cinn", arm)  # untrained: api.train builds and trains in one call
    >>> api.sample(model, y, n=10).shape
    (3, 10, 4)
"""

__version__ = "0.3.0"

# The problem API is imported on first use (module-level __getattr__): the problems import numpy and scipy, and
# `innbench --help` (which imports innbench.cli, and so this package) should not wait for them.
_LAZY = dict.fromkeys(("ObservationError", "Problem", "SimulatorProblem", "get_problem", "list_problems",
                       "register_problem"), "innbench.problems")

__all__ = [
    "ObservationError",
    "Problem",
    "SimulatorProblem",
    "__version__",
    "get_problem",
    "list_problems",
    "register_problem",
]


def __getattr__(name: str):
    """``innbench.get_problem`` and the rest of the problem API, imported on first use; a submodule
    (``innbench.problems``, ``innbench.api``, ...) likewise."""
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups find it directly
        return value
    if not name.startswith("_"):
        from importlib.util import find_spec

        if find_spec(f"{__name__}.{name}") is not None:
            return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
