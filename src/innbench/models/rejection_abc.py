"""Rejection ABC at query time: the non-amortized baseline that shows what amortization buys."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..problems.base import plural
from ..runtime import check_deadline
from .base import Model, ModelFacts
from .settings import ModelSettings, positive, setting

__all__ = ["RejectionABC"]


@dataclass(frozen=True)
class RejectionABCSettings(ModelSettings):
    """The options of :class:`RejectionABC` (model ``rejection_abc``), each documented in its docstring's Args."""

    simulations: int = 1000000
    chunk: int = 100000
    time_budget: float | None = setting(None, check=positive)
    keep: int = 0


class RejectionABC(Model):
    r"""Samples by simulation for every query; nothing is learned.

    For each observation ``y*``: draw prior parameters in chunks of ``chunk`` (100,000), simulate, and
    keep the ``n`` draws whose observations are nearest ``y*`` in the training set's standardised ``y``
    (quantile ABC, the authors' ground-truth recipe), stopping after ``simulations`` (1,000,000) draws
    or, with ``time_budget`` (seconds, default none), when the time is spent (at least one chunk, and
    never fewer simulations than ``n``). The tolerance is therefore the distance of the ``n``-th nearest
    draw, and it shrinks as the simulation budget grows: Err_post and Err_resim of this baseline
    measure what a given simulation budget per query buys. Invalid simulations (NaN) are never accepted.
    ``dim(z)``: none (reported as 0); no training, no parameters, no density.

    With ``keep`` > 0 (sbibm's REJ-ABC: ``keep = 100``) only the ``keep`` nearest draws are accepted and
    the ``n`` samples are drawn from a Gaussian kernel density estimate on them (Scott's bandwidth, in the
    standardised parameters; sbibm picks its bandwidth by cross-validation), so a budget smaller than
    ``n`` still gives a tolerance below the prior's: without it, 1,000 simulations for 10,000 samples
    return the prior itself.

    ``train_info`` keeps nothing learned; ``last_tolerances`` holds the tolerance per observation of
    the latest :meth:`sample` call.

    Args:
        problem: a registered problem name or a :class:`innbench.problems.Problem`.
        simulations: the most simulations per query (1,000,000).
        chunk: simulations per batch (100,000).
        time_budget: seconds per query (None: no limit but ``simulations``).
        keep: accept only the ``keep`` nearest draws and sample a kernel density estimate on them (0: off).
        seed: seed of the simulations (0).
        **config: the options every model has (:class:`innbench.models.Model`).

    Example:
        >>> import numpy as np
        >>> from innbench.models import build_model
        >>> from innbench.training import fit, get_budget
        >>> abc = build_model("rejection_abc", "linear", simulations=20_000, chunk=10_000)
        >>> _ = fit(abc, get_budget("tiny", n_train=1000), progress=False)  # only standardises y
        >>> x = abc.sample([[1.0]], 200)
        >>> x.shape, abc.n_parameters(), abc.last_tolerances.shape
        ((1, 200, 2), 0, (1,))
    """

    name = "rejection_abc"
    title = "rejection ABC (baseline)"
    facts = ModelFacts(ml_loss=False, y_supervised=False, exact_inverse=False, density=False, equation="ABC")
    width_option = None
    trainable = False
    amortized = False
    sample_in_chunks = False
    Settings = RejectionABCSettings
    sampling_options = ("simulations", "chunk", "time_budget", "keep")

    @classmethod
    def variant_title(cls, label: str, options: dict, title: str | None = None) -> str:
        """A budget variant is named by its simulations per query: ``rejection ABC, 1e4 simulations``."""
        if "simulations" in options:
            return f"rejection ABC, {int(options['simulations']):.0e} simulations".replace("e+0", "e")
        return super().variant_title(label, options, title)

    def build(self):
        c = self.config
        if self.problem.variable_length:
            raise ValueError(f"model 'rejection_abc' compares observations entry by entry and cannot compare the "
                             f"{plural(self.problem.observation_kind)} of varying length of problem "
                             f"{self.problem.name!r}")
        if 0 < int(c["keep"]) < 2 * self.problem.x_dim + 1:
            raise ValueError(f"keep: expected 0 (the nearest n) or at least {2 * self.problem.x_dim + 1} accepted "
                             f"draws for the kernel density estimate, got {c['keep']!r}")
        self.last_tolerances = np.array([])

    def dim_z(self):
        return 0

    def _one(self, y_star, n, rng):
        """Quantile ABC for one observation (raw units): ``n`` accepted draws and the tolerance."""
        c = self.config
        std = self.c_scale.std.cpu().numpy().astype(np.float64)
        best_x = np.empty((0, self.problem.x_dim))
        best_d = np.empty(0)
        done, t0 = 0, time.perf_counter()
        n_keep = int(c["keep"])
        target, n_out = (n_keep, n) if n_keep else (n, n)
        n = target
        limit = max(int(c["simulations"]), n)
        while done < limit:
            check_deadline()
            k = min(int(c["chunk"]), limit - done)
            x = self.problem.sample_prior(k, rng)
            y = self.problem.forward(x, rng)
            d = np.sqrt((((y - y_star) / std) ** 2).sum(-1))
            d[~np.isfinite(d)] = np.inf
            best_x, best_d = np.concatenate([best_x, x]), np.concatenate([best_d, d])
            if len(best_d) > n:
                keep = np.argpartition(best_d, n - 1)[:n]
                best_x, best_d = best_x[keep], best_d[keep]
            done += k
            if c["time_budget"] is not None and done >= n and time.perf_counter() - t0 > float(c["time_budget"]):
                break
        if not np.isfinite(best_d).all() or len(best_d) < n:
            raise ValueError(f"y: no {n} valid simulations near observation {y_star.tolist()} within the budget")
        if n_keep:
            best_x = self._kde_draws(best_x, n_out, rng)
        return best_x, float(best_d.max())

    def _kde_draws(self, accepted, n, rng):
        """``n`` draws from a Gaussian KDE (Scott's rule) on the accepted draws, in standardised units."""
        from scipy.stats import gaussian_kde

        mean, std = (v.cpu().numpy().astype(np.float64) for v in (self.x_scale.mean, self.x_scale.std))
        z = (accepted - mean) / std
        try:
            draws = gaussian_kde(z.T).resample(n, seed=rng).T
        except np.linalg.LinAlgError:  # degenerate accepted set (e.g. one integer value): resample the draws
            draws = z[rng.integers(0, len(z), n)]
        return draws * std + mean

    def sample_query(self, y, n, generator):
        seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
        rng = np.random.default_rng(seed)
        xs, tols = [], []
        for y_star in y:
            x, tol = self._one(y_star, n, rng)
            xs.append(x)
            tols.append(tol)
        self.last_tolerances = np.array(tols)
        return np.stack(xs)

    def loss(self, x, y):  # pragma: no cover - never trained
        raise RuntimeError("rejection_abc has nothing to train")
