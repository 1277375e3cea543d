"""Toy problems of the lab's INN work, the 8-mode Gaussian mixture and the linear toy
(:mod:`~innbench.problems.toys.problem`), and the mixture's figure (:mod:`~innbench.problems.toys.figures`)."""

from .problem import LABEL_MAPS, MODE_CENTRES, MODE_STD, GaussianModes, Linear

__all__ = ["LABEL_MAPS", "MODE_CENTRES", "MODE_STD", "GaussianModes", "Linear"]
