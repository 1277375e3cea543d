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

__version__ = "0.2.0"

from .problems import (
    ObservationError,
    Problem,
    SimulatorProblem,
    get_problem,
    list_problems,
    register_problem,
)

__all__ = [
    "ObservationError",
    "Problem",
    "SimulatorProblem",
    "__version__",
    "get_problem",
    "list_problems",
    "register_problem",
]
