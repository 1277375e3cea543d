"""Tasks of the simulation-based-inference benchmark (sbibm; Lueckmann et al. 2021) with exact posteriors
(:mod:`~innbench.problems.sbi.problem`; the ODE tasks in :mod:`~innbench.problems.sbi.ode`) and sbibm's published
observations (``data/sbibm_observations.json``)."""

from .ode import SIR, LotkaVolterra
from .problem import SBIBM_SOURCE, SLCP, BernoulliGLM, GaussianLinear, GaussianMixture, TwoMoons, sbibm_observations

__all__ = ["SBIBM_SOURCE", "SIR", "SLCP", "BernoulliGLM", "GaussianLinear", "GaussianMixture", "LotkaVolterra",
           "TwoMoons", "sbibm_observations"]
