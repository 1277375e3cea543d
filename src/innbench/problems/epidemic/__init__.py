"""The talk's epidemic example (an SIR model with deaths and a change point in the contact rate): the problem
(:mod:`~innbench.problems.epidemic.problem`) and its bundled observations (``data/epidemic_observations.json``)."""

from .problem import DAYS, DISPERSION, INFECTED0, POPULATION, Epidemic, sir_trajectories

__all__ = ["DAYS", "DISPERSION", "INFECTED0", "POPULATION", "Epidemic", "sir_trajectories"]
