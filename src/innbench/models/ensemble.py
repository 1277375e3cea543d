"""Posterior ensembles: ``members=K`` copies of one conditional model, trained on the same simulations from
different seeds, whose posterior is the equal-weight mixture of theirs.

With a small simulation budget a single network overfits its training set and comes out over-confident
(measured: docs/journal/recipes_in_code.md#posteriorensemble). Averaging the members' densities is the cheapest
known remedy (Lakshminarayanan et al. 2017, "deep ensembles"); it costs K times the training and sampling time
and no simulations.

Any conditional model takes the option: ``build_model("cinn", problem, members=4)`` (and every path that
builds one: ``api.train``, ``innbench train --set members=4``, a grid's model options, ``load_model``)
returns a :class:`PosteriorEnsemble` of that model. Its ``name``, ``title`` and ``facts`` are the member's;
``n_parameters`` counts all members (a grid's ``params`` target therefore sizes the ensemble as a whole).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from ..problems import get_problem
from .base import Model
from .size import check_members, size_guard, size_options

__all__ = ["PosteriorEnsemble", "ensemble_class"]

_CLASSES: dict[type, type] = {}


def ensemble_class(member: type[Model]) -> type[Model]:
    """The ensemble class of a conditional model class: a subclass of both :class:`PosteriorEnsemble` and
    ``member``, so that ``isinstance(ens, member)`` holds and the class facts (name, title, flags) are the
    member's.

    Example:
        >>> from innbench.models.ensemble import ensemble_class
        >>> from innbench.models.mdn import MDN
        >>> cls = ensemble_class(MDN)
        >>> cls.__name__, cls.name, issubclass(cls, MDN), ensemble_class(MDN) is cls
        ('MDNEnsemble', 'mdn', True, True)
    """
    if member not in _CLASSES:
        _CLASSES[member] = type(f"{member.__name__}Ensemble", (PosteriorEnsemble, member),
                                {"__module__": __name__, "__qualname__": f"{member.__name__}Ensemble"})
    return _CLASSES[member]


def __getattr__(name: str):
    """The ensemble class of a registered model by its name (``ConditionalINNEnsemble``), so that pickle
    finds it in a process that has not built one yet."""
    if name.endswith("Ensemble"):
        from . import _REGISTRY

        for cls in _REGISTRY.values():
            if cls.__name__ == name[: -len("Ensemble")] and cls.conditional:
                return ensemble_class(cls)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class PosteriorEnsemble(Model):
    """``members`` models of one class on one problem: member ``k`` is built (and trained) with seed
    ``seed + k``. Training (:func:`innbench.training.fit`, :func:`innbench.simbudget.fit_simulations`)
    simulates the data once and trains every member on it in turn, each with its own seed (so its own
    validation split, batch order and early stop). Samples are drawn from the members in equal shares
    and shuffled, so every prefix of them is a draw from the mixture; the density is the members' mean.

    Not built directly: the option ``members=K > 1`` of a conditional model makes one (the class is
    :func:`ensemble_class` of the member's class).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        **config: the member model's options; ``members`` is the number of members and ``seed`` the first
            member's seed.

    Example:
        >>> from innbench.models import build_model
        >>> from innbench.models.cinn import ConditionalINN
        >>> ens = build_model("cinn", "kinematics", members=3, blocks=2, hidden=32)
        >>> type(ens).__name__, isinstance(ens, ConditionalINN), len(ens.members)
        ('ConditionalINNEnsemble', True, 3)
        >>> ens.sample([[1.5, 0.0]], 6).shape
        (1, 6, 4)
    """

    is_ensemble = True

    def __init__(self, problem, **config):
        nn.Module.__init__(self)
        member_cls = next(c for c in type(self).__mro__[1:]
                          if issubclass(c, Model) and not issubclass(c, PosteriorEnsemble))
        self.problem = get_problem(problem)
        k = config["members"]
        seed = int(config.get("seed") or 0)
        custom = config.get("summary")
        members = []
        changed = size_options(config, member_cls.known_options())
        with size_guard(member_cls.name, self.problem.name, changed) as watch:
            for i in range(k):
                cfg = {**config, "members": 1, "seed": seed + i}
                if isinstance(custom, nn.Module) and i:  # each member its own copy, freshly initialised
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seed + i)
                        cfg["summary"] = _reinitialised(custom)
                members.append(member_cls(self.problem, **cfg))
                if i == 0:  # all k of them must fit: refused before the others are built
                    check_members(watch, members[0], k, member_cls.name, self.problem.name, changed)
        self.members = nn.ModuleList(members)
        self.config = {**members[0].config, "members": k, "seed": config.get("seed", members[0].config.get("seed"))}
        self.train_info: dict = {}
        self.progress = 1.0

    # -- what callers read off a model ------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.members[0].device

    def dim_z(self) -> int:
        return self.members[0].dim_z()

    # -- training: each member in turn, on the same simulations --------------------------------
    def fit_members(self, fit_one, data, seed: int, **kwargs) -> dict:
        """Train member ``k`` with ``fit_one(member, seed=seed + k, data=data, **kwargs)``; the ensemble's
        training summary sums the members' times and epochs and keeps each member's summary."""
        infos = [dict(fit_one(m, seed=seed + k, data=data, **kwargs)) for k, m in enumerate(self.members)]
        first = infos[0]
        summary = {key: first[key] for key in ("budget", "n_train", "n_validation", "device", "batch_size")
                   if key in first}
        losses = [i.get("final_loss") for i in infos]
        summary.update(
            seed=seed, members=len(infos), n_parameters=self.n_parameters(),
            train_seconds=float(sum(i.get("train_seconds") or 0.0 for i in infos)),
            final_loss=float(np.mean(losses)) if all(v is not None for v in losses) else None,
            recoveries=int(sum(i.get("recoveries") or 0 for i in infos)),
            loss_history=first.get("loss_history", []),
            member_summaries=[{k: v for k, v in i.items() if k not in ("loss_history", "validation_curve")}
                              for i in infos])
        if "epochs" in first:  # the simulation budget's early stopping
            summary.update(epochs=int(sum(i["epochs"] for i in infos)),
                           best_epoch=[i.get("best_epoch") for i in infos],
                           stopped="; ".join(sorted({str(i.get("stopped")) for i in infos})),
                           validation_curve=first.get("validation_curve", []))
        self.eval()
        self.train_info = summary
        return summary

    # -- inference ---------------------------------------------------------------------------------
    @torch.inference_mode()
    def sample(self, y, n: int, seed: int | None = 0, batch_size: int = 400_000,
               round_discrete: bool = True) -> np.ndarray:
        """``n`` draws per observation from the mixture of the members' posteriors: ``(len(y), n, x_dim)``.
        Member ``k`` gives ``n // K`` draws (one more for the first ``n % K``), with seed ``(seed, k)``; the
        draws are shuffled per observation."""
        from ..params import count

        n = count(n, "n")
        y = self.problem.validate_observations(y, "y")
        base = 0 if seed is None else int(seed)
        kk = len(self.members)
        shares = [n // kk + (k < n % kk) for k in range(kk)]
        parts = [m.sample(y, s, seed=int(np.random.SeedSequence([base, k]).generate_state(1)[0]),
                          batch_size=batch_size, round_discrete=round_discrete)
                 for k, (m, s) in enumerate(zip(self.members, shares, strict=True)) if s]
        out = np.concatenate(parts, axis=1)
        order = np.random.default_rng([base, 7753]).permuted(np.tile(np.arange(n), (len(out), 1)), axis=1)
        return np.take_along_axis(out, order[..., None], axis=1)

    @torch.inference_mode()
    def log_prob(self, x, y) -> np.ndarray:
        """The mixture's log density: ``log mean_k q_k(x | y)``."""
        if not self.has_density:
            return self.members[0].log_prob(x, y)  # raises NotImplementedError with the member's message
        lps = np.stack([m.log_prob(x, y) for m in self.members])
        return np.logaddexp.reduce(lps, axis=0) - np.log(len(self.members))

    def set_normalization(self, x, y) -> None:
        for m in self.members:
            m.set_normalization(x, y)

    def training_loss(self, x, c):
        raise TypeError("a posterior ensemble trains its members one by one (fit_members); train the ensemble "
                        "with innbench.training.fit or innbench.simbudget.fit_simulations")


def _reinitialised(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose layers with ``reset_parameters`` are drawn afresh (the caller seeds torch)."""
    fresh = copy.deepcopy(module)
    for sub in fresh.modules():
        if callable(getattr(sub, "reset_parameters", None)):
            sub.reset_parameters()
    return fresh
