"""A problem observed through a set of i.i.d. draws (:mod:`~innbench.problems.sets.problem`) and its bundled
observations (``data/gaussian_set_observations.json``)."""

from .problem import GaussianSet

__all__ = ["GaussianSet"]
