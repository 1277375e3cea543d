"""The :class:`Problem` contract: a prior, a forward process, and what counts as a valid observation."""

from __future__ import annotations

import numpy as np

from ..errors import ObservationError

__all__ = ["ObservationError", "Problem"]


class Problem:
    """An inverse problem: a prior ``p(x)`` and a forward process ``y = f(x)`` (or ``f(x; noise)``).

    Subclasses set the class attributes and implement :meth:`sample_prior` and :meth:`forward`.
    Everything else in innbench (training, references, metrics, the CLI) only uses this contract.

    Attributes:
        name: registry name.
        x_names, y_names: parameter and observation names; their lengths fix ``x_dim`` and ``y_dim``.
        discrete: indices of integer-valued parameters (models dequantize them in training and
            round them when sampling).
        bounds: one ``(low, high)`` pair per parameter (``-inf``/``inf`` where unbounded); used to
            report how much posterior mass a model puts outside the support.
        log_columns: parameters with a lower bound and no upper bound (``bounds``) that models handle on a
            log scale, ``log(x - low)``: rates and scales whose prior spreads over orders of magnitude (the
            ODE tasks' log-normal rates). Others with one bound stay as they are.
        stochastic: whether :meth:`forward` draws noise from the generator it is given.
        version: bumped whenever the prior or forward process changes; part of every cache key.
        reference_version: bumped whenever the problem's own reference sampler changes what it draws (the
            problem unchanged); part of the reference cache's key.
        observation_kind: ``"vector"`` (``y_dim`` numbers, the default), ``"series"`` (a time series of
            ``observation_shape = (T, channels)``, steps in order) or ``"set"`` (exchangeable items,
            ``observation_shape = (n_max, item_dim)``). A series or set is stored flat, ``y_dim = T *
            channels`` numbers in step-major order, so every array, file and database row keeps one shape.
        min_length: the shortest series (fewest items) the problem produces, where that is less than
            ``observation_shape[0]``: shorter observations are padded at the end with NaN steps (items),
            and NaN means "absent" nowhere else. None: every observation has the full length.
        observation_classes: where an observation is a class label, the number of classes ``K``: ``y`` is
            then one-hot over ``K`` columns (the Gaussian-mixture problem). None: a continuous observation.

    Example:
        A problem of one's own as a subclass (:class:`innbench.SimulatorProblem` does the same from two
        functions):

        >>> import numpy as np
        >>> from innbench import Problem
        >>> class Sum(Problem):
        ...     name = "sum"
        ...     x_names = ("a", "b")
        ...     y_names = ("a + b",)
        ...     def sample_prior(self, n, rng):
        ...         return rng.standard_normal((n, 2))
        ...     def forward(self, x, rng=None):
        ...         return x.sum(1, keepdims=True)
        >>> p = Sum()
        >>> p
        Sum(name='sum', x_dim=2, y_dim=1)
        >>> x, y = p.simulate(5, np.random.default_rng(0))
        >>> x.shape, y.shape, bool(np.allclose(y[:, 0], x.sum(1)))
        ((5, 2), (5, 1), True)
    """

    name: str = "problem"
    x_names: tuple[str, ...] = ()
    y_names: tuple[str, ...] = ()
    discrete: tuple[int, ...] = ()
    bounds: tuple[tuple[float, float], ...] | None = None
    log_columns: tuple[int, ...] = ()
    stochastic: bool = False
    version: str = "1"
    #: bumped whenever the problem's own reference sampler (:meth:`exact_posterior`) changes what it draws while
    #: the problem stays the same; part of the reference cache's key
    reference_version: str = "1"
    observation_kind: str = "vector"
    observation_shape: tuple[int, int] | None = None
    min_length: int | None = None
    observation_classes: int | None = None

    @property
    def x_dim(self) -> int:
        """Number of parameters, ``len(x_names)``."""
        return len(self.x_names)

    @property
    def structured(self) -> bool:
        """Whether an observation is a series or a set (read by a summary network), not a plain vector."""
        return self.observation_kind != "vector"

    @property
    def variable_length(self) -> bool:
        """Whether observations come in several lengths (padded with trailing NaN steps or items)."""
        return self.structured and self.min_length is not None and self.min_length < self.observation_shape[0]

    def observation_lengths(self, y: np.ndarray) -> np.ndarray:
        """Number of steps (items) present in each flat observation row of ``y (m, y_dim)``."""
        y = np.asarray(y, dtype=float)
        if not self.structured:
            return np.full(len(y), self.y_dim)
        return np.isfinite(y.reshape(len(y), *self.observation_shape)).all(-1).sum(1)

    def pad_observations(self, series, name: str = "observations") -> np.ndarray:
        """Observations of varying length as flat rows ``(m, y_dim)``, padded at the end with NaN steps (items).

        ``series`` holds one observation per entry: a ``(length_i, channels)`` array, or its ``length_i *
        channels`` values step-major as a 1-D array (one row of a text file), ``1 <= length_i <=
        observation_shape[0]``. Any other shape (a transposed ``(channels, length_i)`` array, several
        observations stacked in one entry) is refused with an :class:`ObservationError` naming ``name`` and
        the entry, never reshaped.
        """
        length, channels = self.observation_shape
        expected = (f"expected shape (length, {channels}) with 1 <= length <= {length}, or (length * {channels},) "
                    f"(the same values step-major), for problem {self.name!r}")
        out = np.full((len(series), length, channels), np.nan)
        for i, s in enumerate(series):
            try:
                s = np.asarray(s)
                complex_values = np.iscomplexobj(s)
                s = s if complex_values else s.astype(float)
            except (TypeError, ValueError):
                raise ObservationError(f"{name}: item {i} is not an array of numbers; {expected}") from None
            if complex_values:
                raise ObservationError(f"{name}: item {i}: expected real numbers, got complex values")
            shape = s.shape
            if s.ndim == 1 and s.size % channels == 0:
                s = s.reshape(-1, channels)  # the documented flat layout, step-major: nothing reinterpreted
            if s.ndim != 2 or s.shape[1] != channels or not 1 <= len(s) <= length:
                raise ObservationError(f"{name}: item {i} has shape {shape}; {expected}")
            out[i, : len(s)] = s
        return out.reshape(len(series), -1)

    def invalid_rows(self, y: np.ndarray) -> np.ndarray:
        """Which rows of ``y (m, y_dim)`` are no observation: a non-finite entry (a vector), or for a series or
        set a step that is neither complete nor trailing all-NaN padding, or fewer steps than ``min_length``."""
        y = np.asarray(y, dtype=float)
        if not self.structured:
            return ~np.isfinite(y).all(axis=1)
        steps = y.reshape(len(y), *self.observation_shape)
        present, padded = np.isfinite(steps).all(-1), np.isnan(steps).all(-1)
        n = present.sum(1)
        prefix = present == (np.arange(steps.shape[1]) < n[:, None])
        shortest = self.min_length if self.min_length is not None else self.observation_shape[0]
        return ~(present | padded).all(1) | ~prefix.all(1) | (n < max(shortest, 1))

    def resimulate(self, x: np.ndarray, y: np.ndarray | None, rng: np.random.Generator | None = None) -> np.ndarray:
        """Observations of ``x (k, x_dim)`` made like ``y (k, y_dim)`` (for Err_resim): the forward process,
        and for observations of varying length each row cut to the length of its ``y`` (``y`` is read only
        then; None otherwise)."""
        out = self.forward(x, rng)
        if self.variable_length:
            steps = out.reshape(len(out), *self.observation_shape).copy()
            n = self.observation_lengths(y)
            steps[np.arange(steps.shape[1]) >= n[:, None]] = np.nan
            out = steps.reshape(len(out), -1)
        return out

    def resimulation_sq_distance(self, yhat: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Squared distance ``(m, n)`` between re-simulations ``yhat (m, n, y_dim)`` and observations ``y (m,
        y_dim)`` for Err_resim: Euclidean over the entries ``y`` has (all but a shorter series' padding); NaN
        where a re-simulation misses one of them (invalid)."""
        present = np.isfinite(y)[:, None, :]
        diff = np.where(present, yhat - y[:, None, :], 0.0)
        return np.where((present & ~np.isfinite(yhat)).any(-1), np.nan, (diff**2).sum(-1))

    @property
    def y_dim(self) -> int:
        """Number of observed values, ``len(y_names)`` (a series or set: all its steps' values, flat)."""
        return len(self.y_names)

    def support_bounds(self) -> np.ndarray:
        """Bounds as an array of shape ``(x_dim, 2)``."""
        if self.bounds is None:
            return np.tile(np.array([-np.inf, np.inf]), (self.x_dim, 1))
        return np.asarray(self.bounds, dtype=float)

    # -- the part a problem implements -------------------------------------------------------
    def sample_prior(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Draw ``n`` parameter vectors from the prior, shape ``(n, x_dim)``."""
        raise NotImplementedError

    def forward(self, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Vectorised forward process, ``(n, x_dim) -> (n, y_dim)``.

        Rows whose parameters produce no observation (a projectile that never lands) are NaN:
        the explicit invalid marker. Stochastic problems draw their noise from ``rng``.
        """
        raise NotImplementedError

    def forward_torch(self, x):
        """Differentiable forward process on torch tensors, where the problem provides one."""
        raise NotImplementedError(f"problem {self.name!r} has no torch forward process")

    #: number of extra conditioning features :meth:`condition_features` appends (0: none)
    n_condition_features: int = 0

    def condition_features(self, y):
        """Extra summary features of ``y`` (torch tensor ``(m, y_dim)`` -> ``(m, k)``) for conditional models.

        A place for domain knowledge that a network finds hard to learn from raw ``y``; the default adds
        none. Conditional models (cINN) append these to the standardised observation they condition on.
        """
        return y[:, :0]

    def transform_observations(self, y):
        """A bijective, elementwise re-coordinatisation of ``y`` (torch tensor) for models that predict ``y``.

        The INN (Eq. 4) outputs ``y``; where the posterior depends very non-linearly on one coordinate
        (kinematics near the edge of the reach) a stretched coordinate is easier to learn. For a series or set
        it is also what conditional models (and their summary networks) read, e.g. ``log(1 + counts)``; it
        must map NaN padding to NaN. Default: identity.
        """
        return y

    def check_observations(self, y: np.ndarray) -> None:
        """Raise :class:`ObservationError` for observations the forward process cannot produce.

        ``y`` already has shape ``(m, y_dim)`` and finite values (a series or set: NaN only as padding).
        """

    def exact_posterior(self, y: np.ndarray, n: int, rng: np.random.Generator, **kwargs):
        """Exact posterior draws for each row of ``y``: ``(samples (m, n, x_dim), info dict)``.

        Problems without an exact sampler leave this unimplemented; quantile ABC serves them.
        """
        raise NotImplementedError(f"problem {self.name!r} has no exact posterior sampler; use method='abc'")

    def likelihood_mcmc(self, y: np.ndarray, n: int, rng: np.random.Generator, **options):
        """Posterior draws for each row of ``y`` by MCMC on this problem's prior density and exact likelihood:
        ``(samples (m, n, x_dim), info dict)`` with ``rhat``, ``ess``, ``steps`` and ``seconds`` per observation.

        What the ``mcmc`` baseline model runs per query. The default is
        :func:`innbench.reference.mcmc.mcmc_posterior` (one ensemble per observation, on ``x`` itself) with
        ``options`` passed on (``walkers``, ``burn``, ``pilot``, ``init_draws``, ``rhat_max``); a problem whose
        posterior is better sampled another way (other coordinates, a likelihood vectorised over
        observations) overrides it, so that the baseline runs the sampler its reference posteriors trust.

        Example:
            Seconds per observation, so not run here:

            ```python
            import numpy as np
            from innbench import get_problem

            x, info = get_problem("two_moons").likelihood_mcmc([[0.0, 0.1]], 1000, np.random.default_rng(0))
            ```
        """
        from ..reference.mcmc import mcmc_posterior

        return mcmc_posterior(self, y, n, rng, **options)

    @property
    def has_exact_posterior(self) -> bool:
        """Whether the problem implements :meth:`exact_posterior` (its own reference sampler)."""
        return type(self).exact_posterior is not Problem.exact_posterior

    #: how :meth:`exact_posterior` draws, in words for tables and figures ("exact"; "MCMC" where it runs MCMC)
    reference_label: str = "exact"

    @property
    def reference_kind(self) -> str:
        """What the default reference is: this problem's :attr:`reference_label`, "MCMC" (a likelihood but no
        sampler) or "ABC"."""
        if self.has_exact_posterior:
            return self.reference_label
        return "MCMC" if self.has_likelihood else "ABC"

    # -- optional: a tractable likelihood (for MCMC references and the likelihood-based baseline) ----------
    #: linear involutions ``A`` (``x_dim x x_dim`` matrices, commuting with each other) that leave the prior
    #: and the likelihood unchanged, ``p(A x) = p(x)`` and ``p(y | A x) = p(y | x)``: the posterior's exact
    #: symmetries (SLCP's signs of theta3 and theta4). MCMC applies each with probability 1/2 to its draws,
    #: which puts exactly equal mass on mirrored modes that chains rarely cross between.
    symmetries: tuple = ()

    def log_prior(self, x: np.ndarray) -> np.ndarray:
        """Log prior density of ``x (k, x_dim)`` up to an additive constant, ``-inf`` outside the support."""
        raise NotImplementedError(f"problem {self.name!r} has no prior density")

    def log_likelihood(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``log p(y | x)`` for parameter rows ``x (k, x_dim)`` and one observation ``y (y_dim,)``, shape
        ``(k,)``, up to an additive constant that may depend on ``y`` but not on ``x``."""
        raise NotImplementedError(f"problem {self.name!r} has no tractable likelihood")

    @property
    def has_likelihood(self) -> bool:
        """Whether :meth:`log_prior` and :meth:`log_likelihood` are implemented (MCMC can run)."""
        return all(getattr(type(self), m) is not getattr(Problem, m) for m in ("log_prior", "log_likelihood"))

    def fixed_observations(self):
        """Published fixed observations ``(x_true (k, x_dim), y (k, y_dim))`` that numbers in the literature
        use (sbibm's ten per task), or None. The ``sbi`` grid scores on these instead of the test draws."""
        return None

    # -- shared helpers -----------------------------------------------------------------------
    def simulate(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Simulated training pairs: ``n`` prior draws and their observations (all valid).

        Prior draws whose forward process gives no observation (NaN) are redrawn, never dropped, so exactly
        ``n`` pairs come back; a simulator that fails for (almost) every draw raises a ``ValueError``.

        Args:
            n: number of pairs.
            rng: the ``numpy.random.Generator`` every draw comes from (same seed, same pairs).

        Returns:
            ``(x (n, x_dim), y (n, y_dim))``.

        Example:
            >>> import numpy as np
            >>> from innbench import get_problem
            >>> x, y = get_problem("ballistics").simulate(4, np.random.default_rng(0))
            >>> x.shape, y.shape, bool(np.isfinite(y).all())
            ((4, 4), (4, 1), True)
        """
        x = self.sample_prior(n, rng)
        y = self.forward(x, rng)
        bad = np.flatnonzero(self.invalid_rows(y))
        if len(bad) and n >= 100 and len(bad) > 0.99 * n:
            raise ValueError(f"simulator of problem {self.name!r}: {len(bad)} of {n} prior draws gave no valid "
                             "observation (NaN or infinite); check the simulator and the prior")
        for _ in range(1000):  # prior draws that produce no observation are redrawn, never dropped silently
            if not len(bad):
                return x, y
            x2 = self.sample_prior(len(bad), rng)
            x[bad], y[bad] = x2, self.forward(x2, rng)
            bad = bad[self.invalid_rows(y[bad])]
        raise ValueError(f"simulator of problem {self.name!r}: {len(bad)} prior draws still gave no valid observation "
                         "after 1000 redraws; check the simulator and the prior")

    def validate_observations(self, y, name: str = "observations") -> np.ndarray:
        """Return ``y`` as a float array of shape ``(m, y_dim)`` or raise a clear error.

        A series or set may also come as ``(m, length, channels)``, as one ``(length, channels)``
        observation, or (of varying length) as a list of ``(length_i, channels)`` arrays: each is padded
        to the flat row the models read.

        Args:
            y: one observation ``(y_dim,)``, several ``(m, y_dim)``, or a series / set layout as above.
            name: what the error messages call ``y``.

        Returns:
            ``y`` as float rows ``(m, y_dim)``.

        Raises:
            ObservationError: a wrong shape, non-finite values, or an observation the forward process cannot
                produce (:meth:`check_observations`).

        Example:
            >>> from innbench import get_problem
            >>> get_problem("kinematics").validate_observations([1.5, 0.0])
            array([[1.5, 0. ]])
        """
        if self.structured:
            y = self._flatten_structured(y, name)
        try:
            complex_values = np.iscomplexobj(y)
            arr = None if complex_values else np.asarray(y, dtype=float)
        except (TypeError, ValueError) as exc:  # not numbers, or rows of unequal lengths
            raise ObservationError(f"{name}: expected numbers, got {type(y).__name__} ({exc}); {self._layouts()}") \
                from None
        if complex_values:
            raise ObservationError(f"{name}: expected real numbers, got complex values")
        if arr.ndim == 1 and self.y_dim == 1 and arr.size > 0:
            arr = arr[:, None]
        elif arr.ndim == 1 and arr.size == self.y_dim:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.y_dim or arr.shape[0] == 0:  # never reshaped to fit
            raise ObservationError(f"{name}: {self._layouts()}{';' if self.structured else ','} got shape {arr.shape}")
        bad = self.invalid_rows(arr)
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            if not self.structured:
                raise ObservationError(f"{name}: NaN or infinite values in rows {rows} (of {len(arr)})")
            length = self.observation_shape[0]
            shortest = self.min_length if self.min_length is not None else length
            steps = f"{length}" if shortest == length else f"{shortest}-{length}"
            kinds = plural(self.observation_kind)
            raise ObservationError(
                f"{name}: rows {rows} (of {len(arr)}) are not {kinds} of problem {self.name!r}: "
                f"expected {steps} complete {self._unit} of {self.observation_shape[1]} finite values"
                + (", then NaN padding only" if self.variable_length else "") + " (infinite, NaN or missing values)")
        try:
            self.check_observations(arr)
        except ObservationError as exc:  # refuse_rows says "observations:"; the caller's name is the argument
            text = str(exc)
            if name != "observations" and text.startswith("observations: "):
                raise ObservationError(f"{name}: {text[len('observations: '):]}") from None
            raise
        return arr

    def _layouts(self) -> str:
        """The shapes :meth:`validate_observations` takes, for messages."""
        if not self.structured:
            return f"expected shape (m, {self.y_dim}) for problem {self.name!r} (observation {', '.join(self.y_names)})"
        length, channels = self.observation_shape
        return (f"expected {plural(self.observation_kind)} of up to {length} {self._unit} of {channels} values for "
                f"problem {self.name!r}: shape (m, length, {channels}), (length, {channels}), a list of such arrays, "
                f"or flat rows (m, {self.y_dim})")

    @property
    def _unit(self) -> str:
        """What a series has steps of and a set items of, for messages."""
        return "items" if self.observation_kind == "set" else "steps"

    def _flatten_structured(self, y, name):
        """A series or set observation in any of the accepted layouts as flat rows (not yet checked)."""
        length, channels = self.observation_shape
        if isinstance(y, (list, tuple)) and len(y):
            # a list of observations (an entry of two or more dimensions: no item of one set or step of one
            # series), of several shapes or (length_i, channels) shorter than the longest: each entry padded,
            # and one in another layout (transposed, stacked, not numbers) named by its index
            shapes = {_shape_or_none(s) for s in y}
            nested = None in shapes or any(len(s) >= 2 for s in shapes)
            if nested and (len(shapes) > 1 or None in shapes or next(iter(shapes))[0] != length):
                return self.pad_observations(y, name)
        try:
            arr = np.asarray(y)
        except ValueError:  # ragged in another way: the checks below name what is wrong
            return y
        if arr.dtype == object:
            return y
        if arr.ndim == 3 and arr.shape[2] == channels and 1 <= arr.shape[1] <= length:
            if arr.shape[1] < length:
                arr = np.concatenate([arr, np.full((len(arr), length - arr.shape[1], channels), np.nan)], 1)
            return arr.reshape(len(arr), -1)
        if arr.ndim == 2 and arr.shape[1] == channels and arr.shape[1] != self.y_dim and arr.shape[0] <= length:
            return self.pad_observations([arr], name)
        return arr

    def in_support(self, x: np.ndarray) -> np.ndarray:
        """Boolean mask over the last axis: which parameter vectors lie inside the prior's support."""
        b = self.support_bounds()
        ok = ((x >= b[:, 0]) & (x <= b[:, 1])).all(axis=-1)
        for i in self.discrete:
            ok &= np.abs(x[..., i] - np.round(x[..., i])) < 1e-6
        return ok

    def showcase_observations(self) -> np.ndarray:
        """The observations ``(k, y_dim)`` whose posteriors the report draws (named ``y0``, ``y1``, ...):
        by default the first test observation; the paper's problems give their figures' targets."""
        from ..reference import test_observations

        return test_observations(self, 1)[1]

    def posterior_figure(self, panels, observations=None):
        """The report's posterior figure for this problem: ``(matplotlib Figure, caption)`` or None.

        ``panels`` is ``[(title, {name: (y, samples (n, x_dim))}), ...]``, the reference first, then one
        entry per model, keyed by the showcase observations' names (``y0``, ``y1``, ...). The default
        draws corner plots (:func:`innbench.figures.pair_plot_figure`) for the first observation; a
        problem with a picture of its own (the arm, the throws) overrides this.
        """
        from ..figures import pair_plot_figure

        first, y_star = first_showcase(panels)
        if y_star is None:
            return None
        caption = (f"Posteriors for y* = {y_star.tolist()}: marginals and pairs of each model's samples (colour) "
                   "over the reference (grey).")
        return pair_plot_figure(first, y_star, self.x_names), caption

    def draw_prior(self, fig, spec, samples: np.ndarray, color) -> None:
        """Draw prior ``samples (n, x_dim)`` into subplot spec ``spec`` of ``fig`` for the report's Figure 1.

        The default is a scatter of the first two parameters (:func:`innbench.figures.draw_prior_scatter`);
        a problem with a picture of its own overrides this.
        """
        from ..figures import draw_prior_scatter

        draw_prior_scatter(fig, spec, samples, color, self.name)

    #: how the explorer's page draws this problem's posteriors: ``pairs`` (pair plots of the samples; any problem)
    #: or a picture the page knows (``kinematics``: arms; ``ballistics``: throws), whose data
    #: :meth:`view_drawing` gives
    view_kind = "pairs"

    def view_drawing(self, x: np.ndarray, y_star: np.ndarray) -> dict:
        """What the explorer's page draws for samples ``x (n, x_dim)`` of observation ``y_star (y_dim,)``: a dict
        of polylines, contours and ranges in the problem's units, with ``kind`` equal to :attr:`view_kind`. The
        default is :func:`innbench.drawing.pairs_drawing` (the plotted dimensions and their ranges)."""
        from ..drawing import pairs_drawing

        return pairs_drawing(self, x)

    def view_info(self) -> dict:
        """What the explorer's page needs of this problem beyond each drawing (a canvas, a slider's range); none by
        default."""
        return {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, x_dim={self.x_dim}, y_dim={self.y_dim})"


def _shape_or_none(a):
    """``np.shape(a)``, or None where ``a`` is ragged inside (nested lists of unequal lengths)."""
    try:
        return np.shape(a)
    except ValueError:
        return None


def bundled_observations(name: str, package: str) -> tuple[np.ndarray, np.ndarray]:
    """The fixed observations bundled for problem ``name`` in its folder, ``package`` (``<package>/data/<name>_
    observations.json``, written by ``scripts/make_fixed_observations.py``): ``(x_true (k, x_dim), y (k, y_dim))``,
    padding (null) as NaN."""
    import json
    from importlib import resources

    data = json.loads(resources.files(package).joinpath(f"data/{name}_observations.json").read_text())
    y = [[np.nan if v is None else v for v in row] for row in data["observations"]]
    return np.asarray(data["true_parameters"], dtype=float), np.asarray(y, dtype=float)


def short_values(a, k: int = 8) -> str:
    """The first ``k`` values of an array for a message (and how many there are), not a whole series."""
    flat = np.asarray(a, dtype=float).ravel()
    return np.array2string(flat[:k], precision=4) + (f" ... ({flat.size} values)" if flat.size > k else "")


def plural(kind: str) -> str:
    """``series`` -> ``series``, ``set`` -> ``sets``, ``vector`` -> ``vectors``: for messages."""
    return kind if kind.endswith("s") else kind + "s"


def refuse_rows(mask: np.ndarray, y: np.ndarray, requirement: str, column: int | None = None) -> None:
    """Raise an :class:`ObservationError` naming the rows of ``y`` where ``mask`` is true: they fail
    ``requirement`` (e.g. "horizontal coordinate must lie in [-2, 2] (the arm's reach)")."""
    if not mask.any():
        return
    bad = np.flatnonzero(mask)
    rows = bad[:5].tolist()
    example = y[rows[0]] if column is None else y[rows[0], column]
    shown = f"{example:.4g}" if np.ndim(example) == 0 else short_values(example)
    if len(y) == 1:  # in words a person reads: which observation, what it must be, what it was
        which, got = "this observation is", f"got {shown}"
    elif len(bad) == 1:
        which, got = f"observation {rows[0]} (counting from 0) is", f"got {shown}"
    else:
        listed = ", ".join(map(str, rows)) + (", ..." if len(bad) > 5 else "")
        which, got = f"{len(bad)} of the {len(y)} observations (rows {listed}) are", f"row {rows[0]}: {shown}"
    raise ObservationError(f"observations: {which} out of reach: {requirement} ({got})")


def first_showcase(panels):
    """``([(title, samples)], y*)`` for the first showcase observation ``y0`` of posterior-figure panels
    (the reference first); ``([], None)`` when the reference has none."""
    if not panels or "y0" not in panels[0][1]:
        return [], None
    return ([(title, d["y0"][1]) for title, d in panels if "y0" in d],
            np.asarray(panels[0][1]["y0"][0], dtype=float))


def importance_resample(samples: np.ndarray, logw: np.ndarray, n: int, rng: np.random.Generator):
    """Systematic resampling of ``n`` draws from weighted samples; returns (draws, ESS)."""
    w = np.exp(logw - logw.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w**2)
    positions = (rng.random() + np.arange(n)) / n
    idx = np.searchsorted(np.cumsum(w), positions, side="right")
    idx = np.minimum(idx, len(w) - 1)
    return samples[rng.permutation(idx)], float(ess)
