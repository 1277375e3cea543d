"""MCMC on the exact likelihood at query time: the classical Bayesian baseline (non-amortized)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .base import Model, ModelFacts
from .settings import ModelSettings, positive, setting

__all__ = ["LikelihoodMCMC"]


@dataclass(frozen=True)
class LikelihoodMCMCSettings(ModelSettings):
    """The options of :class:`LikelihoodMCMC` (model ``mcmc``), each documented in its docstring's Args."""

    walkers: int = 0
    burn: int = 1000
    pilot: int = 500
    init_draws: int = 20000
    rhat_max: float | None = setting(None, check=positive)


class LikelihoodMCMC(Model):
    r"""Ensemble MCMC on the problem's own prior density and likelihood for every query; nothing is learned.

    The "classical Bayesian" answer the paper's outlook compares amortized inference with: for each
    observation ``y*`` it runs the problem's :meth:`~innbench.problems.Problem.likelihood_mcmc`, by default
    :func:`innbench.reference.mcmc.mcmc_posterior` (emcee with differential-evolution moves, initialised by
    importance resampling ``init_draws`` prior draws, ``burn`` + ``pilot`` steps, then draws thinned by the
    autocorrelation time; the problem's exact symmetries applied); the ODE tasks run theirs on ``log theta``
    with all observations' chains advancing together, as their reference posteriors do. It needs a
    problem that implements ``log_prior`` and ``log_likelihood`` (the SBI tasks; a
    :class:`innbench.SimulatorProblem` given both) and refuses others at construction. The cost per query
    is seconds, not milliseconds: the amortization figure shows it beside rejection ABC. ``last_diagnostics``
    holds the R-hat, ESS and likelihood evaluations per observation of the latest :meth:`sample` call.
    Unlike the reference sampler it does not refuse unconverged chains (``rhat_max`` None by default): a
    baseline reports what a practitioner's default run gives. ``dim(z)``: none (reported as 0).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` with ``log_prior`` and
            ``log_likelihood``.
        walkers: walkers per observation (0: ``max(32, 4 dim(x))``).
        burn: burn-in steps (1000).
        pilot: pilot steps for the autocorrelation time (500).
        init_draws: prior draws the walkers start from by importance resampling (20,000).
        rhat_max: refuse chains whose R-hat exceeds this (None: never refuse).
        seed: seed of the chains (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        Each query runs MCMC (seconds), so only the construction is run here:

        >>> from innbench.models import build_model
        >>> mcmc = build_model("mcmc", "gaussian_linear")
        >>> mcmc.trainable, mcmc.amortized, mcmc.n_parameters()
        (False, False, 0)

        ```python
        samples = mcmc.sample([[0.1] * 10], 1000)   # (1, 1000, 10)
        mcmc.last_diagnostics                        # R-hat, ESS, likelihood evaluations
        ```
    """

    name = "mcmc"
    title = "MCMC on the likelihood (baseline)"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="MCMC")
    width_option = None
    trainable = False
    amortized = False
    sample_in_chunks = False
    requires_likelihood = True
    Settings = LikelihoodMCMCSettings
    sampling_options = ("walkers", "burn", "pilot", "init_draws", "rhat_max")

    def build(self):
        from ..reference.mcmc import check_sampler_options, require_likelihood

        require_likelihood(self.problem)
        c = self.config
        check_sampler_options(c, min_steps=100, dim=self.problem.x_dim)
        self.last_diagnostics = {}

    def dim_z(self):
        return 0

    def sample_query(self, y, n, generator):
        c = self.config
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        x, info = self.problem.likelihood_mcmc(y, n, np.random.default_rng(seed), walkers=int(c["walkers"]) or None,
                                               burn=int(c["burn"]), pilot=int(c["pilot"]),
                                               init_draws=int(c["init_draws"]), rhat_max=c["rhat_max"])
        self.last_diagnostics = {k: info[k].tolist() for k in ("rhat", "ess", "steps", "seconds")}
        return x

    def loss(self, x, y):  # pragma: no cover - never trained
        raise RuntimeError("mcmc has nothing to train")
