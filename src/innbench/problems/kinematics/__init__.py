"""Inverse kinematics of a 4-DOF arm on a vertical rail (Kruse et al. 2019, Sec. 3.1): the problem
(:mod:`~innbench.problems.kinematics.problem`), its figures (:mod:`~innbench.problems.kinematics.figures`) and its
explorer view (:mod:`~innbench.problems.kinematics.view`)."""

from .problem import LENGTHS, PRIOR_STD, REACH, VERTICAL_LIMIT, Kinematics

__all__ = ["LENGTHS", "PRIOR_STD", "REACH", "VERTICAL_LIMIT", "Kinematics"]
