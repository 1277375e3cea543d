"""L-C2ST: the local classifier two-sample test (Linhart, Gramfort & Rodrigues, NeurIPS 2023), in its cheapest
honest form: a check of a posterior estimator at each observation that needs no reference posterior.

1. Calibration data: ``N`` pairs ``(theta_i, x_i)`` from the joint (the problem's simulator) and, for each ``x_i``,
   one draw ``q_i ~ q(theta | x_i)`` of the estimator under test.
2. One classifier ``d(theta, x)`` learns to tell ``(theta_i, x_i)`` (class 1) from ``(q_i, x_i)`` (class 0). Where
   ``q`` is the posterior, the two classes have the same distribution and the best classifier is ``d = 1/2``.
3. At an observation ``x0``, with the estimator's samples ``theta_j ~ q(theta | x0)``, the statistic is
   ``T(x0) = mean_j (d(theta_j, x0) - 1/2)^2``: about 0 where ``q(. | x0)`` is right.
4. The null distribution comes from ``K`` classifiers trained the same way on null labels: each pair's two labels
   swapped with probability 1/2, which leaves the data's distribution unchanged exactly when ``q`` is the posterior
   (the two rows of a pair share ``x_i``). The classifiers are amortized over ``x``, so the ``1 + K`` trainings
   serve every observation; the p-value is ``(1 + #{k : T_k(x0) >= T(x0)}) / (1 + K)``, at least ``1 / (1 + K)``.

The cheapest honest form: one amortized classifier (no training per observation), ``K`` null trainings shared by
all observations, the MSE statistic only, and not the normalizing-flow variant (L-C2ST-NF, which needs the
estimator's latent map). The classifier is a two-layer ReLU network (width ``hidden``) trained full batch with
Adam (learning rate 1e-2, cosine decay to 5 %, ``steps`` steps); the ``1 + K`` networks train together as one
batched network. With a few thousand calibration pairs it overfits visibly (``T`` is above 0 even for an exact
posterior); the null classifiers overfit alike, so the p-values stay valid, but power is lost. A 2-D Gaussian
posterior twice too wide is rejected at most observations; an NSF trained on 300 two-moons simulations (C2ST 0.77)
at all ten of sbibm's, the same NSF on 1000 (C2ST 0.66) at one (docs/journal/metric_registry.md). A p-value above
0.05 means "no gross error found", not "as good as the reference".

Registered as ``lc2st`` (opt-in: computed only where named, ``metrics=[..., "lc2st"]``, for amortized models):
per observation ``lc2st`` (``T``) and ``lc2st_pvalue``; summarised by ``lc2st_mean`` and ``lc2st_rejected`` (the
fraction of observations with a p-value at most 0.05). Options (``metric_options``): ``lc2st_calibration``
(``N``, 2000), ``lc2st_null`` (``K``, 20), ``lc2st_observations`` (the first observations tested; 0: all).

Example:
    The exact posterior of a conjugate Gaussian, then one twice too wide (seconds each, so not run here):

    >>> import numpy as np
    >>> from innbench.metrics.lc2st import LocalC2ST
    >>> rng = np.random.default_rng(0)
    >>> theta = rng.normal(size=(1000, 2))
    >>> x = theta + rng.normal(size=(1000, 2))                     # posterior N(x / 2, I / 2)
    >>> exact = x / 2 + rng.normal(size=(1000, 2)) / np.sqrt(2)
    >>> wide = x / 2 + rng.normal(size=(1000, 2)) * np.sqrt(2)
    >>> x0 = np.array([0.5, -0.5])
    >>> for q, factor in ((exact, 1 / np.sqrt(2)), (wide, np.sqrt(2))):
    ...     test = LocalC2ST(theta, x, q, null_trials=9, steps=300)
    ...     t, p = test.test(x0, x0 / 2 + rng.normal(size=(1000, 2)) * factor)
    ...     print(f"T {t:.2f}")  # doctest: +SKIP
    T 0.02
    T 0.12
"""

from __future__ import annotations

import itertools
import math
from numbers import Integral

import numpy as np
import torch
from torch.nn import functional as F

from .registry import Inputs, Metric, Value, register_metric

__all__ = ["REJECT_AT", "LocalC2ST", "lc2st"]

#: the p-value at or below which an observation counts as rejected in the summary ``lc2st_rejected``
REJECT_AT = 0.05

_LR = 1e-2
_LR_FINAL_FRACTION = 0.05
_MIN_CALIBRATION = 10


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_array(name: str, value: object, ndim: int, shape_text: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric array of shape {shape_text}: {err}") from None
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have shape {shape_text}, got shape {arr.shape}")
    return arr


class LocalC2ST:
    """The amortized local classifier two-sample test (module docstring), trained on a calibration set.

    Training happens in the constructor: 1 classifier on the true labels plus ``null_trials`` classifiers on
    null labels (each pair's labels swapped with probability 1/2), all from the same initial weights. Calibration
    rows with a NaN or infinite value in any of ``theta``, ``x`` or ``q_theta`` are dropped (from all three arrays
    at once).

    Args:
        theta: Parameters from the prior, shape (N, d).
        x: Observations simulated from ``theta``, shape (N, k).
        q_theta: One draw from the estimator q(theta | x_i) per row of ``x``, shape (N, d).
        seed: Non-negative integer seed for the weight initialisation, the permutations and the subsampling.
        null_trials: Number K of label permutations (null classifiers), integer >= 1.
        hidden: Width of the two hidden layers.
        steps: Number of full-batch Adam steps per classifier.
        max_samples: At most this many posterior samples are used per observation (deterministic subsample).

    Raises:
        ValueError: If an array has the wrong shape, fewer than 10 finite calibration rows remain, or an
            integer argument is out of range.

    Example:
        See the module's example.
    """

    def __init__(
        self,
        theta: np.ndarray,
        x: np.ndarray,
        q_theta: np.ndarray,
        seed: int = 0,
        null_trials: int = 20,
        hidden: int = 32,
        steps: int = 500,
        max_samples: int = 1000,
    ) -> None:
        theta = _as_array("theta", theta, 2, "(N, d)")
        x = _as_array("x", x, 2, "(N, k)")
        q_theta = _as_array("q_theta", q_theta, 2, "(N, d)")
        n, d = theta.shape
        if x.shape[0] != n:
            raise ValueError(f"x must have shape (N, k) with N = {n} rows like theta, got shape {x.shape}")
        if q_theta.shape != theta.shape:
            raise ValueError(f"q_theta must have shape (N, d) = {theta.shape} like theta, got shape {q_theta.shape}")
        if d < 1 or x.shape[1] < 1:
            raise ValueError(f"theta and x need at least one column, got shapes {theta.shape} and {x.shape}")
        self.seed = _check_int("seed", seed, 0)
        self.null_trials = _check_int("null_trials", null_trials, 1)
        self.hidden = _check_int("hidden", hidden, 1)
        self.steps = _check_int("steps", steps, 1)
        self.max_samples = _check_int("max_samples", max_samples, 1)

        finite = np.isfinite(theta).all(1) & np.isfinite(x).all(1) & np.isfinite(q_theta).all(1)
        if finite.sum() < _MIN_CALIBRATION:
            raise ValueError(
                f"need at least {_MIN_CALIBRATION} calibration rows with finite theta, x and q_theta, "
                f"got {int(finite.sum())} of {n}"
            )
        theta, x, q_theta = theta[finite], x[finite], q_theta[finite]
        self.theta_dim = d
        self.x_dim = x.shape[1]
        self.n_calibration = int(finite.sum())
        self.n_dropped = int(n - self.n_calibration)

        joint_p = np.concatenate([theta, x], axis=1)
        joint_q = np.concatenate([q_theta, x], axis=1)
        self._mean = joint_p.mean(axis=0)
        std = joint_p.std(axis=0)
        self._std = np.where(std > 0, std, 1.0)
        features = self._standardise(np.concatenate([joint_p, joint_q], axis=0))
        labels = np.concatenate([np.ones(self.n_calibration), np.zeros(self.n_calibration)])
        all_labels = [labels] + [self._null_labels(k) for k in range(self.null_trials)]
        self._params = self._train(features, torch.as_tensor(np.stack(all_labels), dtype=torch.float32))

    # ------------------------------------------------------------------ training / network
    def _null_labels(self, k: int) -> np.ndarray:
        """Labels of null classifier ``k``: each pair's two labels swapped with probability 1/2 (a generator fixed
        by ``(seed, k)``); rows ``i`` and ``N + i`` are the pair ``(theta_i, x_i)``, ``(q_i, x_i)``."""
        swap = np.random.default_rng([self.seed, 1, k]).random(self.n_calibration) < 0.5
        first = np.where(swap, 0.0, 1.0)
        return np.concatenate([first, 1.0 - first])

    def _standardise(self, joint: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((joint - self._mean) / self._std, dtype=torch.float32)

    def _train(self, features: torch.Tensor, labels: torch.Tensor) -> list[torch.Tensor]:
        """Train ``labels.shape[0]`` classifiers (one per label row) from identical initial weights."""
        n_nets = labels.shape[0]
        sizes = [features.shape[1], self.hidden, self.hidden, 1]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            layers = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(sizes)]
        params = []
        for layer in layers:  # batched copies: weight (n_nets, in, out), bias (n_nets, 1, out)
            params.append(layer.weight.detach().T.unsqueeze(0).repeat(n_nets, 1, 1).contiguous().requires_grad_())
            params.append(layer.bias.detach().view(1, 1, -1).repeat(n_nets, 1, 1).contiguous().requires_grad_())
        optimiser = torch.optim.Adam(params, lr=_LR)
        with torch.enable_grad():
            for step in range(self.steps):
                cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.steps))
                for group in optimiser.param_groups:
                    group["lr"] = _LR * (_LR_FINAL_FRACTION + (1.0 - _LR_FINAL_FRACTION) * cosine)
                optimiser.zero_grad(set_to_none=True)
                logits = self._logits(params, features)
                # per-network mean BCE, summed over networks: each network gets exactly its own gradient
                loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none").mean(dim=1).sum()
                loss.backward()
                optimiser.step()
        return [p.detach() for p in params]

    @staticmethod
    def _logits(params: list[torch.Tensor], features: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2, w3, b3 = params
        h = torch.relu(torch.matmul(features, w1) + b1)
        h = torch.relu(torch.bmm(h, w2) + b2)
        return (torch.bmm(h, w3) + b3).squeeze(-1)

    # ------------------------------------------------------------------ evaluation
    def _check_observation(self, x0: object, samples: object) -> tuple[np.ndarray, np.ndarray]:
        x0 = _as_array("x0", x0, 1, f"(k,) = ({self.x_dim},)")
        if x0.shape[0] != self.x_dim:
            raise ValueError(f"x0 must have shape (k,) = ({self.x_dim},), got shape {x0.shape}")
        samples = _as_array("samples", samples, 2, f"(n, d) = (n, {self.theta_dim})")
        if samples.shape[1] != self.theta_dim:
            raise ValueError(f"samples must have shape (n, d) = (n, {self.theta_dim}), got shape {samples.shape}")
        return x0, samples

    def _all_probabilities(self, x0: np.ndarray, samples: np.ndarray) -> torch.Tensor:
        """Probabilities of class 1 of all 1 + K networks, shape (1 + K, n); samples must be finite."""
        joint = np.concatenate([samples, np.broadcast_to(x0, (samples.shape[0], self.x_dim))], axis=1)
        with torch.no_grad():
            return torch.sigmoid(self._logits(self._params, self._standardise(joint))).double()

    def _statistics(self, x0: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Statistic of all 1 + K networks (observed first), NaN if nothing finite is left."""
        samples = samples[np.isfinite(samples).all(axis=1)]
        if not np.isfinite(x0).all() or samples.shape[0] == 0:
            return np.full(1 + self.null_trials, np.nan)
        if samples.shape[0] > self.max_samples:
            rng = np.random.default_rng([self.seed, 2])
            samples = samples[np.sort(rng.choice(samples.shape[0], self.max_samples, replace=False))]
        probs = self._all_probabilities(x0, samples)
        return ((probs - 0.5) ** 2).mean(dim=1).numpy()

    def statistic(self, x0: np.ndarray, samples: np.ndarray) -> float:
        """L-C2ST statistic T(x0) = mean_j (d(theta_j, x0) - 1/2)^2.

        Non-finite sample rows are dropped; if more than ``max_samples`` remain, a subsample (fixed by the
        seed) is used.

        Args:
            x0: Observation, shape (k,).
            samples: Draws theta_j ~ q(theta | x0), shape (n, d).

        Returns:
            T(x0) as a float; NaN if ``x0`` is not finite or no finite sample is left.

        Example:
            ```python
            t = test.statistic(x0, samples_at_x0)
            ```
        """
        x0, samples = self._check_observation(x0, samples)
        return float(self._statistics(x0, samples)[0])

    def null_statistics(self, x0: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Statistics T_k(x0) of the K permutation classifiers on the same samples as :meth:`statistic`.

        Args:
            x0: Observation, shape (k,).
            samples: Draws theta_j ~ q(theta | x0), shape (n, d).

        Returns:
            Array of shape (K,); all NaN if ``x0`` is not finite or no finite sample is left.

        Example:
            ```python
            t_null = test.null_statistics(x0, samples_at_x0)
            ```
        """
        x0, samples = self._check_observation(x0, samples)
        return self._statistics(x0, samples)[1:]

    def test(self, x0: np.ndarray, samples: np.ndarray) -> tuple[float, float]:
        """Statistic and permutation p-value at one observation.

        The p-value is (1 + #{k : T_k(x0) >= T(x0)}) / (1 + K); small values indicate that q(theta | x0)
        differs from the true posterior. Its smallest possible value is 1 / (1 + K).

        Args:
            x0: Observation, shape (k,).
            samples: Draws theta_j ~ q(theta | x0), shape (n, d).

        Returns:
            (T, p_value) as floats; both NaN if ``x0`` is not finite or no finite sample is left.

        Example:
            ```python
            t, p = test.test(x0, samples_at_x0)
            ```
        """
        x0, samples = self._check_observation(x0, samples)
        stats = self._statistics(x0, samples)
        t, t_null = stats[0], stats[1:]
        if not np.isfinite(t):
            return float("nan"), float("nan")
        return float(t), float((1 + np.count_nonzero(t_null >= t)) / (1 + self.null_trials))

    def probabilities(self, x0: np.ndarray, samples: np.ndarray) -> np.ndarray:
        """Predicted probabilities d(theta_j, x0) of class 1 (true joint) of the main classifier, for plots.

        Unlike :meth:`statistic`, no subsampling is done: the output is aligned with the rows of ``samples``.
        With at most ``max_samples`` finite rows, ``statistic(x0, samples) == nanmean((p - 0.5) ** 2)`` up to
        rounding.

        Args:
            x0: Observation, shape (k,).
            samples: Draws theta_j ~ q(theta | x0), shape (n, d).

        Returns:
            Array of shape (n,), NaN at non-finite sample rows (all NaN if ``x0`` is not finite).

        Example:
            ```python
            p = test.probabilities(x0, samples_at_x0)  # values near 0.5 everywhere: locally fine
            ```
        """
        x0, samples = self._check_observation(x0, samples)
        out = np.full(samples.shape[0], np.nan)
        finite = np.isfinite(samples).all(axis=1)
        if np.isfinite(x0).all() and finite.any():
            out[finite] = self._all_probabilities(x0, samples[finite])[0].numpy()
        return out


def lc2st(
    theta: np.ndarray,
    x: np.ndarray,
    q_theta: np.ndarray,
    y: np.ndarray,
    samples: np.ndarray,
    seed: int = 0,
    null_trials: int = 20,
    **kwargs: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Fit :class:`LocalC2ST` on a calibration set and test it at several observations.

    Args:
        theta: Parameters from the prior, shape (N, d).
        x: Observations simulated from ``theta``, shape (N, k).
        q_theta: One estimator draw q(theta | x_i) per row, shape (N, d).
        y: Observations to test at, shape (m, k).
        samples: Estimator draws at each observation, shape (m, n, d); ``samples[i]`` ~ q(theta | y[i]).
        seed: Non-negative integer seed.
        null_trials: Number K of permutation classifiers.
        **kwargs: ``hidden``, ``steps`` or ``max_samples``, passed to :class:`LocalC2ST`.

    Returns:
        (T, p_value), two arrays of shape (m,) (NaN where an observation has nothing finite to test).

    Raises:
        ValueError: On shape mismatches or invalid arguments (see :class:`LocalC2ST`).

    Example:
        ```python
        t, p = lc2st(theta, x, q_theta, y, samples, seed=0)
        flagged = p <= 0.05
        ```
    """
    theta_arr = _as_array("theta", theta, 2, "(N, d)")
    x_arr = _as_array("x", x, 2, "(N, k)")
    y = _as_array("y", y, 2, f"(m, k) = (m, {x_arr.shape[1]})")
    if y.shape[1] != x_arr.shape[1]:
        raise ValueError(f"y must have shape (m, k) = (m, {x_arr.shape[1]}), got shape {y.shape}")
    samples = _as_array("samples", samples, 3, f"(m, n, d) = ({y.shape[0]}, n, {theta_arr.shape[1]})")
    if samples.shape[0] != y.shape[0] or samples.shape[2] != theta_arr.shape[1]:
        raise ValueError(
            f"samples must have shape (m, n, d) = ({y.shape[0]}, n, {theta_arr.shape[1]}), got shape {samples.shape}"
        )
    model = LocalC2ST(theta_arr, x_arr, q_theta, seed=seed, null_trials=null_trials, **kwargs)
    results = np.array([model.test(y_i, s_i) for y_i, s_i in zip(y, samples, strict=True)], dtype=np.float64)
    results = results.reshape(-1, 2)
    return results[:, 0], results[:, 1]


def _features(y: np.ndarray, padded: np.ndarray) -> np.ndarray:
    """Observations as classifier features: non-finite entries (the padding of series and sets) as 0, plus a
    missing-value indicator for each column in ``padded``."""
    finite = np.isfinite(y)
    return np.concatenate([np.where(finite, y, 0.0), (~finite[:, padded]).astype(float)], axis=1)


def _lc2st(inputs: Inputs) -> dict:
    model, problem = inputs.model, inputs.problem
    if not getattr(model, "amortized", True):  # one query per calibration pair: an MCMC run each
        return {"lc2st": [], "lc2st_pvalue": []}
    n_cal = int(inputs.option("lc2st_calibration", 2000))
    k = int(inputs.option("lc2st_null", 20))
    m = int(inputs.option("lc2st_observations", 0)) or len(inputs.y)
    m = min(m, len(inputs.y))
    rng = np.random.default_rng([inputs.seed, 6173])
    theta, x = problem.simulate(n_cal, rng)
    q = model.sample(x, 1, seed=inputs.seed + 1, round_discrete=False)[:, 0]
    if problem.discrete and inputs.unrounded is not None:  # as the scored samples: rounded where those were
        q = model.round_discrete(q[:, None].copy())[:, 0]
    padded = ~np.isfinite(x).all(axis=0)
    test = LocalC2ST(theta, _features(x, padded), q, seed=inputs.seed, null_trials=k)
    y = _features(np.asarray(inputs.y[:m], dtype=float), padded)
    out = np.array([test.test(y[i], inputs.samples[i]) for i in range(m)], dtype=float).reshape(-1, 2)
    return {"lc2st": out[:, 0], "lc2st_pvalue": out[:, 1]}


def _summarize(values: dict, inputs) -> dict:
    p = values.get("lc2st_pvalue")
    p = None if p is None else np.asarray([np.nan if v is None else v for v in p], dtype=float)
    if p is None or not np.isfinite(p).any():
        return {"lc2st_rejected": None}
    p = p[np.isfinite(p)]
    return {"lc2st_rejected": float(np.mean(p <= REJECT_AT))}


register_metric(Metric(
    "lc2st", _lc2st,
    (Value("lc2st", "L-C2ST", better="lower", fmt=".4f", summary=(("lc2st_mean", "finite_mean"),),
           description="mean (d - 1/2)^2 of a classifier of joint against estimator pairs at the observation"),
     Value("lc2st_pvalue", "L-C2ST p-value", better="higher", fmt=".3f",
           description="the statistic's rank among the null classifiers' (small: the posterior is off there)")),
    needs={"model", "simulator"}, cost="classifier", count="lc2st_observations", summarize=_summarize,
    summary_titles=(("lc2st_rejected", "L-C2ST rejected"),), default=False,
    options={"lc2st_calibration": 2000, "lc2st_null": 20, "lc2st_observations": 0},
    description="local classifier two-sample test (Linhart et al. 2023): no reference posterior needed"))
