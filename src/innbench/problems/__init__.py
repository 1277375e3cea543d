"""Registered inverse problems and the API for users' own simulators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ballistics import Ballistics
from .base import ObservationError, Problem
from .epidemic import Epidemic
from .kinematics import Kinematics
from .sbi import SIR, SLCP, BernoulliGLM, GaussianLinear, GaussianMixture, LotkaVolterra, TwoMoons
from .sets import GaussianSet
from .toys import GaussianModes, Linear

__all__ = [
    "SIR",
    "SLCP",
    "Ballistics",
    "Epidemic",
    "BernoulliGLM",
    "GaussianLinear",
    "GaussianMixture",
    "GaussianModes",
    "GaussianSet",
    "Kinematics",
    "Linear",
    "LotkaVolterra",
    "ObservationError",
    "Problem",
    "SimulatorProblem",
    "TwoMoons",
    "get_problem",
    "list_problems",
    "register_problem",
]

_REGISTRY: dict[str, Callable[[], Problem]] = {
    "kinematics": Kinematics,
    "ballistics": Ballistics,
    "gaussian_modes": lambda: GaussianModes("all"),
    "gaussian_modes_some": lambda: GaussianModes("some"),
    "gaussian_modes_none": lambda: GaussianModes("none"),
    "linear": Linear,
    "two_moons": TwoMoons,
    "gaussian_linear": GaussianLinear,
    "gaussian_mixture": GaussianMixture,
    "slcp": SLCP,
    "bernoulli_glm": BernoulliGLM,
    "sir": SIR,
    "lotka_volterra": LotkaVolterra,
    "gaussian_set": GaussianSet,
    "epidemic": Epidemic,
}


class SimulatorProblem(Problem):
    """A user's problem from two functions: ``prior(n, rng) -> x`` and ``simulator(x, rng) -> y``.

    The quickest way to bring one's own simulator to innbench: wrap it, register it, and every model,
    reference method, metric and CLI command can use it by name.

    Reference posteriors for such problems come from quantile ABC (``method='abc'``), or, if the problem
    is given ``log_prior(x) -> (k,)`` and ``log_likelihood(x, y) -> (k,)`` (densities up to constants; ``x``
    ``(k, x_dim)``, ``y`` one observation), from MCMC (``method='mcmc'``), and the ``mcmc`` baseline
    model runs on it. ``log_prior`` alone is enough for neural likelihood estimation (model ``nle``),
    which learns the likelihood from the simulations. ``valid(y) -> bool array`` optionally marks observations
    the simulator can produce.

    Args:
        name: the name it is registered and stored under.
        x_names: one name per parameter; their number is ``x_dim``.
        y_names: one name per observed number; their number is ``y_dim``.
        prior: ``prior(n, rng) -> x (n, x_dim)``, ``n`` prior draws from the ``numpy.random.Generator`` ``rng``.
        simulator: ``simulator(x, rng) -> y (k, y_dim)``, vectorised over the rows of ``x (k, x_dim)``; NaN
            rows mark parameters that produce no observation (they are redrawn when simulating training data).
        stochastic: whether the simulator draws noise from ``rng`` (a deterministic one is called with
            ``rng=None`` where no generator is at hand).
        discrete: indices of integer-valued parameters.
        bounds: one ``(low, high)`` pair per parameter (``-inf``/``inf`` where unbounded); None: unbounded.
        valid: optional ``valid(y) -> bool array (m,)``, which observations the simulator can produce.
        version: part of every cache key: change it whenever the prior or the simulator changes.
        log_prior: optional log prior density of ``x (k, x_dim)``, up to a constant.
        log_likelihood: optional ``log p(y | x)`` for parameter rows ``x (k, x_dim)`` and one observation
            ``y (y_dim,)``, up to a constant (needs ``log_prior``).

    Example:
        >>> import numpy as np, innbench
        >>> sq = innbench.SimulatorProblem(
        ...     "square", x_names=["a", "b"], y_names=["s"],
        ...     prior=lambda n, rng: rng.normal(size=(n, 2)),
        ...     simulator=lambda x, rng: (x ** 2).sum(1, keepdims=True) + 0.1 * rng.normal(size=(len(x), 1)),
        ...     stochastic=True)
        >>> innbench.register_problem(sq)
        SimulatorProblem(name='square', x_dim=2, y_dim=1)
        >>> x, y = innbench.get_problem("square").simulate(3, np.random.default_rng(0))
        >>> x.shape, y.shape
        ((3, 2), (3, 1))
    """

    def __init__(self, name, *, x_names, y_names, prior, simulator, stochastic=False,
                 discrete=(), bounds=None, valid=None, version="1", log_prior=None, log_likelihood=None):
        self.name = name
        self.x_names = tuple(x_names)
        self.y_names = tuple(y_names)
        self._prior = prior
        self._simulator = simulator
        self.stochastic = stochastic
        self.discrete = tuple(discrete)
        self.bounds = None if bounds is None else tuple(tuple(b) for b in bounds)
        self._valid = valid
        self.version = version
        if log_likelihood is not None and log_prior is None:
            raise ValueError("log_prior, log_likelihood: a likelihood needs the prior density too (MCMC samples "
                             "their product); give log_prior as well, or neither")
        self._log_prior, self._log_likelihood = log_prior, log_likelihood

    @property
    def has_likelihood(self) -> bool:
        return self._log_likelihood is not None

    def log_prior(self, x):
        if self._log_prior is None:
            return super().log_prior(x)
        return self._checked(self._log_prior(np.asarray(x, dtype=float)), len(x), "log_prior")

    def log_likelihood(self, x, y):
        if self._log_likelihood is None:
            return super().log_likelihood(x, y)
        return self._checked(self._log_likelihood(np.asarray(x, dtype=float), np.asarray(y, dtype=float)), len(x),
                             "log_likelihood")

    def _checked(self, v, k, what):
        v = np.asarray(v, dtype=float).reshape(-1) if np.ndim(v) else np.full(k, float(v))
        if v.shape != (k,):
            raise ValueError(f"{what} of problem {self.name!r}: expected {k} values (one per parameter row), got "
                             f"shape {v.shape}")
        return v

    def sample_prior(self, n, rng):
        x = np.asarray(self._prior(n, rng), dtype=float)
        if x.shape != (n, self.x_dim):
            raise ValueError(f"prior of problem {self.name!r}: expected shape ({n}, {self.x_dim}), got {x.shape}")
        return x

    def forward(self, x, rng=None):
        if self.stochastic and rng is None:
            raise ValueError(f"problem {self.name!r} is stochastic: pass a numpy Generator as rng")
        y = np.asarray(self._simulator(np.asarray(x, dtype=float), rng), dtype=float)
        if y.ndim == 1 and self.y_dim == 1:
            y = y[:, None]
        if y.shape != (len(x), self.y_dim):
            raise ValueError(f"simulator of problem {self.name!r}: expected shape ({len(x)}, {self.y_dim}), "
                             f"got {y.shape}")
        return y

    def check_observations(self, y):
        if self._valid is not None:
            ok = np.asarray(self._valid(y), dtype=bool)
            if not ok.all():
                rows = np.flatnonzero(~ok)[:5].tolist()
                raise ObservationError(f"observations: rows {rows} cannot be produced by problem {self.name!r}")


def register_problem(problem: Problem | Callable[[], Problem], name: str | None = None, overwrite: bool = False):
    """Register a problem (an instance or a zero-argument factory) under its name.

    Registered problems can be named anywhere a problem is expected: :func:`get_problem`, ``api.train``,
    grid files and the CLI (through ``--imports``).

    Args:
        problem: a :class:`Problem` instance, or a callable without arguments that returns one (built anew
            at every :func:`get_problem`).
        name: the registry key; default: the problem's own ``name``.
        overwrite: replace a problem already registered under that name (otherwise a ``ValueError``).

    Returns:
        ``problem``, unchanged, so that the function also works as a class decorator.

    Example:
        >>> import innbench
        >>> from innbench.problems import Linear
        >>> innbench.register_problem(Linear, name="my_linear")
        <class 'innbench.problems.toys.problem.Linear'>
        >>> innbench.get_problem("my_linear").y_dim
        1
    """
    factory = problem if callable(problem) and not isinstance(problem, Problem) else (lambda p=problem: p)
    key = name or (problem.name if isinstance(problem, Problem) else factory().name)
    if key in _REGISTRY and not overwrite:
        raise ValueError(f"problem {key!r} is already registered (pass overwrite=True to replace it)")
    _REGISTRY[key] = factory
    return problem


def get_problem(name: str | Problem) -> Problem:
    """The registered problem ``name`` (a :class:`Problem` passes through).

    Args:
        name: a registered name (:func:`list_problems`) or a :class:`Problem` instance.

    Returns:
        The problem. A name gives a fresh instance from its factory; an unknown name raises a ``KeyError``
        that lists the registered ones.

    Example:
        >>> from innbench import get_problem
        >>> p = get_problem("kinematics")
        >>> p.x_dim, p.y_dim, p.reference_kind
        (4, 2, 'exact')
        >>> p.x_names[0]
        'x1 (rail height)'
    """
    if isinstance(name, Problem):
        return name
    if name not in _REGISTRY:
        raise KeyError(f"problem: unknown name {name!r}; registered problems are {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def list_problems() -> list[str]:
    """The names of all registered problems, sorted.

    Example:
        >>> from innbench import list_problems
        >>> "kinematics" in list_problems() and "two_moons" in list_problems()
        True
    """
    return sorted(_REGISTRY)
