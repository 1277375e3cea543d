"""Tasks of the simulation-based-inference benchmark (sbibm; Lueckmann et al. 2021) with exact posteriors
(:mod:`~innbench.problems.sbi.problem`) and sbibm's published observations (``data/sbibm_observations.json``)."""

from .problem import SBIBM_SOURCE, SLCP, BernoulliGLM, GaussianLinear, GaussianMixture, TwoMoons, sbibm_observations

__all__ = ["SBIBM_SOURCE", "SLCP", "BernoulliGLM", "GaussianLinear", "GaussianMixture", "TwoMoons",
           "sbibm_observations"]
