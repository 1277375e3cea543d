"""Neural likelihood estimation: a conditional flow for ``p(y | x)`` trained once, MCMC per observation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
import zuko

from .base import Model, ModelFacts
from .settings import ModelSettings

__all__ = ["LikelihoodQuery", "LikelihoodQuerySettings", "NeuralLikelihood", "QueryMCMCSettings"]


@dataclass(frozen=True)
class QueryMCMCSettings(ModelSettings):
    """The options of a per-query MCMC on a learned likelihood (:class:`LikelihoodQuery`, and the sequential
    :class:`innbench.models.sequential.SequentialNLE`)."""

    walkers: int = 0
    burn: int = 1000
    pilot: int = 500
    init_draws: int = 20000
    max_thin: int = 200
    use_symmetries: bool = True


@dataclass(frozen=True)
class LikelihoodQuerySettings(QueryMCMCSettings):
    """The options every :class:`LikelihoodQuery` model has: its per-query MCMC and ensembles."""

    members: int = 1


@dataclass(frozen=True)
class NeuralLikelihoodSettings(LikelihoodQuerySettings):
    """The options of :class:`NeuralLikelihood` (model ``nle``), each documented in its docstring's Args."""

    width_field: ClassVar[str | None] = "hidden"

    transforms: int = 4
    hidden: int = 128
    layers: int = 3
    bins: int = 8


class LikelihoodQuery(Model):
    """The base of models that learn a likelihood (or a likelihood ratio) once and run MCMC per query on
    ``log p(x) + log_likelihood(x, y*)``: NLE (:class:`NeuralLikelihood`) and NRE
    (:class:`innbench.models.nre.NeuralRatio`).

    Subclasses implement :meth:`network_log_likelihood` (on standardised tensors; :meth:`log_likelihood` turns
    it into the problem's units and shapes) and call :meth:`check_query_problem` in ``build``; their
    settings carry the MCMC options ``walkers``, ``burn``, ``pilot``, ``init_draws``, ``max_thin`` and
    ``use_symmetries``.
    """

    amortized = False
    sample_in_chunks = False
    requires_prior_density = True
    sampling_options = ("walkers", "burn", "pilot", "init_draws", "max_thin", "use_symmetries")
    mixes = "likelihood"

    def check_query_problem(self, what: str) -> None:
        """Refuse a problem without a prior density, with a deterministic simulator or structured observations,
        and bad MCMC options, naming this model and ``what`` it learns."""
        p = self.problem
        if p.structured:
            raise ValueError(f"model {self.name!r} {what} and needs vector observations; problem "
                             f"{p.name!r} observes a {p.observation_kind}")
        try:
            lp = np.asarray(p.log_prior(p.sample_prior(4, np.random.default_rng(0))), dtype=float)
        except NotImplementedError:
            raise ValueError(f"problem {p.name!r} has no prior density (log_prior): model {self.name!r} runs MCMC "
                             "on the prior times the learned likelihood; give the problem a log_prior") from None
        if lp.shape != (4,) or not np.isfinite(lp).all():
            raise ValueError(f"problem {p.name!r}: log_prior of prior draws must be finite, got {lp.tolist()}")
        if not p.stochastic:
            raise ValueError(f"problem {p.name!r} has a deterministic simulator: y given x has no density for "
                             f"model {self.name!r} to learn; use a posterior model (nsf, cinn, ...)")
        from ..reference.mcmc import check_sampler_options

        check_sampler_options(self.config, min_steps=50, dim=self.problem.x_dim)
        self.last_diagnostics = {}

    def network_log_likelihood(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The learned log-likelihood (up to a constant in ``x``) of standardised ``x (N, x_dim)`` and the model's
        condition ``c (N, ...)`` of the observations, ``(N,)``."""
        raise NotImplementedError

    def log_likelihood(self, x, y) -> np.ndarray:
        """The learned log-likelihood (up to a constant in ``x``) in the problem's units: for ``x (k, x_dim)`` and
        one raw observation ``y (y_dim,)`` an array ``(k,)``; for ``x (m, k, x_dim)`` and ``y (m, y_dim)`` one row
        per observation, ``(m, k)``."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        single = x.ndim == 2
        if single:
            x, y = x[None], y[None]
        m, k, d = x.shape
        with torch.inference_mode():
            xt = self.standardize_x(torch.as_tensor(x.reshape(-1, d), dtype=torch.float32, device=self.device))
            c = self.condition(torch.as_tensor(y, dtype=torch.float32, device=self.device))
            lp = self.network_log_likelihood(xt, c.repeat_interleave(k, 0)).reshape(m, k)
        lp = lp.double().cpu().numpy()
        return lp[0] if single else lp

    def sample_query(self, y, n, generator, log_likelihood=None):
        """MCMC per observation on ``log p(x) + log_likelihood(x, y)`` (None: this model's
        :meth:`log_likelihood`; an ensemble passes the mixture of its members')."""
        from ..reference.mcmc import batched_posterior

        c = self.config
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        problem = self.problem
        if not c["use_symmetries"] and problem.symmetries:
            problem = _without_symmetries(problem)
        walkers = int(c["walkers"]) or max(64, 8 * problem.x_dim)
        x, info = batched_posterior(problem, log_likelihood or self.log_likelihood, y, n,
                                    np.random.default_rng(seed), walkers=walkers, burn=int(c["burn"]),
                                    pilot=int(c["pilot"]), init_draws=int(c["init_draws"]),
                                    max_thin=int(c["max_thin"]))
        self.last_diagnostics = {k: info[k].tolist() for k in ("rhat", "ess", "steps", "seconds")}
        return x


class NeuralLikelihood(LikelihoodQuery):
    r"""Neural likelihood estimation (NLE; Papamakarios, Sterratt & Murray 2019, non-sequential): a
    conditional neural spline flow learns the simulator's likelihood ``q(y | x)`` from the simulations,
    and each query runs ensemble MCMC on ``log p(x) + log q(y* | x)`` with the problem's own prior density
    (:func:`innbench.reference.mcmc.batched_posterior`: emcee's differential-evolution move, vectorised over the
    observations of one call so that the flow is evaluated once per half-step for all of them).

    Loss: ``-log q(y | x) / dim(y)`` on standardised ``y`` given standardised ``x`` (after the logit of
    bounded parameters). The flow is zuko's ``NSF`` over ``y`` (``transforms`` 4 autoregressive
    rational-quadratic spline transforms, ``bins`` 8, MADE networks of ``layers`` x ``hidden``).

    Why it is here: the likelihood is often a simpler function than the posterior. On two moons
    ``q(y | x)`` is one half-ring whose position moves smoothly with ``x``, the same shape for every
    ``x``, so every simulation teaches the flow about the ring's thin profile; a posterior estimator must
    learn thin crescents whose orientation changes with ``y*``. Training is amortized (once), inference is
    not: each observation costs an MCMC run (seconds; ``amortized = False``), and the amortization figure
    draws it with the trained models at that per-query cost.

    Needs a problem with a prior density (``log_prior``: the SBI tasks, a
    :class:`innbench.SimulatorProblem` given one) and a stochastic simulator with vector observations
    (a deterministic ``y = f(x)`` has no likelihood density to learn). The problem's declared exact
    symmetries (:attr:`innbench.problems.Problem.symmetries`) are used by the sampler as for the MCMC
    baseline: chains run on the fundamental domain and draws are mirrored, which balances mirrored
    modes exactly (``use_symmetries=False`` switches this off). MCMC options: ``walkers`` (0: ``max(64,
    8 dim(x))``), ``burn``, ``pilot``, ``init_draws``, ``max_thin`` as in
    :func:`innbench.reference.mcmc.batched_posterior`.
    ``members=K`` (default 1) builds an ensemble (:class:`innbench.models.ensemble.PosteriorEnsemble`) of K
    likelihood models trained from seeds ``seed .. seed + K - 1`` on the same simulations; it mixes their
    likelihoods (``mixes = "likelihood"``), not their posteriors: one MCMC per query on
    ``log p(x) + log sum_k w_k q_k(y* | x)``. It costs K times the training and the per-query flow calls.
    Not the default: docs/journal/recipes_in_code.md#nle (ensemble).
    ``last_diagnostics`` holds R-hat, ESS, steps and seconds per observation of the latest sample call.
    ``dim(z) = dim(y)`` (the flow's latent is the observation's).

    Defaults: the NSF's flow settings, unchanged after probes on validation observations:
    docs/journal/recipes_in_code.md#nle (defaults).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` with ``log_prior``, a
            stochastic simulator and vector observations.
        transforms: spline transforms of the flow (4).
        hidden: width of the MADE networks (128); the width option a budget's ``params`` scales.
        layers: hidden layers of the MADE networks (3).
        bins: spline bins per dimension (8).
        walkers: MCMC walkers per observation (0: ``max(64, 8 dim(x))``).
        burn: burn-in steps (1000).
        pilot: pilot steps for the autocorrelation time (500).
        init_draws: prior draws the walkers start from by importance resampling (20,000).
        max_thin: the largest thinning of the chains (200).
        use_symmetries: use the problem's exact symmetries (True).
        members: an ensemble of that many likelihood models, their likelihoods mixed (1).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        Sampling runs MCMC per observation (seconds each after training), so only the construction and the
        learned likelihood are run here:

        >>> import numpy as np
        >>> from innbench.models import build_model
        >>> nle = build_model("nle", "two_moons", hidden=32)
        >>> nle.amortized, nle.dim_z()
        (False, 2)
        >>> nle.log_likelihood(np.zeros((3, 2)), np.zeros(2)).shape
        (3,)

        ```python
        from innbench import api
        nle = api.train("two_moons", "nle", simulations=1000)
        samples = nle.sample([[0.0, 0.0]], 1000)    # MCMC on log p(x) + log q(y* | x)
        nle.last_diagnostics                        # R-hat, ESS, steps, seconds
        ```
    """

    name = "nle"
    title = "neural likelihood + MCMC"
    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=False, equation="NLE")
    Settings = NeuralLikelihoodSettings

    def build(self):
        self.check_query_problem("learns the density of y")
        p, c = self.problem, self.config
        self.flow = zuko.flows.NSF(p.y_dim, p.x_dim, bins=c["bins"], transforms=c["transforms"],
                                   hidden_features=[c["hidden"]] * c["layers"], randperm=False)

    def dim_z(self):
        return self.problem.y_dim

    def loss(self, x, y):
        nll = -self.flow(x).log_prob(y).mean() / self.problem.y_dim
        return nll, {"nll": float(nll.detach())}

    def network_log_likelihood(self, x, c):
        """The learned ``log q(y | x)`` (up to a constant in ``x``) of standardised ``x (N, x_dim)`` and
        ``c (N, ...)``."""
        return self.flow(x).log_prob(c)


def _without_symmetries(problem):
    """A shallow copy of ``problem`` that declares no symmetries."""
    import copy

    other = copy.copy(problem)
    other.symmetries = ()
    return other
