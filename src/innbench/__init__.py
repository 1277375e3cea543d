"""innbench: ambiguous inverse problems solved with invertible neural networks, and a benchmark for them."""

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
