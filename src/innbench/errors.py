"""Errors innbench raises that more than one layer shares."""

__all__ = ["ObservationError"]


class ObservationError(ValueError):
    """An observation is malformed or cannot be produced by the problem's forward process.

    Raised by :meth:`Problem.validate_observations` (and so by every sampler and scorer) with a message
    that names the rows and what was expected. A ``ValueError``, so ``except ValueError`` catches it too.

    Example:
        >>> from innbench import ObservationError, get_problem
        >>> try:
        ...     get_problem("kinematics").validate_observations([[5.0, 0.0]])
        ... except ObservationError as err:
        ...     print("refused:", "out of reach" in str(err))
        refused: True
    """
