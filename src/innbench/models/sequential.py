"""Sequential rounds for one observation: truncated sequential NPE (``tsnpe``) and sequential NLE (``snle``).

A sequential estimator spends its simulation budget ``N`` on the observation ``y*`` it is asked about: round 1
simulates from the prior and trains the inner estimator (``nsf``, ``nle``, ...), each later round proposes
parameters where the current posterior for ``y*`` puts its mass, simulates them and trains again on all pairs
so far, continuing from the current weights (as sbi does). The work is therefore redone per observation
(``amortized = False``).

In innbench the trainers (:func:`innbench.simbudget.fit_simulations`, :func:`innbench.training.fit`) run round
1, once, on the first ``ceil(N / rounds)`` of the ``N`` simulations they are given (the rest are not used:
:meth:`Sequential.training_pairs`); every query (:meth:`innbench.models.Model.sample`) then runs rounds
``2..rounds`` for each observation on a copy of the round-1 estimator with ``N - ceil(N / rounds)`` fresh
simulations, so that each observation's whole procedure spends exactly ``N`` simulations (round 1 is shared by
the observations; each still counts it). ``last_simulations`` holds that count per observation of the latest
:meth:`~innbench.models.Model.sample` call, ``last_rounds`` what each round did.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import torch

from ..runtime import check_deadline
from .base import Model, ModelFacts
from .nle import QueryMCMCSettings
from .settings import ModelSettings, interval, setting

__all__ = ["SNLESettings", "Sequential", "SequentialSettings", "TSNPESettings", "TruncatedSNPE",
           "SequentialNLE", "round_sizes"]


def round_sizes(n: int, rounds: int) -> list[int]:
    """The simulations of each round of a budget of ``n``: ``ceil(n / rounds)`` in round 1, the rest spread as
    evenly as possible over the later rounds (the first of them one more each where it does not divide).

    Example:
        >>> from innbench.models.sequential import round_sizes
        >>> round_sizes(1000, 4), round_sizes(1001, 4), round_sizes(10, 1)
        ([250, 250, 250, 250], [251, 250, 250, 250], [10])
    """
    first = math.ceil(n / rounds)
    rest, later = n - first, rounds - 1
    return [first] + [rest // later + (1 if k < rest % later else 0) for k in range(later)] if later else [first]


@dataclass(frozen=True)
class SequentialSettings(ModelSettings):
    """The options every sequential model has, each documented in its class's Args."""

    width_field: ClassVar[str | None] = "hidden"

    rounds: int = 4
    estimator: str = "nsf"
    transforms: int = 4
    hidden: int = 128
    layers: int = 3
    bins: int = 8
    round_epochs: int | None = None
    estimator_options: dict | None = None


#: options of the sequential model handed on to its estimator where the estimator has them
_PASSED = ("transforms", "hidden", "layers", "bins")


class Sequential(Model):
    """The base of the sequential models: an inner estimator (:attr:`inner`, trained in round 1 by the trainers)
    and the rounds of one observation (:meth:`run_rounds`). Subclasses implement :meth:`check_estimator`,
    :meth:`propose` (a later round's parameters) and :meth:`final_draws` (the posterior after the last round).

    The model's standardisation, loss and training are the estimator's (the trainers fit :attr:`inner`); the
    first round's simulations are kept with the weights (buffers ``round_one_x``, ``round_one_y``), so a saved
    and loaded model runs the same rounds.
    """

    facts = ModelFacts(ml_loss=True, y_supervised=False, exact_inverse=False, density=False, equation="sequential")
    amortized = False
    sample_in_chunks = False
    sequential = True
    Settings = SequentialSettings

    # -- construction --------------------------------------------------------------------------
    def check_estimator(self, cls) -> None:
        """Refuse an estimator class this sequential scheme cannot use (a ``ValueError`` naming ``estimator``)."""
        raise NotImplementedError

    def estimator_config(self) -> dict:
        """The inner estimator's options: the pass-through options it has, ``estimator_options``, the seed and
        the bounded transform; ``lr_scale`` multiplies the estimator's own."""
        from .registry import get_model_class

        c = self.config
        cls = get_model_class(c["estimator"])
        known = cls.known_options()
        cfg = {}
        for key in _PASSED + tuple(self.sampling_options):
            if key in known:
                cfg[key] = c[key]
            elif key in c and c[key] != type(self).defaults[key]:
                raise ValueError(f"{key}: estimator {c['estimator']!r} has no option {key!r}; pass its own options "
                                 "as estimator_options")
        extra = c["estimator_options"] or {}
        if not isinstance(extra, dict):
            raise ValueError(f"estimator_options: expected a table of the estimator's options, got {extra!r}")
        if "members" in extra or "seed" in extra:
            raise ValueError("estimator_options: members and seed are the sequential model's (one estimator, "
                             "its seed)")
        cfg.update(extra)
        cfg.update(seed=c["seed"], bounded_transform=c["bounded_transform"],
                   lr_scale=float(known.get("lr_scale", 1.0)) * float(extra.get("lr_scale", 1.0)) * c["lr_scale"])
        return cfg

    def build(self):
        from .registry import get_model_class

        c = self.config
        name = c["estimator"]
        try:
            cls = get_model_class(name)
        except KeyError as exc:
            raise ValueError(f"estimator: {exc.args[0].split(': ', 1)[1]}") from None
        if getattr(cls, "sequential", False) or not cls.trainable:
            raise ValueError(f"estimator: expected a trainable, non-sequential model, got {name!r}")
        self.check_estimator(cls)
        try:
            #: the estimator trained in round 1 (and copied and trained on per observation)
            self.inner = cls(self.problem, **self.estimator_config())
        except ValueError as exc:
            raise ValueError(f"{exc} (the estimator {name!r} of model {self.name!r})") from None
        d, w = self.problem.x_dim, self.problem.y_dim
        self.register_buffer("round_one_x", torch.zeros(0, d, dtype=torch.float64))
        self.register_buffer("round_one_y", torch.zeros(0, w, dtype=torch.float64))
        self.register_load_state_dict_pre_hook(_resize_round_one)
        #: simulations each observation's procedure spent, in the latest :meth:`sample` call
        self.last_simulations = np.array([], dtype=int)
        #: per observation of the latest :meth:`sample` call, a list of what each round did
        self.last_rounds: list = []

    @classmethod
    def variant_title(cls, label, options, title=None):
        if "rounds" in options:
            return f"{title or cls.title}, {int(options['rounds'])} rounds"
        return super().variant_title(label, options, title)

    def configure(self, **changes) -> None:
        """:meth:`innbench.models.Model.configure`, handed on to the estimator."""
        super().configure(**changes)
        self.inner.configure(**{k: v for k, v in changes.items() if k in self.inner.sampling_options})

    # -- the estimator's parts and loss --------------------------------------------------------
    def dim_z(self):
        return self.inner.dim_z()

    def standardize_x(self, x):
        return self.inner.standardize_x(x)

    def unstandardize_x(self, x):
        return self.inner.unstandardize_x(x)

    def condition(self, y):
        return self.inner.condition(y)

    def dequantize(self, x, generator=None):
        return self.inner.dequantize(x, generator)

    def training_loss(self, x, c):
        return self.inner.training_loss(x, c)

    def loss(self, x, y):
        return self.inner.loss(x, y)

    def set_normalization(self, x, y):
        super().set_normalization(x, y)
        self.inner.set_normalization(x, y)

    # -- training: round 1 ---------------------------------------------------------------------
    def trainable_members(self):
        return [self.inner]

    def training_pairs(self, x, y):
        """Keep the first ``ceil(N / rounds)`` of the ``N`` simulations for round 1 (kept with the weights) and
        record ``N`` as each observation's budget."""
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        sizes = round_sizes(len(x), int(self.config["rounds"]))
        self._offered = len(x)
        self.round_one_x = torch.as_tensor(x[: sizes[0]], dtype=torch.float64, device=self.device)
        self.round_one_y = torch.as_tensor(y[: sizes[0]], dtype=torch.float64, device=self.device)
        return x[: sizes[0]], y[: sizes[0]]

    def record_training(self, summaries, seed):
        """The round-1 estimator's summary, with the budget per observation ``simulations_per_observation``
        (``N``; also as the budget's ``simulations``) and the plan ``round_simulations``."""
        info = dict(summaries[0])
        n = int(getattr(self, "_offered", len(self.round_one_x)))
        sizes = round_sizes(n, int(self.config["rounds"]))
        info["budget"] = {**info.get("budget", {}), "simulations": n} if info.get("budget", {}).get("kind") \
            == "simulations" else dict(info.get("budget", {}))
        info.update(simulations_per_observation=n, round_simulations=sizes, rounds=int(self.config["rounds"]))
        self.train_info = info
        return info

    def round_budget(self):
        """The :class:`innbench.simbudget.SimulationBudget` of a later round: the one the model was fitted with
        (from a fixed-batch :class:`innbench.training.Budget`: its learning rate, batch size, weight decay and
        clip, at most its ``n_batches`` steps), at most ``round_epochs`` epochs."""
        from ..simbudget import SimulationBudget

        b = dict(self.train_info.get("budget") or {})
        n = int(self.train_info.get("simulations_per_observation") or max(len(self.round_one_x), 10))
        if b.get("kind") == "simulations":
            known = {f.name for f in fields(SimulationBudget)}
            budget = SimulationBudget(**{k: v for k, v in b.items() if k in known and k != "simulations"},
                                      simulations=n)
        elif "n_batches" in b:
            budget = SimulationBudget(simulations=n, lr=b["lr"], batch_size=b["batch_size"], max_steps=b["n_batches"],
                                      weight_decay=b["weight_decay"], grad_clip=b["grad_clip"])
        else:
            budget = SimulationBudget(simulations=n)
        if self.config["round_epochs"] is not None:
            budget = replace(budget, max_epochs=min(budget.max_epochs or 10**9, int(self.config["round_epochs"])))
        return budget

    # -- the rounds of one observation ---------------------------------------------------------
    def propose(self, est, y_star, k, rng, record) -> np.ndarray:
        """``k`` parameters ``(k, x_dim)`` to simulate in a later round for ``y_star``, from the current
        estimator ``est``; notes for :attr:`last_rounds` go in ``record``."""
        raise NotImplementedError

    def final_draws(self, est, y_star, n, rng) -> np.ndarray:
        """``n`` posterior draws ``(n, x_dim)`` for ``y_star`` from the estimator after the last round."""
        raise NotImplementedError

    def run_rounds(self, y_star, rng: np.random.Generator, keep_estimators: bool = False):
        """Rounds ``2..rounds`` for one observation ``y_star (y_dim,)``: the estimator after the last round and a
        list of one record per round (its ``simulations``, and from round 2 what the proposal did; with
        ``keep_estimators`` the estimator each round proposed from, as ``estimator``, and its ``proposals``)."""
        from ..simbudget import continue_training

        if not len(self.round_one_x):
            raise RuntimeError(f"model {self.name!r} is not trained: train it first (api.train, fit_simulations)")
        n = int(self.train_info.get("simulations_per_observation") or len(self.round_one_x))
        sizes = round_sizes(n, int(self.config["rounds"]))
        x_all = self.round_one_x.cpu().numpy()
        y_all = self.round_one_y.cpu().numpy()
        records = [{"round": 1, "simulations": len(x_all)}]
        budget = self.round_budget()
        with torch.inference_mode(False), torch.random.fork_rng(devices=[]):
            est = copy.deepcopy(self.inner)
            for r, k in enumerate(sizes[1:], start=2):
                check_deadline()
                record = {"round": r, "simulations": k}
                if keep_estimators:
                    record["estimator"] = copy.deepcopy(est)
                if k:
                    x_new = np.asarray(self.propose(est, y_star, k, rng, record), dtype=float)
                    if keep_estimators:
                        record["proposals"] = x_new
                    y_new = np.asarray(self.problem.forward(x_new, rng), dtype=float).reshape(k, -1)
                    ok = ~self.problem.invalid_rows(y_new)  # failed simulations are spent, not trained on
                    x_all = np.concatenate([x_all, x_new[ok]])
                    y_all = np.concatenate([y_all, y_new[ok]])
                    with _quiet():
                        info = continue_training(est, budget, x_all, y_all, seed=int(rng.integers(2**31)))
                    record.update(epochs=info["epochs"], best_epoch=info["best_epoch"], pairs=len(x_all))
                records.append(record)
            est.eval()
        return est, records

    @torch.inference_mode()
    def sample(self, y, n, seed=0, batch_size=400_000, round_discrete=True, *, query=None):
        self.last_simulations = np.array([], dtype=int)
        self.last_rounds = []
        return super().sample(y, n, seed=seed, batch_size=batch_size, round_discrete=round_discrete, query=query)

    def sample_query(self, y, n, generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        rng = np.random.default_rng(seed)
        out, spent = [], []
        for y_star in y:
            est, records = self.run_rounds(y_star, rng)
            with torch.inference_mode():
                out.append(self.final_draws(est, y_star, n, rng))
            spent.append(sum(r["simulations"] for r in records))
            self.last_rounds.append(records)
        self.last_simulations = np.concatenate([self.last_simulations, np.array(spent, dtype=int)])
        return np.stack(out)


def _resize_round_one(module, state_dict, prefix, *_):
    """Load hook: the kept round-1 simulations take the saved arrays' length."""
    for key in ("round_one_x", "round_one_y"):
        saved = state_dict.get(prefix + key)
        if saved is not None and key in module._buffers:
            module._buffers[key] = torch.empty_like(saved, device=module._buffers[key].device)


class _quiet:
    """Silences the trainer's warnings of a later round (the first round's are shown)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _torch_generator(rng: np.random.Generator) -> int:
    return int(rng.integers(2**62))


#: draws of the estimator in one network call: the flows' memory traffic makes larger calls slower per draw
#: (10-D NSF, one thread: 10^4 draws and their log q in 0.9 s, 10^5 at once in 19 s)
_CHUNK = 10_000


def _log_q(est, x, y_star) -> np.ndarray:
    """``log q(x | y_star)`` of ``x (k, x_dim)`` in chunks of :data:`_CHUNK`."""
    return np.concatenate([est.log_prob(x[s : s + _CHUNK], y_star[None]) for s in range(0, len(x), _CHUNK)])


# -- TSNPE -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TSNPESettings(SequentialSettings):
    """The options of :class:`TruncatedSNPE` (model ``tsnpe``), each documented in its docstring's Args."""

    epsilon: float = setting(1e-4, check=interval(0, 1, "a probability"))
    support_draws: int = 20_000
    max_prior_draws: int = 2_000_000


class TruncatedSNPE(Sequential):
    r"""Truncated sequential neural posterior estimation (TSNPE; Deistler, Goncalves & Macke 2022, "Truncated
    proposals for scalable and hassle-free simulation-based inference").

    Round 1 trains a posterior estimator ``q(x | y)`` (``estimator``, default ``nsf``; any trainable model with a
    density) on prior simulations with the ordinary NPE loss. Each later round for the observation ``y*``
    draws ``support_draws`` (20,000) samples of ``q(x | y*)``, takes the ``epsilon``-quantile (1e-4, the
    paper's) of their ``log q`` as the threshold, and proposes from the prior truncated to
    ``{x : log q(x | y*) >= threshold}`` (the highest-density region of mass ``1 - epsilon``) by rejection from
    the prior; then simulates and trains again on all pairs so far with the NPE loss, from the current weights.
    Since the proposal is the prior restricted to a region that holds almost all of the posterior, the NPE loss
    needs no correction (unlike SNPE-A/B/C). The posterior is the last round's ``q`` restricted to the prior's
    support (draws outside are redrawn).

    When the region is so small that ``max_prior_draws`` (2,000,000) prior draws in one round do not give the
    proposals (acceptance below about 1e-4 at 250 proposals), and the problem has a prior density, the rest are
    drawn by sampling-importance-resampling (sbi's ``"sir"``: 32 draws of ``q`` in the region per proposal, one
    kept by the weight ``p(x) / q(x | y*)``); without a prior density it is an error naming ``max_prior_draws``.
    ``last_rounds`` records per round the threshold, the acceptance and the method.

    Defaults: ``rounds`` 4 (sbibm ran 10). Each query retrains ``rounds - 1`` times, so the cost per observation
    grows with it, and round 1 gets only ``N / rounds`` simulations: at 10^3 simulations 10 rounds leave 100 for
    the first estimate, whose truncation region may then cut off posterior mass; 4 rounds keep 250.
    ``round_epochs`` (None) bounds each later round's epochs (early stopping on the budget the model was fitted
    with otherwise).

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        rounds: rounds per observation, the first shared (4).
        estimator: the posterior estimator, a registered model with a density (``"nsf"``).
        transforms, hidden, layers, bins: the estimator's options of these names where it has them (4, 128, 3,
            8: the NSF's); ``hidden`` is the width option a budget's ``params`` scales.
        round_epochs: the most epochs of each later round's training (None: as the budget allows).
        estimator_options: further options of the estimator, a table (None).
        epsilon: the mass outside the truncation region (1e-4).
        support_draws: draws of ``q`` that estimate the threshold (20,000: with 1e-4 about the two lowest; sbi
            draws 10^6, which takes a 10-D NSF about 90 s per round on one CPU thread, 20,000 about 2 s).
        max_prior_draws: prior draws per round before the fallback (2,000,000).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        Each query trains the estimator again, so only the construction is run here:

        >>> from innbench.models import build_model
        >>> tsnpe = build_model("tsnpe", "two_moons", hidden=32, rounds=3)
        >>> tsnpe.amortized, tsnpe.inner.name, tsnpe.dim_z()
        (False, 'nsf', 2)

        ```python
        from innbench import api
        tsnpe = api.train("two_moons", "tsnpe", simulations=1000)   # round 1 on 250 of them
        samples = tsnpe.sample([[0.0, 0.0]], 1000)                  # rounds 2..4: 750 more simulations
        tsnpe.last_simulations, tsnpe.last_rounds                   # [1000], what each round did
        ```
    """

    name = "tsnpe"
    title = "truncated sequential NPE"
    Settings = TSNPESettings

    def check_estimator(self, cls):
        if not (cls.conditional and cls.facts.density and cls.amortized):
            raise ValueError(f"estimator: TSNPE truncates by the posterior's density; expected an amortized "
                             f"posterior model with a density (nsf, cinn, maf, mdn, ...), got {cls.name!r}")

    def threshold(self, est, y_star, rng) -> float:
        """The ``epsilon``-quantile of ``log q(x | y*)`` under ``q`` itself, from ``support_draws`` draws."""
        draws = est.sample(y_star[None], int(self.config["support_draws"]), seed=_torch_generator(rng),
                           batch_size=_CHUNK, round_discrete=False)[0]
        lq = _log_q(est, draws, y_star)
        return float(np.quantile(lq[np.isfinite(lq)], float(self.config["epsilon"])))

    def propose(self, est, y_star, k, rng, record):
        p = self.problem
        thr = self.threshold(est, y_star, rng)
        limit = int(self.config["max_prior_draws"])
        got, tried, accepted = 0, 0, []
        while got < k and tried < limit:
            check_deadline()
            rate = (got + 1) / (tried + 1) if tried else None
            chunk = 10 * k if rate is None else int(1.2 * (k - got) / rate) + 100
            chunk = min(max(chunk, 1000), 500_000, limit - tried)
            x = p.sample_prior(chunk, rng)
            keep = _log_q(est, x, y_star) >= thr
            accepted.append(x[keep])
            got += int(keep.sum())
            tried += chunk
        x = np.concatenate(accepted)[:k]
        record.update(threshold=thr, acceptance=got / tried, method="rejection", prior_draws=tried)
        if len(x) < k:
            x = np.concatenate([x, self._sir(est, y_star, k - len(x), thr, rng)])
            record["method"] = f"rejection ({got}), then sampling-importance-resampling ({k - got})"
        return x

    def _sir(self, est, y_star, k, thr, rng):
        """``k`` draws of the truncated prior by sampling-importance-resampling from ``q`` in the region."""
        p = self.problem
        try:
            p.log_prior(p.sample_prior(1, rng))
        except NotImplementedError:
            raise ValueError(f"max_prior_draws: {self.config['max_prior_draws']:,} prior draws gave too few proposals "
                             f"in the truncation region of observation {y_star.tolist()} and problem {p.name!r} has "
                             "no prior density for the fallback; raise max_prior_draws or epsilon") from None
        m = 32
        cand = est.sample(y_star[None], m * k, seed=_torch_generator(rng), batch_size=_CHUNK, round_discrete=False)[0]
        lq = _log_q(est, cand, y_star)
        lw = np.asarray(p.log_prior(cand), dtype=float) - lq
        lw[~((lq >= thr) & np.asarray(p.in_support(cand), dtype=bool) & np.isfinite(lw))] = -np.inf
        lw = lw.reshape(k, m)
        out = np.empty((k, p.x_dim))
        for i in range(k):
            w = lw[i]
            if not np.isfinite(w).any():
                w = lw.reshape(-1)  # no candidate of this group: any of all
                cand_i = cand
            else:
                cand_i = cand[i * m : (i + 1) * m]
            prob = np.exp(w - w.max())
            out[i] = cand_i[rng.choice(len(prob), p=prob / prob.sum())]
        return out

    def final_draws(self, est, y_star, n, rng):
        p = self.problem
        out, have = [], 0
        for _ in range(100):
            x = est.sample(y_star[None], max(n - have, 16) if not out else 2 * (n - have) + 16,
                           seed=_torch_generator(rng), batch_size=_CHUNK, round_discrete=False)[0]
            x = x[np.asarray(p.in_support(x), dtype=bool)]
            out.append(x)
            have += len(x)
            if have >= n:
                return np.concatenate(out)[:n]
        raise ValueError(f"y: the posterior estimate for observation {y_star.tolist()} puts almost no mass inside "
                         f"the prior's support of problem {p.name!r}")


# -- SNLE --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SNLESettings(SequentialSettings, QueryMCMCSettings):
    """The options of :class:`SequentialNLE` (model ``snle``), each documented in its docstring's Args: the
    sequential options and NLE's MCMC options."""

    estimator: str = "nle"


class SequentialNLE(Sequential):
    r"""Sequential neural likelihood estimation (SNLE; Papamakarios, Sterratt & Murray 2019): neural likelihood
    estimation (:class:`innbench.models.nle.NeuralLikelihood`, ``estimator`` ``"nle"``) in rounds for one
    observation.

    Round 1 trains the likelihood flow ``q(y | x)`` on prior simulations. Each later round draws its parameters
    from the current posterior ``p(x) q(y* | x)`` by NLE's MCMC, simulates them, and trains the flow again on
    all pairs so far, from the current weights: the likelihood learned is the simulator's whatever the
    proposal, so no correction is needed; the proposals only put the simulations where the posterior is.
    The posterior is NLE's MCMC on the last round's flow. A ratio estimator (``"nre_c"``, ``"bnre"``) works the
    same way (sequential NRE): its ratio is off by a constant in ``x``, which MCMC ignores.

    Needs what NLE needs: a prior density (``log_prior``), a stochastic simulator and vector observations.
    MCMC options as NLE's (``walkers``, ``burn``, ``pilot``, ``init_draws``, ``max_thin``,
    ``use_symmetries``), for the proposals and the final draws. ``last_diagnostics`` is the final MCMC's.

    Defaults: ``rounds`` 4 (sbibm ran 10), for the reasons given for :class:`TruncatedSNPE`: each later round
    costs an MCMC run and a training per observation.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem` with ``log_prior``, a
            stochastic simulator and vector observations.
        rounds: rounds per observation, the first shared (4).
        estimator: the likelihood (or ratio) estimator, a per-query MCMC model (``"nle"``).
        transforms, hidden, layers, bins: the estimator's options of these names where it has them (4, 128, 3,
            8: NLE's); ``hidden`` is the width option a budget's ``params`` scales.
        round_epochs: the most epochs of each later round's training (None: as the budget allows).
        estimator_options: further options of the estimator, a table (None).
        walkers, burn, pilot, init_draws, max_thin, use_symmetries: NLE's MCMC options (0, 1000, 500, 20,000,
            200, True).
        seed: seed of the initial weights (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        Each query runs MCMC and trains the flow again, so only the construction is run here:

        >>> from innbench.models import build_model
        >>> snle = build_model("snle", "two_moons", hidden=32, rounds=3)
        >>> snle.amortized, snle.inner.name, snle.requires_prior_density
        (False, 'nle', True)

        ```python
        from innbench import api
        snle = api.train("two_moons", "snle", simulations=1000)
        samples = snle.sample([[0.0, 0.0]], 1000)
        snle.last_simulations                                      # [1000]
        ```
    """

    name = "snle"
    title = "sequential neural likelihood + MCMC"
    requires_prior_density = True
    Settings = SNLESettings
    sampling_options = ("walkers", "burn", "pilot", "init_draws", "max_thin", "use_symmetries")

    def build(self):
        super().build()
        #: R-hat, ESS, steps and seconds of the latest MCMC run (the final draws of the latest observation)
        self.last_diagnostics = {}

    def check_estimator(self, cls):
        from .nle import LikelihoodQuery

        if not issubclass(cls, LikelihoodQuery):
            raise ValueError(f"estimator: SNLE runs MCMC on a learned likelihood; expected nle, nre_c or bnre, got "
                             f"{cls.name!r}")

    def _mcmc(self, est, y_star, n, rng):
        g = torch.Generator().manual_seed(_torch_generator(rng))
        x = est.sample_query(y_star[None], n, g)[0]
        self.last_diagnostics = est.last_diagnostics
        return x

    def propose(self, est, y_star, k, rng, record):
        x = self._mcmc(est, y_star, k, rng)
        record.update(method="mcmc", rhat=max(est.last_diagnostics.get("rhat", [float("nan")])))
        return x

    def final_draws(self, est, y_star, n, rng):
        return self._mcmc(est, y_star, n, rng)
