"""The contract kit: checks every model and problem must pass (in the manner of scikit-learn's estimator checks).

The test suite runs :func:`check_model` over every registered model and :func:`check_problem` over every
registered problem, so a new model or problem is tested as soon as it is registered. Plugin authors run
the same checks on theirs::

    from innbench.checks import check_model, check_problem
    check_problem(MyProblem())
    check_model(MyModel, problem=MyProblem())

Each function returns the names of the checks that ran and raises :class:`ContractError` (an
``AssertionError``) naming the first check that failed and why.
"""

from __future__ import annotations

import tempfile
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from .models.base import Model, ModelFacts
from .models.registry import load_model
from .problems import ObservationError, Problem, get_problem

__all__ = ["ContractError", "check_model", "check_problem"]


class ContractError(AssertionError):
    """A model or problem breaks the contract; the message names the check.

    Example:
        >>> import itertools, numpy as np
        >>> from innbench import SimulatorProblem
        >>> from innbench.checks import ContractError, check_problem
        >>> calls = itertools.count()
        >>> noisy = SimulatorProblem("unseeded", x_names=["a"], y_names=["b"],
        ...                          prior=lambda n, rng: np.full((n, 1), float(next(calls))),  # ignores rng
        ...                          simulator=lambda x, rng: x)
        >>> try:
        ...     check_problem(noisy)
        ... except ContractError as err:
        ...     print(err)
        check_problem('unseeded'): simulate: not deterministic for a seed
    """


def _require(ok, who: str, check: str, why: str) -> None:
    if not ok:
        raise ContractError(f"{who}: {check}: {why}")


def check_problem(problem: Problem | str, n: int = 500, reference: bool = True,
                  reference_options: dict | None = None) -> list[str]:
    """Check a problem: dimensions, seeded simulation, support, observation validation, the torch forward
    process where there is one, and (with ``reference``) a small exact reference posterior where claimed.

    Args:
        problem: a :class:`innbench.problems.Problem` or a registered name.
        n: prior draws to simulate for the checks.
        reference: also draw a small exact reference posterior (where the problem has a sampler; MCMC
            references take seconds).
        reference_options: keyword options of the problem's reference sampler, e.g. a shorter MCMC
            (``{"burn": 100, "pilot": 100, "rhat_max": None}``) for a quick check.

    Returns:
        The names of the checks that ran.

    Raises:
        ContractError: naming the first check that failed and why.

    Example:
        >>> from innbench.checks import check_problem
        >>> check_problem("linear")
        ['dimensions', 'simulate', 'support', 'validate_observations', 'forward_torch', 'exact_posterior']
        >>> check_problem("epidemic", reference=False)
        ['dimensions', 'simulate', 'support', 'validate_observations']
    """
    p = get_problem(problem)
    who = f"check_problem({getattr(p, 'name', p)!r})"
    done = []
    _require(isinstance(p.name, str) and p.name, who, "name", f"expected a non-empty string, got {p.name!r}")
    _require(isinstance(p.version, str), who, "version", f"expected a string, got {p.version!r}")
    for attr in ("x_dim", "y_dim"):
        v = getattr(p, attr)
        _require(isinstance(v, (int, np.integer)) and v > 0, who, attr, f"expected a positive integer, got {v!r}")
    _require(all(0 <= i < p.x_dim for i in p.discrete), who, "discrete",
             f"expected parameter indices in 0..{p.x_dim - 1}, got {p.discrete!r}")
    done.append("dimensions")

    x, y = p.simulate(n, np.random.default_rng(0))
    _require(np.shape(x) == (n, p.x_dim) and np.shape(y) == (n, p.y_dim), who, "simulate",
             f"expected shapes ({n}, {p.x_dim}) and ({n}, {p.y_dim}), got {np.shape(x)} and {np.shape(y)}")
    _require(np.isfinite(x).all() and not p.invalid_rows(y).any(), who, "simulate",
             "non-finite parameters or observations (NaN only as padding of shorter series or sets)")
    x2, y2 = p.simulate(n, np.random.default_rng(0))
    _require(np.array_equal(x, x2) and np.array_equal(y, y2, equal_nan=True), who, "simulate",
             "not deterministic for a seed")
    done.append("simulate")

    b = np.asarray(p.support_bounds(), dtype=float)
    _require(b.shape == (p.x_dim, 2) and (b[:, 0] <= b[:, 1]).all(), who, "support_bounds",
             f"expected ({p.x_dim}, 2) rows of (low, high), got {b.shape}")
    _require(np.asarray(p.in_support(x)).all(), who, "in_support", "prior draws reported outside the support")
    done.append("support")

    _require(np.array_equal(p.validate_observations(y[:3]), y[:3], equal_nan=True), who, "validate_observations",
             "simulated observations were changed or refused")
    for bad, what in ((np.full((1, p.y_dim), np.nan), "NaN"), (np.zeros((1, p.y_dim + 1)), "a wrong width")):
        try:
            p.validate_observations(bad)
        except ObservationError:
            continue
        raise ContractError(f"{who}: validate_observations: accepted an observation with {what}")
    done.append("validate_observations")

    xs = x[:64]
    det = np.allclose(p.forward(xs, np.random.default_rng(1)), p.forward(xs, np.random.default_rng(2)))
    if det:
        try:
            yt = p.forward_torch(torch.as_tensor(xs, dtype=torch.float64))
        except NotImplementedError:
            yt = None
        if yt is not None:
            _require(np.allclose(yt.detach().numpy(), p.forward(xs), atol=1e-5), who, "forward_torch",
                     "differs from forward")
            done.append("forward_torch")

    if reference and p.has_exact_posterior:
        from .reference import reference_posterior

        ref, _ = reference_posterior(p, y[:2], 200, method="exact", cache=False, **(reference_options or {}))
        _require(np.shape(ref) == (2, 200, p.x_dim) and np.isfinite(ref).all(), who, "exact_posterior",
                 f"expected finite samples of shape (2, 200, {p.x_dim}), got {np.shape(ref)}")
        _require(np.asarray(p.in_support(ref.reshape(-1, p.x_dim))).all(), who, "exact_posterior",
                 "reference samples outside the prior's support")
        done.append("exact_posterior")
    return done


def _fixed_batch_loss(m: Model, n: int = 1024, seed: int = 0) -> float:
    """Loss on one fixed standardised batch with a fixed torch seed (MMD and noise terms are random); for
    models with a supervised fit term, that term (a short run's MMD is too noisy to compare)."""
    x, y = m.problem.simulate(n, np.random.default_rng(seed))
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        xs = m.standardize_x(m.dequantize(torch.as_tensor(x, dtype=torch.float32)))
        loss, parts = m.training_loss(xs, m.condition(torch.as_tensor(y, dtype=torch.float32)))
    return float(parts["fit"]) if "fit" in parts else float(loss)


def check_model(model: type[Model] | str, problem: Problem | str = "kinematics", width: int = 32,
                n_batches: int = 150, options: dict | None = None) -> list[str]:
    """Check a model class (or registered name) on ``problem``: its declared facts and options, seeded
    construction, a short training run that lowers the loss, seeded sampling of the right shape, the
    save/load round trip, the density where the facts claim one, and refusal of bad observations.

    The network is built small (``width`` for the model's width option, plus ``options``) and trained
    for ``n_batches`` batches of 256 on 5,000 pairs, so the whole check takes seconds.

    Args:
        model: a :class:`innbench.models.Model` subclass or a registered model name.
        problem: the problem to check it on (a :class:`innbench.problems.Problem` or a registered name).
        width: the value of the model's width option.
        n_batches: training batches of the short run whose loss must go down.
        options: further model options (e.g. ``{"blocks": 2}``).

    Returns:
        The names of the checks that ran.

    Raises:
        ContractError: naming the first check that failed and why.

    Example:
        It trains a small network, so it takes seconds and is not run here (the test suite runs it over every
        registered model):

        ```python
        from innbench.checks import check_model
        check_model("cinn", "linear")
        # ['declarations', 'construction', 'training', 'parts', 'sample', 'save/load', 'density',
        #  'bad observations']
        check_model(MyModel, problem=MyProblem(), options={"blocks": 2})
        ```
    """
    from .models import get_model_class
    from .training import fit, get_budget

    cls = get_model_class(model) if isinstance(model, str) else model
    p = get_problem(problem)
    who = f"check_model({getattr(cls, 'name', cls)!r} on {p.name!r})"
    done = []
    _require(isinstance(cls.name, str) and cls.name, who, "name", f"expected a non-empty string, got {cls.name!r}")
    _require(isinstance(cls.title, str) and cls.title, who, "title", f"expected a non-empty string, got {cls.title!r}")
    _require(isinstance(cls.facts, ModelFacts), who, "facts", f"expected a ModelFacts, got {type(cls.facts).__name__}")
    _require(all(isinstance(getattr(cls.facts, f.name), bool) for f in fields(ModelFacts) if f.name != "equation"),
             who, "facts", "every fact but the equation must be a bool")
    for cap in ("conditional", "trainable", "amortized", "requires_likelihood", "requires_prior_density"):
        _require(isinstance(getattr(cls, cap), bool), who, cap,
                 f"expected a bool class attribute, got {getattr(cls, cap)!r}")
    _require(isinstance(cls.defaults, dict) and "seed" in cls.defaults, who, "defaults",
             "expected a dict with a 'seed'")
    _require(cls.width_option is None or cls.width_option in cls.defaults, who, "width_option",
             f"{cls.width_option!r} is not one of the options")
    from .models.settings import ModelSettings

    _require(isinstance(cls.Settings, type) and issubclass(cls.Settings, ModelSettings)
             and cls.Settings.__dataclass_params__.frozen, who, "settings",
             "Settings must be a frozen dataclass on innbench.models.settings.ModelSettings")
    _require(cls.defaults == cls.Settings.defaults(), who, "settings", "defaults differ from the Settings' fields")
    _require(cls.sample_query is not Model.sample_query or cls.sample_standardized is not Model.sample_standardized,
             who, "sampler", "implement sample_standardized (an amortized network) or sample_query (per query)")
    done.append("declarations")

    opts = {**({cls.width_option: width} if cls.width_option else {}), **(options or {})}
    try:
        cls(p, no_such_option_xyz=1, **opts)
    except ValueError:
        pass
    else:
        raise ContractError(f"{who}: options: an unknown option was accepted")
    m, twin = cls(p, seed=0, **opts), cls(p, seed=0, **opts)
    sa, sb = m.state_dict(), twin.state_dict()
    _require(all(torch.equal(sa[k], sb[k]) for k in sa), who, "construction", "weights differ for the same seed")
    _require(isinstance(m.dim_z(), (int, np.integer)) and m.dim_z() >= 0, who, "dim_z",
             f"expected an integer >= 0, got {m.dim_z()!r}")
    done.append("construction")

    budget = get_budget("tiny", n_train=5000, n_batches=n_batches)
    x, y = p.simulate(budget.n_train, np.random.default_rng(0))
    if cls.trainable:
        _require(m.n_parameters() > 0, who, "trainable", "declares trainable=True but has no parameters")
        m.set_normalization(x, y)
        before = _fixed_batch_loss(m)
        info = fit(m, budget, seed=0, data=(x, y), progress=False)
        after = _fixed_batch_loss(m)
        _require(np.isfinite(after) and after < before - 0.02 * abs(before), who, "training",
                 f"the loss did not go down in {n_batches} batches ({before:.4g} -> {after:.4g})")
        _require(info.get("loss_history"), who, "training", "no loss history in the training summary")
    else:
        fit(m, budget, seed=0, data=(x, y), progress=False)
    done.append("training")

    # the parts around the network (models/parts.py): x standardised to mean 0 and sd 1 on the training set,
    # the standardisation inverted exactly, the condition as wide as its standardisation
    xs = m.standardize_x(torch.as_tensor(x[:2000], dtype=torch.float32))
    spread = xs.std(0)
    _require(bool((xs.mean(0).abs() < 0.2).all() and ((spread - 1).abs() < 0.2).all()), who, "parts",
             f"the training set's standardised x has mean {xs.mean(0).tolist()} and sd {spread.tolist()}, "
             "expected about 0 and 1 (set_normalization)")
    back = m.unstandardize_x(xs).double().numpy()
    _require(np.allclose(back, x[:2000], rtol=1e-3, atol=1e-4 * float(np.abs(x[:2000]).max())), who, "parts",
             "unstandardize_x does not invert standardize_x")
    _require(m.c_scale.mean.numel() == m.features.dim, who, "parts", "the condition's standardisation and its "
             "features differ in width")
    done.append("parts")

    _, y_obs = p.simulate(3, np.random.default_rng(1))
    s = m.sample(y_obs, 40, seed=3)
    _require(np.shape(s) == (3, 40, p.x_dim), who, "sample", f"expected shape (3, 40, {p.x_dim}), got {np.shape(s)}")
    _require(np.isfinite(s).all(), who, "sample", "non-finite samples")
    _require(np.array_equal(s, m.sample(y_obs, 40, seed=3)), who, "sample", "not deterministic for a seed")
    _require(not np.array_equal(s, m.sample(y_obs, 40, seed=4)), who, "sample", "the same samples for another seed")
    if m.bounded:  # samples inside the bounds the logit transform keeps them in
        flat = torch.as_tensor(s.reshape(-1, p.x_dim))
        u = m.bounded.unit(flat)
        _require(bool(((u >= 0) & (u <= 1)).all()), who, "sample", "samples outside a bounded parameter's interval")
        _require(bool((flat[:, m.bounded.log_columns] >= m.bounded.log_lo.to(flat)).all()), who, "sample",
                 "samples below a log-scaled parameter's lower bound")
    done.append("sample")

    with tempfile.TemporaryDirectory() as tmp:
        m.save(Path(tmp) / "m")
        again = load_model(Path(tmp) / "m")
        _require(type(again) is type(m) and again.config == m.config, who, "save/load", "type or config changed")
        _require(np.allclose(again.sample(y_obs, 40, seed=3), s, atol=1e-5), who, "save/load",
                 "samples differ after loading")
    done.append("save/load")

    if cls.facts.density:
        _require(m.has_density, who, "density", "facts claim a density but there is no log_prob_standardized")
        lp = m.log_prob(s[0], y_obs[:1])
        _require(np.shape(lp) == (40,) and np.isfinite(lp).all(), who, "density",
                 "log_prob of the model's own samples is not finite, or has the wrong shape")
        done.append("density")
    else:
        _require(not m.has_density, who, "density", "has log_prob_standardized but facts say no density")

    try:
        m.sample(np.full((1, p.y_dim), np.nan), 5)
    except ValueError:
        done.append("bad observations")
    else:
        raise ContractError(f"{who}: bad observations: a NaN observation was accepted")
    return done
