"""Inverse ballistics with linear air drag (Kruse et al. 2019, Sec. 3.2): the problem
(:mod:`~innbench.problems.ballistics.problem`), its physics (:mod:`~innbench.problems.ballistics.physics`), its
figures (:mod:`~innbench.problems.ballistics.figures`) and its explorer view
(:mod:`~innbench.problems.ballistics.view`)."""

from .physics import G, K, M, impact_time, trajectory
from .problem import Ballistics

__all__ = ["Ballistics", "G", "K", "M", "impact_time", "trajectory"]
