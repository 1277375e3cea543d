"""innbench: ambiguous inverse problems solved with invertible neural networks, and a benchmark for them."""

__version__ = "0.1.0"

from .problems import (  # noqa: E402
    ObservationError,
    Problem,
    SimulatorProblem,
    get_problem,
    list_problems,
    register_problem,
)

__all__ = [
    "__version__",
    "Problem",
    "SimulatorProblem",
    "ObservationError",
    "get_problem",
    "list_problems",
    "register_problem",
]
