"""Posterior ensembles: trained models of one problem composed, their posterior the weighted mixture of theirs.

With a small simulation budget a single network overfits its training set and comes out over-confident
(measured: docs/journal/recipes_in_code.md#posteriorensemble). Averaging the members' densities is the cheapest
known remedy (Lakshminarayanan et al. 2017, "deep ensembles"); it costs K times the training and sampling time
and no simulations.

Two ways to make one:

- the option ``members=K`` of any model that has it (every conditional model, and NLE):
  ``build_model("cinn", problem, members=4)`` (and every
  path that builds one: ``api.train``, ``innbench train --set members=4``, a grid's model options,
  ``load_model``) builds K untrained members with seeds ``seed .. seed + K - 1``; the trainers
  (:func:`innbench.training.fit`, :func:`innbench.simbudget.fit_simulations`) train each on the same
  simulations with its own seed;
- :class:`PosteriorEnsemble` of models trained any way, with weights.

What is mixed is what the members learned (their class's ``mixes``): a posterior model's ensemble is the
mixture of the posteriors; neural likelihood estimation's (``nle``) is one MCMC per query on the prior times
the mixture of the learned likelihoods (a mixture of likelihoods is not a mixture of posteriors: each
member's posterior would weigh its own evidence ``q_k(y*)``).

Its ``name``, ``title`` and ``facts`` are the members'; ``n_parameters`` counts all members (a grid's
``params`` target therefore sizes the ensemble as a whole).
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import torch
from torch import nn

from .base import Model
from .estimator import Estimator
from .size import check_members, size_guard, size_options

__all__ = ["PosteriorEnsemble", "build_ensemble"]

#: what an ensemble says about itself as its members do (the model's facts, all members alike)
_FROM_MEMBERS = ("name", "title", "facts", "conditional", "trainable", "amortized", "sequential",
                 "sample_in_chunks",
                 "requires_likelihood", "requires_prior_density", "width_option", "defaults", "mixes",
                 "last_diagnostics")


class PosteriorEnsemble(Estimator):
    """Trained models of one class on one problem, composed: the posterior is the weighted mixture
    ``sum_k w_k q_k(x | y)`` (or, for likelihood models, ``p(x) sum_k w_k q_k(y | x)`` normalised).

    Samples are drawn from the members in shares of ``n`` by weight (equal weights: ``n // K`` each, one
    more for the first ``n % K``) and shuffled, so every prefix of them is a draw from the mixture; the
    density is the weighted mean of the members' densities. Members that learned a likelihood (their
    class's ``mixes`` is ``"likelihood"``: ``nle``) are sampled instead by the first member's per-query
    sampler on the mixture of their likelihoods (:meth:`log_likelihood`).

    Arguments:
        members: the models (:class:`innbench.models.Model`), all of one class and one problem.
        weights: the mixture's weights, one positive number per member (normalised to sum to one; None:
            equal weights).

    Example:
        >>> from innbench.models import build_model
        >>> from innbench.models.ensemble import PosteriorEnsemble
        >>> a, b = (build_model("mdn", "kinematics", hidden=32, seed=s) for s in (0, 1))
        >>> ens = PosteriorEnsemble([a, b], weights=[3, 1])
        >>> ens.name, ens.weights, ens.sample([[1.5, 0.0]], 8).shape
        ('mdn', (0.75, 0.25), (1, 8, 4))
        >>> build_model("cinn", "kinematics", members=3, blocks=2, hidden=32).weights
        (0.3333333333333333, 0.3333333333333333, 0.3333333333333333)
    """

    def __init__(self, members, weights=None):
        super().__init__()
        members = list(members)
        if not members or not all(isinstance(m, Model) for m in members):
            raise ValueError(f"members: expected a non-empty list of innbench models, got "
                             f"{[type(m).__name__ for m in members]}")
        first = members[0]
        if any(type(m) is not type(first) or m.problem.name != first.problem.name for m in members):
            raise ValueError(f"members: expected models of one class on one problem, got "
                             f"{[(m.name, m.problem.name) for m in members]}")
        k = len(members)
        w = np.ones(k) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (k,) or not np.isfinite(w).all() or (w <= 0).any():
            raise ValueError(f"weights: expected {k} positive finite numbers (one per member), got {weights!r}")
        self.members = nn.ModuleList(members)
        self.weights = tuple(float(v) for v in w / w.sum())
        self.problem = first.problem
        self.config = {**first.config, "members": k}
        self.train_info: dict = {}

    def __getattr__(self, name):
        if name in _FROM_MEMBERS:
            return getattr(self.members[0], name)
        return super().__getattr__(name)

    # -- what callers read off a model ------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.members[0].device

    @property
    def has_density(self) -> bool:
        return self.members[0].has_density

    def dim_z(self) -> int:
        return self.members[0].dim_z()

    def n_parameters(self) -> int:
        """The trainable parameters of all members together."""
        return sum(m.n_parameters() for m in self.members)

    def round_discrete(self, samples: np.ndarray) -> np.ndarray:
        return self.members[0].round_discrete(samples)

    def variant_title(self, label: str, options: dict, title: str | None = None) -> str:
        return self.members[0].variant_title(label, options, title)

    def known_options(self) -> dict:
        return self.members[0].known_options()

    def configure(self, **changes) -> None:
        """:meth:`innbench.models.Model.configure` on every member."""
        for m in self.members:
            m.configure(**changes)
        self.config = {**self.config, **changes}

    # -- training: each member in turn, on the same simulations --------------------------------
    def trainable_members(self) -> list[Model]:
        return list(self.members)

    def set_normalization(self, x, y) -> None:
        for m in self.members:
            m.set_normalization(x, y)

    def record_training(self, summaries: list[dict], seed: int) -> dict:
        """The ensemble's training summary: the members' times and epochs summed, each member's summary kept."""
        first = summaries[0]
        summary = {key: first[key] for key in ("budget", "n_train", "n_validation", "device", "batch_size")
                   if key in first}
        losses = [i.get("final_loss") for i in summaries]
        summary.update(
            seed=seed, members=len(summaries), n_parameters=self.n_parameters(),
            train_seconds=float(sum(i.get("train_seconds") or 0.0 for i in summaries)),
            final_loss=float(np.mean(losses)) if all(v is not None for v in losses) else None,
            recoveries=int(sum(i.get("recoveries") or 0 for i in summaries)),
            loss_history=first.get("loss_history", []),
            member_summaries=[{k: v for k, v in i.items() if k not in ("loss_history", "validation_curve")}
                              for i in summaries])
        if "epochs" in first:  # the simulation budget's early stopping
            summary.update(epochs=int(sum(i["epochs"] for i in summaries)),
                           best_epoch=[i.get("best_epoch") for i in summaries],
                           stopped="; ".join(sorted({str(i.get("stopped")) for i in summaries})),
                           validation_curve=first.get("validation_curve", []))
        self.eval()
        self.train_info = summary
        return summary

    # -- inference ---------------------------------------------------------------------------------
    def shares(self, n: int) -> list[int]:
        """How many of ``n`` draws each member gives: ``n * w_k`` rounded down, the rest one each to the
        members with the largest remainders (ties: the first)."""
        exact = np.asarray(self.weights) * n
        counts = np.floor(exact + 1e-9).astype(int)
        rest = n - int(counts.sum())
        order = sorted(range(len(counts)), key=lambda k: (-(exact[k] - counts[k]), k))
        for k in order[:rest]:
            counts[k] += 1
        return counts.tolist()

    @torch.inference_mode()
    def sample(self, y, n: int, seed: int | None = 0, batch_size: int = 400_000,
               round_discrete: bool = True) -> np.ndarray:
        """``n`` draws per observation from the mixture of the members' posteriors: ``(len(y), n, x_dim)``.
        Member ``k`` gives its share (:meth:`shares`) with seed ``(seed, k)``; the draws are shuffled per
        observation."""
        from ..params import count

        if self.mixes == "likelihood":  # one per-query sampler on the mixture of the learned likelihoods
            first = self.members[0]
            query = functools.partial(first.sample_query, log_likelihood=self.log_likelihood)
            return first.sample(y, n, seed=seed, batch_size=batch_size, round_discrete=round_discrete, query=query)
        n = count(n, "n")
        y = self.problem.validate_observations(y, "y")
        base = 0 if seed is None else int(seed)
        parts = [m.sample(y, s, seed=int(np.random.SeedSequence([base, k]).generate_state(1)[0]),
                          batch_size=batch_size, round_discrete=round_discrete)
                 for k, (m, s) in enumerate(zip(self.members, self.shares(n), strict=True)) if s]
        out = np.concatenate(parts, axis=1)
        order = np.random.default_rng([base, 7753]).permuted(np.tile(np.arange(n), (len(out), 1)), axis=1)
        return np.take_along_axis(out, order[..., None], axis=1)

    def log_likelihood(self, x, y) -> np.ndarray:
        """The mixture of the members' learned likelihoods, ``log sum_k w_k q_k(y | x)``, for members that learn
        one (``nle``; the shapes of :meth:`innbench.models.nle.NeuralLikelihood.log_likelihood`)."""
        if self.mixes != "likelihood":
            raise NotImplementedError(f"model {self.name!r} learns a posterior, not a likelihood")
        lps = np.stack([m.log_likelihood(x, y) for m in self.members])
        return np.logaddexp.reduce(lps + np.log(np.asarray(self.weights)).reshape(-1, *[1] * (lps.ndim - 1)), axis=0)

    @torch.inference_mode()
    def log_prob(self, x, y) -> np.ndarray:
        """The mixture's log density: ``log sum_k w_k q_k(x | y)``."""
        if not self.has_density:
            return self.members[0].log_prob(x, y)  # raises NotImplementedError with the member's message
        lps = np.stack([m.log_prob(x, y) for m in self.members])
        if len(set(self.weights)) == 1:  # equal weights: the mean, as innbench 0.2.0 computed it
            return np.logaddexp.reduce(lps, axis=0) - np.log(len(self.members))
        return np.logaddexp.reduce(lps + np.log(np.asarray(self.weights))[:, None], axis=0)

    # -- persistence --------------------------------------------------------------------------
    def state(self) -> dict:
        """:meth:`Estimator.state`, with the mixture's weights where they are not equal."""
        out = super().state()
        if len(set(self.weights)) > 1:
            out["weights"] = list(self.weights)
        return out


def build_ensemble(cls: type[Model], problem, **config) -> PosteriorEnsemble:
    """``members = K`` untrained models of class ``cls`` with the options ``config``, member ``k`` with seed
    ``seed + k``, composed with equal weights (what ``build_model(name, problem, members=K)`` returns).

    A summary network of the user's own (``summary=`` a module) is copied for each member and drawn afresh.
    An ensemble too large for memory is refused after its first member is built.

    Arguments:
        cls: the model class (one with the option ``members``: a conditional model or ``nle``).
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        **config: the member's options, ``members`` the number of members and ``seed`` the first member's.
    """
    from .. import params as P
    from ..problems import get_problem

    if "members" not in cls.defaults:
        raise ValueError(f"members: model {cls.name!r} has no ensembles; members=K builds them of conditional "
                         "models and of nle (or compose trained models with PosteriorEnsemble)")
    k = P.count(config["members"], "members")
    problem = get_problem(problem)
    seed = int(config.get("seed") or 0)
    custom = config.get("summary")
    members = []
    changed = size_options(config, cls.known_options())
    with size_guard(cls.name, problem.name, changed) as watch:
        for i in range(k):
            cfg = {**config, "members": 1, "seed": seed + i}
            if isinstance(custom, nn.Module) and i:  # each member its own copy, freshly initialised
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed + i)
                    cfg["summary"] = _reinitialised(custom)
            members.append(cls(problem, **cfg))
            if i == 0:  # all k of them must fit: refused before the others are built
                check_members(watch, members[0], k, cls.name, problem.name, changed)
    ens = PosteriorEnsemble(members)
    ens.config["seed"] = config.get("seed", members[0].config.get("seed"))
    return ens


def _reinitialised(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose layers with ``reset_parameters`` are drawn afresh (the caller seeds torch)."""
    fresh = copy.deepcopy(module)
    for sub in fresh.modules():
        if callable(getattr(sub, "reset_parameters", None)):
            sub.reset_parameters()
    return fresh
